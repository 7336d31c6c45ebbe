"""Call control over Twilio's REST API with the official ``twilio`` client, asynchronously.

Imported on first use (by `Twilio.dial` and friends), so loading the plugin never imports
the ``twilio`` SDK.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import (  # type: ignore[import-untyped]
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.async_http_client import AsyncTwilioHttpClient  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from .errors import TwilioApiError

if TYPE_CHECKING:
    from patter_core.carrier import DialRequest

log = logging.getLogger("patter_twilio")

T = TypeVar("T")

#: The call-progress events a dialled call reports to its status URL.
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")


class RoutedHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Twilio's aiohttp client with a default timeout, optionally sent to another base URL.

    With ``base_url`` set, ``https://<anything>.twilio.com/<path>`` becomes
    ``<base_url>/<path>`` (a local fake of Twilio in tests); otherwise URLs are untouched.
    """

    def __init__(self, base_url: str = "", timeout_s: float = 15.0) -> None:
        super().__init__(timeout=timeout_s)
        self._base = urlsplit(base_url.rstrip("/")) if base_url else None

    def route(self, url: str) -> str:
        """The URL a request for ``url`` actually goes to."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if self._base is None or not (host == "twilio.com" or host.endswith(".twilio.com")):
            return url
        path = self._base.path + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Any:
        if auth is not None:
            # As a header: aiohttp deprecates its BasicAuth, which the parent would build.
            credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {credentials}"}
        # The parent passes only the per-request timeout to aiohttp, where None means "never".
        return await super().request(
            method,
            self.route(url),
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=self.timeout if timeout is None else timeout,
            allow_redirects=allow_redirects,
        )


def transfer_twiml(to: str) -> str:
    """``<Response><Dial>to</Dial></Response>``, built with ``twilio.twiml``."""
    response = VoiceResponse()
    response.dial(to)
    xml: str = response.to_xml(xml_declaration=False)
    return xml


class RestApi:
    """One ``twilio.rest.Client`` on an aiohttp session bound to the running event loop."""

    def __init__(
        self, account_sid: str, auth_token: str, *, base_url: str = "", timeout_s: float = 15.0
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self._token = auth_token
        self._http = RoutedHttpClient(base_url, timeout_s)
        self._client = Client(
            username=account_sid,
            password=auth_token,
            account_sid=account_sid,
            http_client=self._http,
        )

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self._http.close()

    async def dial(self, request: DialRequest) -> str:
        """``calls.create`` for ``request``; returns the new call's ``CallSid``."""
        options: dict[str, Any] = {
            "to": request.to,
            "from_": request.from_,
            "url": request.answer_url,
            "method": "POST",
            "status_callback": request.status_url,
            "status_callback_event": list(STATUS_EVENTS),
            "status_callback_method": "POST",
            "timeout": request.ring_timeout_s,
        }
        if request.time_limit_s is not None:
            options["time_limit"] = request.time_limit_s
        if request.machine_detection:
            options.update(
                machine_detection="Enable",
                async_amd="true",
                async_amd_status_callback=request.status_url,
                async_amd_status_callback_method="POST",
            )
        call = await self._guard(
            f"place a call to {request.to}", self._client.calls.create_async(**options)
        )
        sid: str = call.sid
        log.info("Twilio call %s placed from %s to %s", sid, request.from_, request.to)
        return sid

    async def hang_up(self, call_sid: str) -> None:
        """``calls(sid).update(status="completed")``."""
        update = self._client.calls(call_sid).update_async(status="completed")
        await self._guard(f"hang up call {call_sid}", update)
        log.info("Twilio call %s hung up", call_sid)

    async def transfer(self, call_sid: str, to: str) -> None:
        """``calls(sid).update(twiml=<Dial>to</Dial>)``: Twilio stops the stream and dials."""
        update = self._client.calls(call_sid).update_async(twiml=transfer_twiml(to))
        await self._guard(f"transfer call {call_sid} to {to}", update)
        log.info("Twilio call %s transferred to %s", call_sid, to)

    async def configure_number(self, phone_number: str, voice_url: str, status_url: str) -> str:
        """Point ``phone_number``'s voice webhook (and status callback) at us; returns its SID."""
        action = f"configure the phone number {phone_number}"
        numbers = self._client.incoming_phone_numbers
        found = await self._guard(action, numbers.list_async(phone_number=phone_number, limit=1))
        if not found:
            raise TwilioApiError(
                action, status=None, code=None, message="no such number on this account"
            )
        sid: str = found[0].sid
        options: dict[str, Any] = {"voice_url": voice_url, "voice_method": "POST"}
        if status_url:
            options.update(status_callback=status_url, status_callback_method="POST")
        await self._guard(action, numbers(sid).update_async(**options))
        log.info("Twilio number %s now calls %s", phone_number, voice_url)
        return sid

    async def _guard(self, action: str, request: Awaitable[T]) -> T:
        """Await one REST request, turning Twilio's and the network's errors into ours."""
        try:
            return await request
        except (TwilioRestException, TwilioServiceException) as exc:
            if isinstance(exc, TwilioServiceException):
                text = f"{exc.title}: {exc.detail}" if exc.detail else str(exc.title)
            else:
                text = str(exc.msg)
            message = self._scrub(text)
            raise TwilioApiError(action, status=exc.status, code=exc.code, message=message) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = self._scrub(f"the API could not be reached ({type(exc).__name__}: {exc})")
            raise TwilioApiError(action, status=None, code=None, message=reason) from exc

    def _scrub(self, text: str) -> str:
        # Nothing we send Twilio echoes the token back, but an error text must never carry it.
        return text.replace(self._token, "[auth token]") if self._token else text
