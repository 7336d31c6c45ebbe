"""The Telnyx webhook route: verify, then act on Call Control events.

Every request is checked against its Ed25519 signature before its body is even parsed; a
missing, forged or stale one gets ``401``/``403`` and nothing else (fail closed). Then:

* ``call.initiated`` of an incoming call: ask the core for a call token, then answer the
  call with a REST ``answer`` command that streams to our signed media URL and carries the
  token as ``client_state``.
* ``call.answered`` of a call we dialled: start its stream the same way (``streaming_start``).
* ``call.initiated``/``call.answered``/``call.hangup`` and ``streaming.*``: reported to the
  core with Twilio's status names (what `CallControl` documents).
* ``streaming.stopped``/``streaming.failed`` of a live call that was not transferred: hang
  it up, because unlike Twilio a Call Control call outlives its media stream.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

from patter_core.carrier import InboundCall
from patter_core.errors import ConfigError, PatterError

from . import signatures
from .errors import TelnyxApiError
from .streamauth import is_dial_state

if TYPE_CHECKING:
    from starlette.requests import Request

    from patter_core.carrier import CarrierContext

    from .carrier import Telnyx

log = logging.getLogger("patter_telnyx")

#: Call Control webhook bodies are a few kilobytes; anything far larger is refused unread.
MAX_BODY_BYTES = 256 * 1024

#: ``hangup_cause`` → the core's (Twilio's) final status names. Our mapping, not Telnyx's.
HANGUP_STATUS = {
    "normal_clearing": "completed",
    "time_limit": "completed",
    "unspecified": "completed",
    "user_busy": "busy",
    "call_rejected": "busy",
    "timeout": "no-answer",
    "no_answer": "no-answer",
    "originator_cancel": "canceled",
    "not_found": "failed",
}
STREAM_STATUS = {
    "streaming.started": "stream-started",
    "streaming.stopped": "stream-stopped",
    "streaming.failed": "stream-error",
}
_DETAIL_KEYS: tuple[str, ...] = ("from", "to", "direction", "state", "hangup_cause")
_DETAIL_KEYS += ("hangup_source", "sip_hangup_cause", "failure_reason")


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _Refused(413, "body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _Refused(413, "body too large")
    return bytes(body)


def _event(body: bytes) -> tuple[str, str, Mapping[str, Any]]:
    """``(event id, event type, payload)`` of a Call Control webhook envelope."""
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError):
        raise _Refused(400, "body is not JSON") from None
    data = envelope.get("data") if isinstance(envelope, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("event_type"), str):
        raise _Refused(400, "expected a Call Control event: {'data': {'event_type': ...}}")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise _Refused(400, "the event has no 'payload' object")
    event_id = data.get("id")
    return (event_id if isinstance(event_id, str) else ""), data["event_type"], payload


def _details(event_type: str, payload: Mapping[str, Any]) -> dict[str, str]:
    details = {"event_type": event_type}
    for key in _DETAIL_KEYS:
        value = payload.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            details[key] = str(value)
    duration = _duration_s(payload.get("start_time"), payload.get("end_time"))
    if duration is not None:
        details["CallDuration"] = str(duration)
    return details


def _duration_s(start: object, end: object) -> int | None:
    if not (isinstance(start, str) and isinstance(end, str)):
        return None
    try:
        elapsed = dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)
    except (ValueError, TypeError):
        return None
    return max(0, round(elapsed.total_seconds()))


async def handle(
    carrier: Telnyx, route_name: str, request: Request, ctx: CarrierContext
) -> Response:
    """Check one webhook's signature, then act on its event."""
    if route_name not in ("voice", "status"):
        return PlainTextResponse("unknown Telnyx route", status_code=404)
    client = request.client.host if request.client else "?"
    try:
        body = await _read_body(request)
        reason = carrier.signature_problem(
            body,
            request.headers.get(signatures.SIGNATURE_HEADER),
            request.headers.get(signatures.TIMESTAMP_HEADER),
        )
        if reason is not None:
            # Say why (it names headers, never their values) and refuse before parsing.
            log.warning("Telnyx webhook from %s refused: %s", client, reason)
            missing = reason.startswith("missing")
            raise _Refused(401 if missing else 403, "invalid Telnyx signature")
        event_id, event_type, payload = _event(body)
    except _Refused as exc:
        return PlainTextResponse(str(exc), status_code=exc.status)
    if carrier.seen_before(event_id):
        return JSONResponse({"ok": True, "duplicate": True})
    call_id = payload.get("call_control_id")
    if not isinstance(call_id, str) or not call_id:
        return PlainTextResponse("call_control_id missing", status_code=400)
    await _dispatch(carrier, event_type, call_id, payload, ctx)
    return JSONResponse({"ok": True})


