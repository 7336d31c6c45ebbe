"""Call Control v2 over Telnyx's REST API with httpx: answer, stream, hang up, transfer, dial.

Every request carries the API key as a bearer token and a fresh ``command_id`` (Telnyx
ignores a repeated one for the same call). The key is never logged or put in an error.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from .errors import TelnyxApiError

if TYPE_CHECKING:
    from patter_core.carrier import DialRequest

log = logging.getLogger("patter_telnyx")

DEFAULT_API_BASE = "https://api.telnyx.com/v2"

#: What every stream we start asks for: the caller's audio only, PCMU 8 kHz both ways, and
#: playback over the same socket in RTP mode (the default mode, mp3, plays files instead).
STREAM_OPTIONS: dict[str, Any] = {
    "stream_track": "inbound_track",
    "stream_codec": "PCMU",
    "stream_bidirectional_mode": "rtp",
    "stream_bidirectional_codec": "PCMU",
}


def _error_parts(response: httpx.Response) -> tuple[str, str]:
    """Telnyx's error code and a readable message from an error response."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200] or response.reason_phrase
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        code = str(first.get("code", ""))
        text = ": ".join(str(first[k]) for k in ("title", "detail") if first.get(k))
        return code, text or response.reason_phrase
    return "", response.reason_phrase


class RestApi:
    """One httpx client bound to the running event loop."""

    def __init__(self, api_key: str, *, base_url: str = "", timeout_s: float = 10.0) -> None:
        self.loop = asyncio.get_running_loop()
        self._api_key = api_key
        self.base_url = (base_url or DEFAULT_API_BASE).rstrip("/")
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout_s,
            trust_env=False,  # never send the key through a proxy picked up from the environment
            follow_redirects=False,
        )

    def __repr__(self) -> str:  # never shows the key
        return f"RestApi(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def command(self, call_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /calls/{call_control_id}/actions/{action}`` with ``body``."""
        path = f"/calls/{quote(call_id, safe=':')}/actions/{action}"
        return await self._post(path, body, f"{action} call {call_id}")

    async def answer(self, call_id: str, stream_url: str, client_state: str) -> None:
        """Answer an incoming call, streaming its media to ``stream_url``."""
        body = {"stream_url": stream_url, **STREAM_OPTIONS, "client_state": client_state}
        await self.command(call_id, "answer", body)

    async def start_streaming(self, call_id: str, stream_url: str, client_state: str) -> None:
        """Stream an answered call's media to ``stream_url`` (``streaming_start``)."""
        body = {"stream_url": stream_url, **STREAM_OPTIONS, "client_state": client_state}
        await self.command(call_id, "streaming_start", body)

    async def hang_up(self, call_id: str) -> None:
        """End a call (``hangup``)."""
        await self.command(call_id, "hangup", {})

    async def reject(self, call_id: str) -> None:
        """Reject an incoming call, unanswered, with a busy signal (``reject``)."""
        await self.command(call_id, "reject", {"cause": "USER_BUSY"})

    async def transfer(self, call_id: str, to: str) -> None:
        """Transfer a call to ``to`` (``transfer``); Telnyx bridges the caller to a new leg."""
        await self.command(call_id, "transfer", {"to": to})

    async def dial(self, request: DialRequest, connection_id: str, client_state: str) -> str:
        """``POST /calls``; returns the new call's ``call_control_id``."""
        body: dict[str, Any] = {
            "connection_id": connection_id,
            "to": request.to,
            "from": request.from_,
            "webhook_url": request.answer_url,
            "webhook_url_method": "POST",
            "timeout_secs": min(600, max(5, request.ring_timeout_s)),
            "client_state": client_state,
        }
        if request.time_limit_s is not None:
            body["time_limit_secs"] = request.time_limit_s
        data = await self._post("/calls", body, f"place a call to {request.to}")
        call_id = data.get("call_control_id")
        if not isinstance(call_id, str) or not call_id:
            raise TelnyxApiError(
                f"place a call to {request.to}",
                status=200,
                code="",
                message="the answer carried no data.call_control_id",
            )
        return call_id

    async def _post(self, path: str, body: dict[str, Any], action: str) -> dict[str, Any]:
        body = {**body, "command_id": str(uuid.uuid4())}
        try:
            response = await self._http.post(self.base_url + path, json=body)
        except httpx.HTTPError as exc:
            reason = self._scrub(f"{type(exc).__name__}: {exc}")
            raise TelnyxApiError(action, status=None, code="", message=reason) from exc
        if response.status_code >= 300:
            code, message = _error_parts(response)
            raise TelnyxApiError(
                action, status=response.status_code, code=code, message=self._scrub(message)
            )
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        data = payload.get("data") if isinstance(payload, dict) else None
        log.info("Telnyx: %s: HTTP %d", action, response.status_code)
        return data if isinstance(data, dict) else {}

    def _scrub(self, text: str) -> str:
        # Nothing we send echoes the key back, but an error text must never carry it.
        return text.replace(self._api_key, "[api key]") if self._api_key else text
