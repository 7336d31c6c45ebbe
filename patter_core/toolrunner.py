"""Running the model's tool calls as tasks, so the engine socket is always being read.

Every outcome goes back to the model as text: the tool's result, or ``{"error": "..."}``
for an exception, a timeout, an unknown tool, malformed arguments or a failed webhook.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import attrs
import httpx
from attrs import frozen

from .convert import unstructure
from .engine import ToolCall
from .tools import Tool, ToolArgumentError

log = logging.getLogger("patter.tools")

SendResult = Callable[[str, str], Awaitable[None]]


def _error(message: str) -> str:
    return json.dumps({"error": message})


@frozen
class WebhookPolicy:
    """How webhook tools are called: retries after the first attempt, backoff, size cap."""

    retries: int = 2
    backoff_s: float = 0.25
    max_response_bytes: int = 64 * 1024


class WebhookError(Exception):
    """A webhook tool failed; the message is safe to show the model (no URL, no headers)."""


class ToolRunner:
    """Starts one task per tool call and sends every outcome (errors included) back."""

    def __init__(
        self,
        tools: Sequence[Tool],
        send_result: SendResult,
        *,
        webhook_policy: WebhookPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._tools = {t.name: t for t in tools}
        self._send_result = send_result
        self._tasks: set[asyncio.Task[None]] = set()
        self._policy = webhook_policy or WebhookPolicy()
        self._client = http_client
        self._owns_client = http_client is None

    @property
    def running(self) -> int:
        return len(self._tasks)

    def start(self, call: ToolCall, context: dict[str, Any]) -> None:
        task = asyncio.create_task(self._run(call, context), name=f"tool:{call.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_all(self) -> None:
        """Cancel running tools and close the webhook client: the call is over."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client this runner opened for webhook tools, if any."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def _run(self, call: ToolCall, context: dict[str, Any]) -> None:
        output = await self.output_for(call, context)
        try:
            await self._send_result(call.call_id, output)
        except Exception:
            log.exception("could not send the result of tool %r back to the engine", call.name)

    async def output_for(self, call: ToolCall, context: Mapping[str, Any]) -> str:
        """The text the model gets back for ``call``: the tool's result or an error."""
        if call.error:
            return _error(f"the arguments for {call.name!r} were not valid JSON: {call.error}")
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self._tools)) or "none"
            return _error(f"there is no tool named {call.name!r}; available tools: {known}")
        if tool.handler is not None:
            work = _invoke(tool.handler, dict(call.arguments), dict(context))
        else:
            work = self._post(tool, call, context)
        try:
            result = await asyncio.wait_for(work, tool.timeout_s)
        except TimeoutError:
            log.warning("tool %r timed out after %s s", call.name, tool.timeout_s)
            return _error(f"tool {call.name!r} did not finish within {tool.timeout_s} s")
        except ToolArgumentError as exc:
            return _error(f"invalid arguments for tool {call.name!r}: {exc}")
        except WebhookError as exc:
            log.warning("webhook tool %r failed: %s", call.name, exc)
            return _error(f"tool {call.name!r} failed: {exc}")
        except Exception as exc:
            log.warning("tool %r raised %s: %s", call.name, type(exc).__name__, exc)
            return _error(f"tool {call.name!r} failed: {type(exc).__name__}: {exc}")
        return _as_text(result)

    # ------------------------------------------------------------ webhook tools

    async def _post(self, tool: Tool, call: ToolCall, context: Mapping[str, Any]) -> str:
        """POST the call to the tool's webhook, retrying network errors and 5xx answers."""
        assert tool.webhook_url is not None
        url = httpx.URL(tool.webhook_url)
        request_url, extensions, host_header = url, {}, {}
        if not tool.allow_private_network:
            address = await _public_address(url.host, url.port or _default_port(url))
            # Connect to the address we checked, so a second DNS answer cannot point elsewhere.
            request_url = url.copy_with(host=address)
            host_header = {"Host": url.netloc.decode("ascii")}
            if url.scheme == "https":
                extensions = {"sni_hostname": url.host}
        body = {
            "tool": tool.name,
            "arguments": dict(call.arguments),
            "call_id": str(context.get("call_id", "")),
            "caller": str(context.get("caller", "")),
            "callee": str(context.get("callee", "")),
            "tool_call_id": call.call_id,
        }
        policy = self._policy
        attempts = policy.retries + 1
        failure = ""
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                await asyncio.sleep(policy.backoff_s * 2 ** (attempt - 2))
            try:
                status, text = await self._attempt(
                    tool, request_url, {**body, "attempt": attempt}, host_header, extensions
                )
            except httpx.TransportError as exc:
                failure = f"could not reach the webhook ({type(exc).__name__})"
                log.info("webhook tool %r attempt %d: %s", tool.name, attempt, failure)
                continue
            if 200 <= status < 300:
                return text
            if status < 500:
                # 3xx are not followed (a redirect could lead into a private network).
                raise WebhookError(f"the webhook answered HTTP {status}: {text[:500]}")
            failure = f"the webhook answered HTTP {status}"
            log.info("webhook tool %r attempt %d: %s", tool.name, attempt, failure)
        raise WebhookError(f"{failure} ({attempts} attempts)")

    async def _attempt(
        self,
        tool: Tool,
        url: httpx.URL,
        body: dict[str, Any],
        host_header: dict[str, str],
        extensions: dict[str, Any],
    ) -> tuple[int, str]:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        headers = {**tool.webhook_headers, **host_header, "Content-Type": "application/json"}
        content = json.dumps(body, default=str).encode()
        cap = self._policy.max_response_bytes
        request = self._client.build_request(
            "POST",
            url,
            content=content,
            headers=headers,
            timeout=tool.timeout_s,
            extensions=extensions,
        )
        response = await self._client.send(request, stream=True, follow_redirects=False)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise WebhookError(f"the webhook's response is larger than {cap} bytes")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise WebhookError(f"the webhook's response is larger than {cap} bytes")
                chunks.append(chunk)
        finally:
            await response.aclose()
        text = b"".join(chunks).decode(response.charset_encoding or "utf-8", errors="replace")
        return response.status_code, text


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


async def _public_address(host: str, port: int) -> str:
    """The address to connect to for ``host``; `WebhookError` if any answer is not public."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise WebhookError(f"the webhook's host name did not resolve ({exc})") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    # One private answer is enough to refuse: the host is not reliably outside our network.
    if not addresses or not all(_is_public(a) for a in addresses):
        raise WebhookError(
            "refused: the webhook's host resolves to a private, loopback or link-local "
            "address (set allow_private_network=True on the Tool to allow it)"
        )
    return str(addresses[0])


def _as_text(result: Any) -> str:
    if isinstance(result, str):
        return result
    if attrs.has(type(result)):
        result = unstructure(result)
    return json.dumps(result, default=str)


async def _invoke(
    handler: Callable[..., Any], arguments: dict[str, Any], context: dict[str, Any]
) -> Any:
    if inspect.iscoroutinefunction(handler):
        return await handler(arguments, context)
    # A blocking handler runs in a thread so the call's event loop keeps moving audio.
    result = await asyncio.to_thread(handler, arguments, context)
    if inspect.isawaitable(result):
        result = await result
    return result