async def _dispatch(
    carrier: Telnyx,
    event_type: str,
    call_id: str,
    payload: Mapping[str, Any],
    ctx: CarrierContext,
) -> None:
    details = _details(event_type, payload)
    state = payload.get("client_state")
    state = state if isinstance(state, str) else ""
    if event_type == "call.initiated":
        if payload.get("direction") == "incoming":
            await _answer(carrier, call_id, payload, ctx)
        else:
            ctx.report_status(call_id, "initiated", details)
    elif event_type == "call.answered":
        ctx.report_status(call_id, "in-progress", details)
        if is_dial_state(state):
            await _stream_dialled(carrier, call_id, payload, ctx)
    elif event_type == "call.hangup":
        carrier.call_ended(call_id)
        cause = str(payload.get("hangup_cause", ""))
        ctx.report_status(call_id, HANGUP_STATUS.get(cause, "failed"), details)
    elif event_type in STREAM_STATUS:
        if event_type == "streaming.failed":
            log.warning("Telnyx stream of call %s failed: %s", call_id, details)
        ctx.report_status(call_id, STREAM_STATUS[event_type], details)
        if event_type != "streaming.started":
            await carrier.stream_ended(call_id)


def _inbound_call(call_id: str, payload: Mapping[str, Any], direction: str) -> InboundCall:
    fields = {k: str(v) for k, v in payload.items() if isinstance(v, str | int | float)}
    return InboundCall(
        call_id=call_id,
        caller=str(payload.get("from", "")),
        callee=str(payload.get("to", "")),
        direction=direction,
        parameters=fields,
    )


async def _answer(
    carrier: Telnyx, call_id: str, payload: Mapping[str, Any], ctx: CarrierContext
) -> None:
    call = _inbound_call(call_id, payload, "inbound")
    try:
        token = ctx.issue_call_token(call)
    except PatterError as exc:
        # The server takes no new calls (shutting down...): reject, so the caller hears busy.
        log.warning("Telnyx call %s rejected: %s", call_id, exc)
        await _quietly(carrier.reject(call_id), f"reject call {call_id}")
        return
    await _quietly(carrier.answer(call_id, token, ctx), f"answer call {call_id}")
    log.info("Telnyx call %s from %s to %s answered", call_id, call.caller, call.callee)


async def _stream_dialled(
    carrier: Telnyx, call_id: str, payload: Mapping[str, Any], ctx: CarrierContext
) -> None:
    call = _inbound_call(call_id, payload, "outbound")
    try:
        token = ctx.issue_call_token(call)
    except PatterError as exc:
        log.warning("Telnyx call %s not streamed: %s", call_id, exc)
        await _quietly(carrier.hang_up(call_id), f"hang up call {call_id}")
        return
    await _quietly(carrier.stream(call_id, token, ctx), f"stream call {call_id}")


async def _quietly(command: Any, what: str) -> None:
    """Run a REST command from a webhook: log a failure, never turn it into a webhook error.

    A non-2xx answer would make Telnyx retry the webhook, which cannot fix a failed command.
    """
    try:
        await command
    except TelnyxApiError as exc:
        if exc.call_has_ended:
            log.info("Telnyx: %s: the call had already ended", what)
        else:
            log.error("%s", exc)
    except ConfigError as exc:  # e.g. the server has no public URL to stream to
        log.error("Telnyx: could not %s: %s", what, exc)
