"""`FakeTwilioApi`: Twilio's REST call-control endpoints on 127.0.0.1, for tests.

It speaks the real paths, HTTP basic auth, form encoding and JSON shapes of
``https://api.twilio.com/2010-04-01``, records every request, and plays out each call it
places against your server: signed status callbacks, the answering-machine verdict, and the
webhook plus media stream of a `TwilioCallSimulator` running the dialled number's script.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qsl
from xml.etree import ElementTree

from attrs import frozen

from .fake_calls import CallLife, CallPlan, FakeCall, call_json
from .serving import serve_app
from .stream import new_sid

if TYPE_CHECKING:
    import httpx
    from starlette.requests import Request
    from starlette.responses import Response

API_PREFIX = "/2010-04-01/Accounts/{account}"
ERROR_DOCS = "https://www.twilio.com/docs/errors/"


@frozen
class ApiRequest:
    """One request the fake received: method, path, form fields in order, and its answer."""

    method: str
    path: str
    form: tuple[tuple[str, str], ...]
    status_code: int
    query: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str | None:
        """The first value of form field ``name``, or None."""
        return next((value for key, value in self.form if key == name), None)

    def getlist(self, name: str) -> list[str]:
        """Every value of form field ``name``, in order."""
        return [value for key, value in self.form if key == name]

    def fields(self) -> dict[str, str | list[str]]:
        """The form as a dict: a repeated field maps to the list of its values."""
        out: dict[str, str | list[str]] = {}
        for key, _ in self.form:
            values = self.getlist(key)
            out[key] = values if len(values) > 1 else values[0]
        return out


@frozen
class ApiFailure:
    """A scripted error answer in Twilio's error shape."""

    status: int
    code: int
    message: str


