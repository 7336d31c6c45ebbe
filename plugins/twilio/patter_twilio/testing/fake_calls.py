"""The life of one call placed through `FakeTwilioApi`: status callbacks, AMD, the media stream.

Callbacks go to the URLs our server put in the request (its public URLs), re-pointed at the
local server and signed over the public URL, as Twilio signs them.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from attrs import define, field, frozen, validators

from patter_twilio.signatures import Params, compute_signature

from .script import ScriptItem, WaitForAgent
from .simulator import TwilioCallSimulator

if TYPE_CHECKING:
    import datetime as dt

    import httpx

    from .recording import CallRecording

Outcome = Literal["human", "machine", "busy", "no-answer", "failed"]
OUTCOMES: tuple[str, ...] = ("human", "machine", "busy", "no-answer", "failed")

#: What ``completed`` callbacks carry in ``CallStatus`` for calls that were never answered.
UNANSWERED: dict[str, str] = {"busy": "busy", "no-answer": "no-answer", "failed": "failed"}


def _script(items: Sequence[ScriptItem]) -> tuple[ScriptItem, ...]:
    return tuple(items)


@frozen
class CallPlan:
    """How the dialled party behaves: who answers (or not) and, once answered, what they do.

    ``answered_by`` overrides the answering-machine verdict (default ``human`` for a person,
    ``machine_start`` for a machine, ``machine_end_beep`` with ``DetectMessageEnd``);
    ``detection_ms`` is the ``MachineDetectionDuration`` reported with it.
    """

    outcome: Outcome = field(default="human", validator=validators.in_(OUTCOMES))
    script: tuple[ScriptItem, ...] = field(default=(WaitForAgent(),), converter=_script)
    answered_by: str = ""
    detection_ms: int = 2400


@frozen
class Callback:
    """One callback the fake POSTed: the public URL, the form, and the HTTP status answered."""

    kind: Literal["status", "amd"]
    url: str
    form: Mapping[str, str]
    status_code: int
    error: str = ""


@define(eq=False)
class FakeCall:
    """One call placed through the fake API, as it stands."""

    sid: str
    account_sid: str
    to: str
    from_: str
    request: Mapping[str, Sequence[str]]
    plan: CallPlan
    created: dt.datetime
    status: str = "queued"
    answered_by: str = ""
    duration_s: int | None = None
    transferred_to: str = ""
    updates: list[Mapping[str, str]] = field(factory=list)
    callbacks: list[Callback] = field(factory=list)
    recording: CallRecording | None = None
    stop: asyncio.Event = field(factory=asyncio.Event)
    stream_started: asyncio.Event = field(factory=asyncio.Event)
    done: asyncio.Event = field(factory=asyncio.Event)

    def param(self, name: str, default: str = "") -> str:
        """The first value of one form field of the ``Calls.json`` request that made the call."""
        values = self.request.get(name)
        return values[0] if values else default

    def statuses(self) -> list[str]:
        """The ``CallStatus`` of each status callback posted, in order."""
        return [c.form["CallStatus"] for c in self.callbacks if c.kind == "status"]


def local_url(public_url: str, server_url: str) -> str:
    """``public_url`` on the local server: its scheme and host, the public path and query."""
    public, local = urlsplit(public_url), urlsplit(server_url)
    return urlunsplit((local.scheme, local.netloc, public.path, public.query, ""))


class CallLife:
    """Runs one `FakeCall` from ``initiated`` to its final status callback."""

    def __init__(
        self,
        call: FakeCall,
        *,
        http: httpx.AsyncClient,
        auth_token: str,
        server_url: str,
        timeout_s: float,
    ) -> None:
        self.call = call
        self.http = http
        self.auth_token = auth_token
        self.server_url = server_url
        self.timeout_s = timeout_s
        self.sequence = 0
        self.answered_at = 0.0
        events = call.request.get("StatusCallbackEvent") or ["completed"]
        self.events = set(events)

    async def run(self) -> None:
        """Ring, answer or not, stream, and report every step; always marks the call done."""
        call = self.call
        try:
            await self._progress("initiated", "initiated")
            if call.plan.outcome != "failed" and not call.stop.is_set():
                await self._progress("ringing", "ringing")
            if call.stop.is_set():
                await self._finish("canceled")
            elif call.plan.outcome in UNANSWERED:
                await self._finish(UNANSWERED[call.plan.outcome])
            else:
                await self._answer()
        finally:
            call.done.set()

    async def _answer(self) -> None:
        call = self.call
        loop = asyncio.get_running_loop()
        self.answered_at = loop.time()
        detection = call.param("MachineDetection")
        if detection:
            call.answered_by = call.plan.answered_by or self._verdict(detection)
        await self._progress("answered", "in-progress")
        asynchronous = call.param("AsyncAmd").lower() == "true"
        extra = {"CallStatus": "in-progress"}
        if detection and not asynchronous:  # synchronous AMD: the verdict comes with the webhook
            extra["AnsweredBy"] = call.answered_by
        streaming = asyncio.create_task(self._stream(extra))
        if detection and asynchronous:
            started = asyncio.create_task(call.stream_started.wait())
            await asyncio.wait({started, streaming}, return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
            if call.stream_started.is_set():
                await self._amd()
        await streaming
        elapsed = loop.time() - self.answered_at
        call.duration_s = max(1, math.ceil(elapsed))
        await self._finish("completed", CallDuration=str(call.duration_s))

    def _verdict(self, detection: str) -> str:
        if self.call.plan.outcome == "human":
            return "human"
        return "machine_end_beep" if detection == "DetectMessageEnd" else "machine_start"

    async def _stream(self, extra: Mapping[str, str]) -> None:
        """Fetch the call's ``Url`` and run its media stream with the plan's script."""
        call = self.call
        if not self.server_url:  # nowhere to send the webhook: the callee hangs up at once
            return
        url = urlsplit(call.param("Url"))
        path = url.path + (f"?{url.query}" if url.query else "")
        async with TwilioCallSimulator(
            self.server_url,
            self.auth_token,
            public_url=f"{url.scheme}://{url.netloc}",
            voice_path=path,
            account_sid=call.account_sid,
            timeout_s=self.timeout_s,
        ) as simulator:
            call.recording = await simulator.call(
                call.plan.script,
                caller=call.from_,
                callee=call.to,
                call_sid=call.sid,
                direction="outbound-api",
                extra_params=extra,
                stop=call.stop,
                started=call.stream_started,
            )

    async def _amd(self) -> None:
        call = self.call
        url = call.param("AsyncAmdStatusCallback")
        if not url:
            return
        form = {
            "AccountSid": call.account_sid,
            "CallSid": call.sid,
            "AnsweredBy": call.answered_by,
            "MachineDetectionDuration": str(call.plan.detection_ms),
        }
        await self._post("amd", url, form)

    async def _progress(self, event: str, status: str) -> None:
        self.call.status = status
        if event in self.events:
            await self._status_callback(status, {})

    async def _finish(self, status: str, **extra: str) -> None:
        self.call.status = status
        # Every final status (completed, busy, no-answer, failed, canceled) is the "completed"
        # event, sent whenever there is a status callback URL.
        await self._status_callback(status, {"CallDuration": "0", **extra})

    async def _status_callback(self, status: str, extra: Mapping[str, str]) -> None:
        call = self.call
        url = call.param("StatusCallback")
        if not url:
            return
        from datetime import UTC, datetime

        form = {
            "AccountSid": call.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call.sid,
            "CallStatus": status,
            "Called": call.to,
            "Caller": call.from_,
            "CallbackSource": "call-progress-events",
            "Direction": "outbound-api",
            "From": call.from_,
            "SequenceNumber": str(self.sequence),
            "Timestamp": format_datetime(datetime.now(UTC)),
            "To": call.to,
            **extra,
        }
        self.sequence += 1
        await self._post("status", url, form)

    async def _post(self, kind: Literal["status", "amd"], url: str, form: dict[str, str]) -> None:
        """POST a signed callback to the local server; record what it answered."""
        import httpx

        signature = compute_signature(self.auth_token, url, Params(form.items()))
        headers = {"X-Twilio-Signature": signature}
        status, error = 0, ""
        if not self.server_url:
            error = "FakeTwilioApi.server_url is not set: nowhere to deliver callbacks"
        else:
            try:
                target = local_url(url, self.server_url)
                response = await self.http.post(target, data=form, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
        self.call.callbacks.append(Callback(kind, url, form, status, error))


def call_json(call: FakeCall, *, stamp: dt.datetime | None = None) -> dict[str, Any]:
    """The call as Twilio's REST API shows it (a subset of the Call resource's fields)."""
    uri = f"/2010-04-01/Accounts/{call.account_sid}/Calls/{call.sid}.json"
    created = format_datetime(call.created)
    return {
        "sid": call.sid,
        "account_sid": call.account_sid,
        "api_version": "2010-04-01",
        "direction": "outbound-api",
        "from": call.from_,
        "from_formatted": call.from_,
        "to": call.to,
        "to_formatted": call.to,
        "status": call.status,
        "answered_by": call.answered_by or None,
        "caller_name": None,
        "forwarded_from": None,
        "parent_call_sid": None,
        "phone_number_sid": None,
        "group_sid": None,
        "trunk_sid": None,
        "annotation": None,
        "date_created": created,
        "date_updated": format_datetime(stamp) if stamp is not None else created,
        "start_time": None,
        "end_time": None,
        "duration": None if call.duration_s is None else str(call.duration_s),
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "uri": uri,
        "subresource_uris": {
            "notifications": uri.replace(".json", "/Notifications.json"),
            "recordings": uri.replace(".json", "/Recordings.json"),
        },
    }
