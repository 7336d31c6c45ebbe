"""A local fake of Telnyx's Call Control v2 REST API: the commands, strictly checked.

It takes ``POST /v2/calls`` (dial) and ``POST /v2/calls/{id}/actions/{answer,
streaming_start, hangup, transfer, reject}``, checks the bearer key and each body against
the parameters Telnyx documents (unknown parameters and bad enum values are a 422, so a
typo fails a test instead of passing silently), records every request, and changes the
state of its `FakeCall`\\ s. Webhooks and media are driven by `FakeTelnyx`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from attrs import define, field, frozen
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from patter_core.simulation import CallerStep

CODECS = ("PCMU", "PCMA", "G722", "OPUS", "AMR-WB", "L16")
_STREAM: dict[str, tuple[str, ...] | None] = {
    "stream_url": None,
    "stream_track": ("inbound_track", "outbound_track", "both_tracks"),
    "stream_codec": (*CODECS, "default"),
    "stream_bidirectional_mode": ("mp3", "rtp"),
    "stream_bidirectional_codec": CODECS,
    "stream_bidirectional_target_legs": ("both", "self", "opposite"),
}
_COMMON: dict[str, tuple[str, ...] | None] = {"client_state": None, "command_id": None}
#: Per action: the parameters we may send (value None: any string) and the required ones.
SCHEMAS: dict[str, tuple[dict[str, tuple[str, ...] | None], tuple[str, ...]]] = {
    "answer": (
        {**_COMMON, **_STREAM, "webhook_url": None, "webhook_url_method": ("POST", "GET")},
        (),
    ),
    "streaming_start": ({**_COMMON, **_STREAM}, ()),
    "hangup": (_COMMON, ()),
    "reject": ({**_COMMON, "cause": ("CALL_REJECTED", "USER_BUSY")}, ("cause",)),
    "transfer": ({**_COMMON, "to": None, "from": None, "timeout_secs": None}, ("to",)),
    "dial": (
        {
            **_COMMON,
            **_STREAM,
            "connection_id": None,
            "to": None,
            "from": None,
            "webhook_url": None,
            "webhook_url_method": ("POST", "GET"),
            "timeout_secs": None,
            "time_limit_secs": None,
        },
        ("connection_id", "to", "from"),
    ),
}
_INTEGERS = {"timeout_secs": (5, 600), "time_limit_secs": (1, 14400)}


@frozen
class ApiRequest:
    """One request the fake received: which action, on which call, with what JSON body."""

    action: str
    call_id: str
    body: dict[str, Any]
    status: int


@define
class FakeCall:
    """A call on the fake network."""

    call_id: str
    direction: str  # "incoming" (to the server) or "outgoing" (dialled by the server)
    caller: str
    callee: str
    script: Sequence[CallerStep] = ()
    webhook_path: str = "/telnyx/webhook"
    state: str = "parked"  # parked → answered → ended
    client_state: str = ""
    stream_url: str = ""
    media_status: int | None = None
    transferred_to: str = ""
    hung_up_by_api: bool = False
    rejected: bool = False
    hangup_posted: bool = False
    streamed: asyncio.Event = field(factory=asyncio.Event)  # answer/streaming_start arrived
    stop: asyncio.Event = field(factory=asyncio.Event)  # hangup/transfer: end the stream
    done: asyncio.Event = field(factory=asyncio.Event)
    legs: dict[str, str] = field(factory=dict)

    def payload(self) -> dict[str, Any]:
        """The fields every Call Control webhook of this call carries."""
        return {
            "call_control_id": self.call_id,
            "call_leg_id": self.legs.setdefault("leg", secrets.token_hex(8)),
            "call_session_id": self.legs.setdefault("session", secrets.token_hex(8)),
            "connection_id": "1234567890123456789",
            "client_state": self.client_state or None,
            "from": self.caller,
            "to": self.callee,
            "direction": self.direction,
            "state": self.state,
        }


def new_call_id() -> str:
    """A ``call_control_id`` shaped like Telnyx's (``v3:`` and base64url)."""
    return "v3:" + base64.urlsafe_b64encode(secrets.token_bytes(33)).decode().rstrip("=")


def _error(status: int, title: str, detail: str = "", code: str = "") -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "title": title, "detail": detail}]}, status)


