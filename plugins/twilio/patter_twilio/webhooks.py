"""The Twilio HTTP routes: the incoming-call webhook (answered with TwiML) and status callbacks.

Every request is checked against ``X-Twilio-Signature`` before anything else is done with it;
a missing or wrong signature gets ``403`` and nothing else (fail closed).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.responses import PlainTextResponse, Response

from patter_core.carrier import InboundCall
from patter_core.errors import PatterError

from . import twiml
from .signatures import SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER, Params

if TYPE_CHECKING:
    from starlette.requests import Request

    from patter_core.carrier import CarrierContext

    from .carrier import Twilio

log = logging.getLogger("patter_twilio")

#: Twilio's webhook bodies are a few kilobytes; anything far larger is refused unread.
MAX_BODY_BYTES = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _read_form(request: Request) -> Params:
    """The url-encoded form of a webhook, read with a size cap.

    Parsed here rather than with ``request.form()``, which needs ``python-multipart`` and
    reads bodies of any size.
    """
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM_TYPE:
        raise _Refused(415, f"expected {FORM_TYPE}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _Refused(413, "body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _Refused(413, "body too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(400, "body is not UTF-8") from None
    return Params(parse_qsl(text, keep_blank_values=True))


def _signed_url(carrier: Twilio, route_name: str, request: Request, ctx: CarrierContext) -> str:
    # Twilio signs the URL it was configured with: our public URL, not the one a proxy rewrote,
    # plus whatever query string the user put on the webhook URL in the Twilio console.
    url = carrier.route_url(route_name, ctx)
    query = request.url.query
    return f"{url}?{query}" if query else url


async def handle(
    carrier: Twilio, route_name: str, request: Request, ctx: CarrierContext
) -> Response:
    """Check the signature of one webhook and answer it."""
    if route_name not in ("voice", "status"):
        return PlainTextResponse("unknown Twilio route", status_code=404)
    if request.method != "POST":
        return PlainTextResponse("method not allowed", status_code=405)
    client = request.client.host if request.client else "?"
    try:
        params = await _read_form(request)
    except _Refused as exc:
        log.warning("Twilio %s webhook from %s refused: %s", route_name, client, exc)
        return PlainTextResponse(str(exc), status_code=exc.status)
    signature = request.headers.get(SIGNATURE_HEADER)
    url = _signed_url(carrier, route_name, request, ctx)
    if not carrier.verify(url, params, signature, request.headers.get(SIGNATURE_SETTINGS_HEADER)):
        # Say which URL we checked against (it is public) but never the signature or token.
        log.warning(
            "Twilio %s webhook from %s refused: %s X-Twilio-Signature for %s",
            route_name,
            client,
            "invalid" if signature else "missing",
            url,
        )
        return PlainTextResponse("invalid Twilio signature", status_code=403)
    fields = params.first()
    call_sid = fields.get("CallSid", "")
    if not call_sid:
        return PlainTextResponse("CallSid missing", status_code=400)
    if route_name == "voice":
        return _answer(carrier, call_sid, fields, ctx)
    return _status(call_sid, fields, ctx)


def _answer(
    carrier: Twilio, call_sid: str, fields: dict[str, str], ctx: CarrierContext
) -> Response:
    call = InboundCall(
        call_id=call_sid,
        caller=fields.get("From", ""),
        callee=fields.get("To", ""),
        direction=fields.get("Direction", "inbound"),
        parameters=fields,
    )
    try:
        token = ctx.issue_call_token(call)
    except PatterError as exc:
        # The server will not take this call (shutting down, at capacity...): the caller hears
        # busy rather than a stream that would be refused.
        log.warning("Twilio call %s rejected: %s", call_sid, exc)
        return Response(twiml.reject("busy"), media_type="text/xml")
    document = twiml.connect_stream(
        carrier.route_url("media", ctx),
        {"call_token": token, "caller": call.caller, "callee": call.callee},
        name=carrier.stream_name,
        status_callback=carrier.route_url("status", ctx),
    )
    log.info("Twilio call %s from %s to %s answered", call_sid, call.caller, call.callee)
    return Response(document, media_type="text/xml")


def _status(call_sid: str, fields: dict[str, str], ctx: CarrierContext) -> Response:
    # The same route takes call-progress callbacks (CallStatus), the <Stream>'s own callbacks
    # (StreamEvent; the only report of a failed stream handshake) and the asynchronous
    # answering-machine verdict (AnsweredBy, MachineDetectionDuration, no CallStatus): that
    # one is reported as status "amd"; every field goes along in the details.
    stream_event = fields.get("StreamEvent")
    status = stream_event or fields.get("CallStatus", "")
    if not status and "AnsweredBy" in fields:
        status = "amd"
    if stream_event == "stream-error":
        log.warning("Twilio stream of call %s failed: %s", call_sid, fields.get("StreamError", ""))
    ctx.report_status(call_sid, status, fields)
    return Response(status_code=204)
