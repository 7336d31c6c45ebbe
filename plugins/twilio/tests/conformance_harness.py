"""Twilio's test kit behind the conformance kit's protocols (patter_core.simulation).

`TwilioCallSimulator` and `FakeTwilioApi` already speak Twilio; this adds what the kit asks
for beyond a demo: the network's end of the wire, forged signatures, and the fake API as a
`CarrierNetwork`.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
from patter_twilio.signatures import Params, compute_signature
from patter_twilio.testing import CallPlan, FakeTwilioApi, TwilioCallSimulator, new_sid, script
from patter_twilio.testing.recording import CallRecording

from patter_core import simulation
from patter_core.simulation import Auth, CallerReport, CallerStep, NetworkCall, SentFrame
from patter_core.specs import PCMU_8K, AudioFormat

VOICE, STATUS = "/twilio/voice", "/twilio/status"
OURS = "+15555550100"


def twilio_script(steps: Sequence[CallerStep]) -> list[script.ScriptItem]:
    """The kit's vendor-neutral caller steps as Twilio simulator script items."""
    items: list[script.ScriptItem] = []
    for step in steps:
        if isinstance(step, simulation.Speech):
            items.append(script.Speech(ms=step.ms))
        elif isinstance(step, simulation.Silence):
            items.append(script.Silence(ms=step.ms))
        elif isinstance(step, simulation.Dtmf):
            items.append(script.Dtmf(step.digit))
        elif isinstance(step, simulation.WaitForAgent):
            items.append(script.WaitForAgent(timeout_ms=step.timeout_ms))
        else:
            items.append(script.Hangup())
    return items


def report_of(recording: CallRecording) -> CallerReport:
    """A Twilio `CallRecording` as the kit's `CallerReport`."""
    return CallerReport(
        heard_ms=recording.heard_ms,
        clears=len(recording.clears),
        ended_by=recording.ended_by,
        call_id=recording.call_sid,
        webhook_status=recording.webhook_status,
        stream_url=recording.stream_url,
        marks_echoed=sum(1 for m in recording.marks if not m.flushed),
        received_audio_ms=recording.received_audio_ms,
        protocol_errors=recording.protocol_errors,
    )


class ForgingSimulator(TwilioCallSimulator):
    """A simulator that can sign the webhook or the media upgrade with the wrong token."""

    forge: frozenset[str] = frozenset()

    def sign(self, url: str, params: Any = None) -> str:
        leg = "media" if url.startswith("ws") else "webhook"
        if leg in self.forge:
            return compute_signature(
                "forged-" + secrets.token_hex(8), url, Params((params or {}).items())
            )
        return super().sign(url, params)


class TwilioConformanceCaller:
    """`ForgingSimulator` behind `patter_core.simulation.ConformanceCaller`."""

    def __init__(self, simulator: ForgingSimulator) -> None:
        self.simulator = simulator

    async def call(
        self,
        steps: Sequence[CallerStep],
        *,
        webhook_auth: Auth = "valid",
        media_auth: Auth = "valid",
    ) -> CallerReport:
        sim = self.simulator
        sim.forge = frozenset(
            leg
            for leg, auth in (("webhook", webhook_auth), ("media", media_auth))
            if auth == "forged"
        )
        recording = await sim.call(
            twilio_script(steps),
            sign_webhook=webhook_auth != "missing",
            sign_media=media_auth != "missing",
        )
        return report_of(recording)