class _ApiError(Exception):
    def __init__(self, status: int, code: int, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail


class FakeTwilioApi:
    """A local stand-in for Twilio's REST API; use as ``async with``; ``base_url`` once entered.

    ``server_url`` is the local base URL of the server under test: callbacks and webhooks
    aimed at its public URLs are delivered there. Script who answers with ``plans``
    (dialled number → `CallPlan`, else ``default_plan``) and errors with `fail_next`.
    """

    def __init__(
        self,
        account_sid: str = "",
        auth_token: str = "",
        *,
        server_url: str = "",
        default_plan: CallPlan | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.account_sid = account_sid or new_sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.server_url = server_url.rstrip("/")
        self.default_plan = default_plan or CallPlan()
        self.plans: dict[str, CallPlan] = {}
        self.timeout_s = timeout_s
        self.requests: list[ApiRequest] = []
        self.calls: dict[str, FakeCall] = {}
        self.numbers: dict[str, dict[str, Any]] = {}  # phone number → its resource
        self.base_url = ""
        self._failures: list[ApiFailure] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._stack: contextlib.AsyncExitStack | None = None
        self._http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:  # never shows the token
        return f"FakeTwilioApi(account_sid={self.account_sid!r}, base_url={self.base_url!r})"

    async def __aenter__(self) -> Self:
        import httpx

        stack = contextlib.AsyncExitStack()
        self._http = await stack.enter_async_context(
            httpx.AsyncClient(timeout=self.timeout_s, trust_env=False)
        )
        self.base_url = await stack.enter_async_context(serve_app(self.app()))
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for call in self.calls.values():
            call.stop.set()  # hang up whatever is still running
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=self.timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    # ---------------------------------------------------------------------------- scripting

    def fail_next(self, status: int, code: int, message: str) -> None:
        """Answer the next authorised request with this error (queued: call again for more)."""
        self._failures.append(ApiFailure(status, code, message))

    def add_number(self, phone_number: str) -> str:
        """Give the account a phone number (for ``IncomingPhoneNumbers``); returns its SID."""
        sid = new_sid("PN")
        path = f"{API_PREFIX.format(account=self.account_sid)}/IncomingPhoneNumbers/{sid}.json"
        self.numbers[phone_number] = {
            "sid": sid,
            "account_sid": self.account_sid,
            "phone_number": phone_number,
            "friendly_name": phone_number,
            "voice_url": "",
            "voice_method": "POST",
            "status_callback": "",
            "status_callback_method": "POST",
            "uri": path,
        }
        return sid

    def call(self, sid: str) -> FakeCall:
        """The call with this SID."""
        return self.calls[sid]

    async def finished(self, sid: str) -> FakeCall:
        """Wait until the call has posted its final status callback; returns it."""
        call = self.calls[sid]
        await call.done.wait()
        return call

    # ------------------------------------------------------------------------------ the app

    def app(self) -> Any:
        """The Starlette app serving the REST paths."""
        from starlette.applications import Starlette
        from starlette.routing import Route

        prefix, numbers = API_PREFIX, f"{API_PREFIX}/IncomingPhoneNumbers"
        return Starlette(
            routes=[
                Route(f"{prefix}/Calls.json", self._endpoint, methods=["POST"]),
                Route(f"{prefix}/Calls/{{sid}}.json", self._endpoint, methods=["GET", "POST"]),
                Route(f"{numbers}.json", self._endpoint, methods=["GET"]),
                Route(f"{numbers}/{{pn}}.json", self._endpoint, methods=["POST"]),
            ]
        )

    async def _endpoint(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        form = tuple(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        query = tuple(request.query_params.multi_items())
        try:
            self._authorise(request)
            if self._failures:
                failure = self._failures.pop(0)
                raise _ApiError(failure.status, failure.code, failure.message)
            status, body = self._route(request, form, query)
        except _ApiError as exc:
            status, body = exc.status, self._error_body(exc)
        self.requests.append(ApiRequest(request.method, request.url.path, form, status, query))
        headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)

    def _authorise(self, request: Request) -> None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        valid = (
            scheme.lower() == "basic"
            and secrets.compare_digest(user.encode(), self.account_sid.encode())
            and secrets.compare_digest(password.encode(), self.auth_token.encode())
        )
        if not valid:
            detail = "Your AccountSid or AuthToken was incorrect."
            raise _ApiError(401, 20003, "Authenticate", detail)
        if request.path_params["account"] != self.account_sid:
            raise _ApiError(404, 20404, f"The requested resource {request.url.path} was not found")

    @staticmethod
    def _error_body(exc: _ApiError) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": exc.code,
            "message": exc.message,
            "more_info": f"{ERROR_DOCS}{exc.code}",
            "status": exc.status,
        }
        if exc.detail:
            body["detail"] = exc.detail
        return body

    def _route(
        self,
        request: Request,
        form: Sequence[tuple[str, str]],
        query: Sequence[tuple[str, str]],
    ) -> tuple[int, dict[str, Any]]:
        params = request.path_params
        if "pn" in params:
            return 200, self._configure(params["pn"], form)
        if request.url.path.endswith("/IncomingPhoneNumbers.json"):
            return 200, self._numbers(request.url.path, dict(query))
        if "sid" in params:
            return 200, self._update(params["sid"], request.method, form)
        return 201, self._create(form)

    def _numbers(self, path: str, query: Mapping[str, str]) -> dict[str, Any]:
        wanted = query.get("PhoneNumber")
        found = [n for p, n in self.numbers.items() if wanted in (None, p)]
        size = int(query.get("PageSize", "50"))
        return {
            "incoming_phone_numbers": found[:size],
            "page": 0,
            "page_size": size,
            "start": 0,
            "end": max(0, min(len(found), size) - 1),
            "uri": path,
            "first_page_uri": path,
            "next_page_uri": None,
            "previous_page_uri": None,
        }

    def _configure(self, sid: str, form: Sequence[tuple[str, str]]) -> dict[str, Any]:
        number = next((n for n in self.numbers.values() if n["sid"] == sid), None)
        if number is None:
            path = f"{API_PREFIX.format(account=self.account_sid)}/IncomingPhoneNumbers/{sid}"
            raise _ApiError(404, 20404, f"The requested resource {path}.json was not found")
        names = {
            "VoiceUrl": "voice_url",
            "VoiceMethod": "voice_method",
            "StatusCallback": "status_callback",
            "StatusCallbackMethod": "status_callback_method",
        }
        for key, value in form:
            if key in names:
                number[names[key]] = value
        return number

    # ------------------------------------------------------------------------- the calls

    def _create(self, form: Sequence[tuple[str, str]]) -> dict[str, Any]:
        fields: dict[str, list[str]] = {}
        for key, value in form:
            fields.setdefault(key, []).append(value)
        to, from_ = fields.get("To", [""])[0], fields.get("From", [""])[0]
        if not to:
            raise _ApiError(400, 21201, "No 'To' number is specified")
        if not from_:
            raise _ApiError(400, 21603, "A 'From' phone number is required.")
        if not any(fields.get(name) for name in ("Url", "Twiml", "ApplicationSid")):
            raise _ApiError(400, 21205, "Url parameter is required.")
        call = FakeCall(
            sid=new_sid("CA"),
            account_sid=self.account_sid,
            to=to,
            from_=from_,
            request=fields,
            plan=self.plans.get(to, self.default_plan),
            created=datetime.now(UTC),
        )
        self.calls[call.sid] = call
        if call.param("Url"):  # a call given inline TwiML only is recorded, not played out
            self._start(call)
        else:
            call.done.set()
        return call_json(call)

    def _start(self, call: FakeCall) -> None:
        if self._http is None:
            raise RuntimeError("use FakeTwilioApi as 'async with FakeTwilioApi(...)'")
        life = CallLife(
            call,
            http=self._http,
            auth_token=self.auth_token,
            server_url=self.server_url,
            timeout_s=self.timeout_s,
        )
        task = asyncio.create_task(life.run(), name=f"fake-twilio-{call.sid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _update(self, sid: str, method: str, form: Sequence[tuple[str, str]]) -> dict[str, Any]:
        call = self.calls.get(sid)
        if call is None or call.account_sid != self.account_sid:
            path = f"{API_PREFIX.format(account=self.account_sid)}/Calls/{sid}.json"
            raise _ApiError(404, 20404, f"The requested resource {path} was not found")
        if method == "GET":
            return call_json(call, stamp=datetime.now(UTC))
        fields = dict(form)
        if call.done.is_set() or call.status not in (
            "queued",
            "initiated",
            "ringing",
            "in-progress",
        ):
            raise _ApiError(400, 21220, "Call is not in-progress. Cannot redirect.")
        call.updates.append(fields)
        status, twiml = fields.get("Status"), fields.get("Twiml")
        if status in ("completed", "canceled"):
            call.stop.set()  # the stream gets stop; the life posts the final callback
        elif twiml is not None:
            call.transferred_to = _dialled(twiml)
            call.stop.set()  # new TwiML replaces <Connect><Stream>: the stream stops
        elif fields.get("Url"):
            call.stop.set()
        body = call_json(call, stamp=datetime.now(UTC))
        if status in ("completed", "canceled"):
            body["status"] = status
        return body


def _dialled(twiml: str) -> str:
    """The number a ``<Dial>`` in ``twiml`` calls ('' if none)."""
    try:
        root = ElementTree.fromstring(twiml)
    except ElementTree.ParseError:
        return ""
    dial = root.find("Dial")
    if dial is None:
        return ""
    number = dial.find("Number")
    text = number.text if number is not None else dial.text
    return (text or "").strip()
