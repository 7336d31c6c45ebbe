"""`TwilioCallSimulator`: places calls on a Patter server exactly the way Twilio does.

A call is a signed voice-webhook POST, the TwiML answer parsed for ``<Connect><Stream>``, then
a signed WebSocket to the stream URL carrying ``connected``, ``start``, 20 ms μ-law frames on
a real clock, DTMF and ``stop``. Agent audio is "played" in real time; marks are echoed when
the audio before them has played, and ``clear`` drops what is queued and flushes the marks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urljoin, urlsplit, urlunsplit
from xml.etree import ElementTree

from patter_twilio.signatures import Params, compute_signature

from .recording import CallRecording, EndReason
from .script import ScriptItem
from .stream import MediaStream, new_sid

if TYPE_CHECKING:
    import httpx


def _parse_twiml(document: str) -> tuple[str, dict[str, str]] | None:
    """The ``<Connect><Stream>`` URL and its ``<Parameter>``s, or None when there is none."""
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError:
        return None
    stream = root.find("./Connect/Stream")
    if stream is None or not stream.get("url"):
        return None
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    return stream.get("url", ""), params


class TwilioCallSimulator:
    """Simulated Twilio for a server at ``base_url``; requests are signed with ``auth_token``.

    ``public_url`` is the https base URL the server believes Twilio uses (what it signs
    against); it defaults to ``base_url``. Use as ``async with``; `call` may run many times
    concurrently.
    """

    def __init__(
        self,
        base_url: str,
        auth_token: str,
        *,
        public_url: str = "",
        voice_path: str = "/twilio/voice",
        status_path: str = "/twilio/status",
        account_sid: str = "",
        record_messages: bool = True,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.public_url = (public_url or base_url).rstrip("/")
        self.voice_path = voice_path
        self.status_path = status_path
        self.account_sid = account_sid or new_sid("AC")
        self.record_messages = record_messages
        self.timeout_s = timeout_s
        self._auth_token = auth_token
        self._http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:  # never shows the token
        return f"TwilioCallSimulator(base_url={self.base_url!r}, public_url={self.public_url!r})"

    async def __aenter__(self) -> Self:
        import httpx

        # trust_env=False: never route test traffic through a proxy from the environment.
        self._http = httpx.AsyncClient(timeout=self.timeout_s, trust_env=False)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def sign(self, url: str, params: Mapping[str, str] | None = None) -> str:
        """The ``X-Twilio-Signature`` Twilio would send for ``url`` with form ``params``."""
        return compute_signature(self._auth_token, url, Params((params or {}).items()))

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            raise RuntimeError("use TwilioCallSimulator as 'async with TwilioCallSimulator(...)'")
        return self._http

    async def post_webhook(
        self, path: str, form: Mapping[str, str], *, signed: bool = True
    ) -> httpx.Response:
        """POST a form to ``path`` on the server, signed over the public URL as Twilio does."""
        headers = {"X-Twilio-Signature": self.sign(self.public_url + path, form)} if signed else {}
        return await self._client().post(self.base_url + path, data=dict(form), headers=headers)

    async def send_status(self, call_sid: str, status: str = "completed", **fields: str) -> int:
        """Send a signed call-status callback; returns the HTTP status the server answered."""
        form = {"AccountSid": self.account_sid, "CallSid": call_sid, "CallStatus": status}
        response = await self.post_webhook(self.status_path, {**form, **fields})
        return response.status_code

    async def call(
        self,
        script: Sequence[ScriptItem] = (),
        *,
        caller: str = "+15551230000",
        callee: str = "+15555550100",
        call_sid: str = "",
        direction: str = "inbound",
        extra_params: Mapping[str, str] | None = None,
        sign_webhook: bool = True,
        sign_media: bool = True,
        custom_parameters: Mapping[str, str] | None = None,
        stop: asyncio.Event | None = None,
        started: asyncio.Event | None = None,
    ) -> CallRecording:
        """Place one call, run ``script``, hang up, and return what the caller saw and heard.

        ``sign_webhook``/``sign_media`` False send no signature; ``custom_parameters``
        replaces the TwiML's ``<Parameter>``s in ``start`` (to test a forged call token).
        Setting ``stop`` ends the stream as Twilio's REST API would (``ended_by="api"``);
        ``started`` is set once ``start`` has been sent.
        """
        call_sid = call_sid or new_sid("CA")
        base = {"call_sid": call_sid, "caller": caller, "callee": callee}
        form = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call_sid,
            "CallStatus": "ringing",
            "Called": callee,
            "Caller": caller,
            "Direction": direction,
            "From": caller,
            "To": callee,
            **(extra_params or {}),
        }
        import httpx

        try:
            response = await self.post_webhook(self.voice_path, form, signed=sign_webhook)
        except httpx.HTTPError as exc:
            return failed(base, "error", 0, error=f"voice webhook failed: {exc!r}")
        if response.status_code != 200:
            return failed(base, "webhook_rejected", response.status_code, twiml=response.text)
        parsed = _parse_twiml(response.text)
        if parsed is None:
            return failed(base, "no_stream", 200, twiml=response.text)
        # Twilio resolves a relative stream URL against the webhook's URL.
        stream_url = urljoin(self.public_url + self.voice_path, parsed[0])
        parameters = dict(custom_parameters if custom_parameters is not None else parsed[1])
        more: dict[str, Any] = {"twiml": response.text, "stream_url": stream_url}
        more["parameters"] = parsed[1]
        headers = {"X-Twilio-Signature": self.sign(stream_url)} if sign_media else {}
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus, WebSocketException

        try:
            ws = await connect(
                self.local_url(stream_url),
                additional_headers=headers,
                proxy=None,  # only ever the local server, whatever the environment says
                compression=None,  # Twilio does not negotiate permessage-deflate
                open_timeout=self.timeout_s,
                max_size=4 * 1024 * 1024,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            return failed(base, "media_rejected", 200, media_status=status, **more)
        except (OSError, TimeoutError, WebSocketException) as exc:
            return failed(base, "error", 200, error=f"media stream failed: {exc!r}", **more)
        stream = MediaStream(
            account_sid=self.account_sid,
            call_sid=call_sid,
            params=parameters,
            record_messages=self.record_messages,
            timeout_s=self.timeout_s,
            stop=stop,
            started=started,
        )
        began = time.monotonic()
        ended_by = await stream.run(ws, script)
        return CallRecording(
            call_sid=call_sid,
            caller=caller,
            callee=callee,
            ended_by=ended_by,
            webhook_status=200,
            media_status=101,
            close_code=ws.close_code,
            close_reason=ws.close_reason or "",
            duration_ms=(time.monotonic() - began) * 1000.0,
            **more,
            **stream.results(),
        )

    def local_url(self, public_url: str) -> str:
        """``public_url`` with the scheme and host of the local server (ws/wss for sockets)."""
        public, local = urlsplit(public_url), urlsplit(self.base_url)
        scheme = "wss" if local.scheme == "https" else "ws"
        return urlunsplit((scheme, local.netloc, public.path, public.query, ""))


def failed(base: Mapping[str, str], why: EndReason, status: int, **more: Any) -> CallRecording:
    """The recording of a call that never got a media stream going."""
    return CallRecording(
        call_sid=base["call_sid"],
        stream_sid="",
        caller=base["caller"],
        callee=base["callee"],
        ended_by=why,
        webhook_status=status,
        **more,
    )