class TwilioWire:
    """Twilio's end of a Media Stream, written from Twilio's message formats (PROTOCOLS B.2/B.3)."""

    account_sid = "AC" + "1" * 32

    @property
    def audio_format(self) -> AudioFormat:
        return PCMU_8K

    def _frame(self, event: str, stream_id: str, **body: Any) -> str:
        return json.dumps({"event": event, "sequenceNumber": "1", "streamSid": stream_id, **body})

    def start(self, stream_id: str, call_id: str, call_token: str) -> str:
        start = {
            "streamSid": stream_id,
            "accountSid": self.account_sid,
            "callSid": call_id,
            "tracks": ["inbound"],
            "customParameters": {"call_token": call_token},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
        return self._frame("start", stream_id, start=start)

    def media(self, stream_id: str, payload: str) -> str:
        media = {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": payload}
        return self._frame("media", stream_id, media=media)

    def mark_echo(self, stream_id: str, name: str) -> str:
        return self._frame("mark", stream_id, mark={"name": name})

    def dtmf(self, stream_id: str, digit: str) -> str:
        return self._frame("dtmf", stream_id, dtmf={"track": "inbound_track", "digit": digit})

    def stop(self, stream_id: str) -> str:
        stop = {"accountSid": self.account_sid, "callSid": "CA" + "2" * 32}
        return self._frame("stop", stream_id, stop=stop)

    def read(self, frame: str) -> SentFrame:
        try:
            message = json.loads(frame)
        except ValueError:
            return SentFrame("other", detail=f"not JSON: {frame[:80]!r}")
        if not isinstance(message, dict):
            return SentFrame("other", detail="not a JSON object")
        event, stream = message.get("event"), str(message.get("streamSid", ""))
        inner = message.get(event) if isinstance(event, str) else None
        if event == "media" and isinstance(inner, dict) and isinstance(inner.get("payload"), str):
            return SentFrame("audio", stream, payload=inner["payload"])
        if event == "mark" and isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return SentFrame("mark", stream, name=inner["name"])
        if event == "clear":
            return SentFrame("clear", stream)
        return SentFrame("other", stream, detail=f"Twilio would reject {frame[:80]!r}")


class TwilioNetwork:
    """`FakeTwilioApi` behind `patter_core.simulation.CarrierNetwork`."""

    def __init__(self, api: FakeTwilioApi, public_url: str) -> None:
        self.api, self.public_url = api, public_url

    def carrier_options(self) -> dict[str, Any]:
        return {
            "account_sid": self.api.account_sid,
            "auth_token": self.api.auth_token,
            "api_base_url": self.api.base_url,
        }

    def attach(self, base_url: str) -> None:
        self.api.server_url = base_url.rstrip("/")

    def answer_with(self, number: str, steps: Sequence[CallerStep]) -> None:
        self.api.plans[number] = CallPlan(script=twilio_script(steps))

    async def ring(self, steps: Sequence[CallerStep]) -> str:
        # A call Twilio places to the server: the fake rings our webhook and streams the script.
        number = "+1555" + str(secrets.randbelow(10**7)).zfill(7)
        self.answer_with(number, steps)
        form = {
            "To": number,
            "From": OURS,
            "Url": self.public_url + VOICE,
            "StatusCallback": self.public_url + STATUS,
        }
        path = f"/2010-04-01/Accounts/{self.api.account_sid}/Calls.json"
        auth = (self.api.account_sid, self.api.auth_token)
        async with httpx.AsyncClient(trust_env=False) as http:
            created = await http.post(self.api.base_url + path, data=form, auth=auth)
        created.raise_for_status()
        sid: str = created.json()["sid"]
        return sid

    async def ended(self, call_id: str) -> NetworkCall:
        call = await self.api.finished(call_id)
        return NetworkCall(
            call_id=call.sid,
            status=call.status,
            answered=call.recording is not None and call.recording.media_status == 101,
            transferred_to=call.transferred_to,
            machine_detection=bool(call.param("MachineDetection")),
        )


class TwilioHarness:
    """Twilio's simulator, wire and fake REST API as one conformance harness."""

    def __init__(self) -> None:
        self.auth_token = secrets.token_hex(16)
        self.wire = TwilioWire()

    def carrier_options(self) -> dict[str, Any]:
        return {"account_sid": new_sid("AC"), "auth_token": self.auth_token}

    @contextlib.asynccontextmanager
    async def simulator(
        self, base_url: str, public_url: str
    ) -> AsyncIterator[TwilioConformanceCaller]:
        async with ForgingSimulator(base_url, self.auth_token, public_url=public_url) as sim:
            yield TwilioConformanceCaller(sim)

    @contextlib.asynccontextmanager
    async def network(self, public_url: str) -> AsyncIterator[TwilioNetwork]:
        async with FakeTwilioApi(auth_token=self.auth_token) as api:
            yield TwilioNetwork(api, public_url)