def schema_problem(action: str, body: object) -> str | None:
    """Why ``body`` is not a valid ``action`` request, or ``None``."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    allowed, required = SCHEMAS[action]
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        return f"unknown parameter(s) {unknown} for {action}"
    absent = [name for name in required if not body.get(name)]
    if absent:
        return f"missing required parameter(s) {absent}"
    for name, value in body.items():
        if name in _INTEGERS:
            low, high = _INTEGERS[name]
            if type(value) is not int or not low <= value <= high:
                return f"{name} must be an integer from {low} to {high}"
            continue
        choices = allowed[name]
        if not isinstance(value, str) or (choices is not None and value not in choices):
            return f"{name} must be {' or '.join(choices) if choices else 'a string'}"
    state = body.get("client_state")
    if state is not None:
        try:
            base64.b64decode(state, validate=True)
        except (binascii.Error, ValueError):
            return "client_state must be valid base64"
    return None


class CallControlApi:
    """The REST half of the fake: an ASGI app over `calls`, recording `requests`."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.calls: dict[str, FakeCall] = {}
        self.requests: list[ApiRequest] = []
        self.on_dial: Callable[[FakeCall], None] | None = None  # starts the dialled call
        self.app = Starlette(
            routes=[
                Route("/v2/calls", self._dial, methods=["POST"]),
                Route("/v2/calls/{call_id}/actions/{action}", self._command, methods=["POST"]),
            ]
        )

    def commands(self, call_id: str) -> list[ApiRequest]:
        """The requests about ``call_id``, oldest first."""
        return [r for r in self.requests if r.call_id == call_id]

    async def _body(self, request: Request, action: str, call_id: str) -> Any:
        authorization = request.headers.get("authorization", "")
        if not hmac.compare_digest(authorization.encode(), f"Bearer {self.api_key}".encode()):
            self.requests.append(ApiRequest(action, call_id, {}, 401))
            return _error(401, "Authentication failed", "invalid API key", "10009")
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        problem = schema_problem(action, body)
        if problem is not None:
            self.requests.append(ApiRequest(action, call_id, {"raw": body}, 422))
            return _error(422, "Invalid parameters", problem, "10015")
        return body

    async def _dial(self, request: Request) -> JSONResponse:
        body = await self._body(request, "dial", "")
        if isinstance(body, JSONResponse):
            return body
        call = FakeCall(new_call_id(), "outgoing", body["from"], body["to"])
        call.client_state = body.get("client_state", "")
        path = body.get("webhook_url", "")
        if path:
            from urllib.parse import urlsplit

            call.webhook_path = urlsplit(path).path or call.webhook_path
        self.calls[call.call_id] = call
        self.requests.append(ApiRequest("dial", call.call_id, body, 200))
        if self.on_dial is not None:
            self.on_dial(call)
        data = {"call_control_id": call.call_id, "is_alive": False, "record_type": "call"}
        return JSONResponse({"data": {**data, "call_leg_id": call.payload()["call_leg_id"]}})

    async def _command(self, request: Request) -> JSONResponse:
        call_id, action = request.path_params["call_id"], request.path_params["action"]
        if action not in SCHEMAS or action == "dial":
            return _error(404, "Not found", f"no action {action!r}")
        body = await self._body(request, action, call_id)
        if isinstance(body, JSONResponse):
            return body
        call = self.calls.get(call_id)
        if call is None:
            self.requests.append(ApiRequest(action, call_id, body, 404))
            return _error(404, "Resource not found", f"no call {call_id!r}", "10005")
        if call.state == "ended":
            self.requests.append(ApiRequest(action, call_id, body, 422))
            return _error(422, "Call has already ended", "", "90018")
        refusal = self._apply(call, action, body)
        self.requests.append(ApiRequest(action, call_id, body, 422 if refusal else 200))
        if refusal:
            return _error(422, "Invalid call state", refusal, "90034")
        return JSONResponse({"data": {"result": "ok"}})

    def _apply(self, call: FakeCall, action: str, body: dict[str, Any]) -> str | None:
        """Change the call as Telnyx would; a reason when the call's state forbids it."""
        if "client_state" in body:
            call.client_state = body["client_state"]
        if action in ("answer", "reject") and (
            call.direction != "incoming" or call.state != "parked"
        ):
            return f"{action} needs an incoming call that is still parked"
        if action == "streaming_start" and call.state != "answered":
            return "streaming_start needs an answered call"
        if action == "reject":
            call.rejected, call.state = True, "ended"
            call.streamed.set()
        elif action in ("answer", "streaming_start"):
            call.state = "answered"
            call.stream_url = body.get("stream_url", "")
            call.streamed.set()
        elif action == "hangup":
            call.hung_up_by_api, call.state = True, "ended"
            call.stop.set()
        elif action == "transfer":
            call.transferred_to = body["to"]
            call.stop.set()
        return None
