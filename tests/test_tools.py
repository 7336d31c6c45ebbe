"""Tools: schemas from hints, context injection, the runner's error outputs, webhook tools.

Webhook tests talk to a real HTTP server on 127.0.0.1 (asyncio streams), scripted per test.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import attrs
import httpx
import pytest

from patter_core import toolrunner
from patter_core.engine import ToolCall
from patter_core.errors import ConfigError
from patter_core.toolrunner import ToolRunner, WebhookPolicy, _public_address
from patter_core.tools import Tool, ToolContext, tool

CONTEXT = {
    "call_id": "CA123",
    "caller": "+15555550111",
    "callee": "+15555550100",
    "parameters": {"tier": "gold"},
}


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(call_id="fc_1", name=name, arguments=arguments)


async def run(tools: list[Tool], c: ToolCall, **kwargs: Any) -> str:
    runner = ToolRunner(tools, _never_sent, **kwargs)
    try:
        return await runner.output_for(c, CONTEXT)
    finally:
        await runner.aclose()


async def _never_sent(call_id: str, output: str) -> None:
    raise AssertionError("output_for must not send anything")


# ---------------------------------------------------------------- @tool schemas


def test_schema_from_hints_docstring_and_defaults() -> None:
    @tool
    def book_table(
        party_size: int,
        time: str,
        seating: Literal["indoor", "outdoor"] = "indoor",
        notes: str | None = None,
        price_limit: Annotated[float, "Most the caller will pay per person, in USD."] = 50.0,
        allergies: list[str] | None = None,
        confirmed: bool = False,
    ) -> str:
        """Book a table at the restaurant.

        Use it once the caller has given a party size and a time.

        Args:
            party_size: How many people are coming.
            time (str): The time of the booking, e.g. "19:30",
                in the restaurant's local time.
            seating: Where to sit.
            price_limit: This line loses to the Annotated description.
        """
        return "booked"

    assert book_table.name == "book_table"
    assert book_table.description == "Book a table at the restaurant."
    assert book_table.parameters == {
        "type": "object",
        "properties": {
            "party_size": {"type": "integer", "description": "How many people are coming."},
            "time": {
                "type": "string",
                "description": 'The time of the booking, e.g. "19:30", in the restaurant\'s '
                "local time.",
            },
            "seating": {
                "type": "string",
                "enum": ["indoor", "outdoor"],
                "description": "Where to sit.",
            },
            "notes": {"type": "string"},
            "price_limit": {
                "type": "number",
                "description": "Most the caller will pay per person, in USD.",
            },
            "allergies": {"type": "array", "items": {"type": "string"}},
            "confirmed": {"type": "boolean"},
        },
        "required": ["party_size", "time"],
        "additionalProperties": False,
    }
    assert book_table.schema.name == "book_table"


def test_optional_without_default_is_not_required() -> None:
    @tool
    def find(name: str | None) -> str:
        """Find someone."""
        return repr(name)

    assert find.parameters["required"] == []
    assert find.parameters["properties"]["name"] == {"type": "string"}


def test_annotated_inside_optional_keeps_its_description() -> None:
    @tool
    def find(name: Annotated[str, "The person's name."] | None = None) -> str:
        """Find someone."""
        return ""

    assert find.parameters["properties"]["name"] == {
        "type": "string",
        "description": "The person's name.",
    }


def test_callables_without_a_name_need_name() -> None:
    def greet(who: str) -> str:
        """Greet someone."""
        return who

    with pytest.raises(ConfigError, match="pass name="):
        tool(functools.partial(greet))
    assert tool(name="greet")(functools.partial(greet, who="x")).name == "greet"


def test_decorator_arguments_override_name_description_and_timeout() -> None:
    @tool(name="weather-now", description="Current weather.", timeout_s=2.5)
    def get_weather(city: str) -> str:
        """Ignored, the argument wins."""
        return "sunny"

    assert (get_weather.name, get_weather.description, get_weather.timeout_s) == (
        "weather-now",
        "Current weather.",
        2.5,
    )
    assert get_weather.handler is not None
    assert get_weather.handler.__wrapped__.__name__ == "get_weather"


def test_literal_of_numbers_and_mixed_literals() -> None:
    @tool
    def pick(n: Literal[1, 2, 3], mixed: Literal["a", 1]) -> str:
        """Pick."""
        return ""

    props = pick.parameters["properties"]
    assert props["n"] == {"type": "integer", "enum": [1, 2, 3]}
    assert props["mixed"] == {"enum": ["a", 1]}


def test_context_parameter_is_injected_not_exposed() -> None:
    @tool
    def whoami(context: ToolContext, greeting: str = "hi") -> str:
        """Say who is calling."""
        return f"{greeting} {context.caller}"

    assert "context" not in whoami.parameters["properties"]
    assert whoami.parameters["required"] == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f(x: dict) -> str:\n    'Doc.'", "parameter 'x'"),
        ("def f(x: set[int]) -> str:\n    'Doc.'", "parameter 'x'"),
        ("def f(x: int | str) -> str:\n    'Doc.'", "unions other than `X | None`"),
        ("def f(x) -> str:\n    'Doc.'", "parameter 'x' needs a type hint"),
        ("def f(*xs: int) -> str:\n    'Doc.'", "parameter 'xs' must be an ordinary"),
        ("def f(x: int, /) -> str:\n    'Doc.'", "parameter 'x' must be an ordinary"),
        ("def f(x: list) -> str:\n    'Doc.'", "item type of the list"),
        ("def f(x: int) -> str:\n    pass", "docstring or pass description="),
        ("def f(ctx: ToolContext) -> str:\n    'Doc.'", "must be named 'context'"),
        ("def f(x: Nope) -> str:\n    'Doc.'", "could not resolve its type hints"),
    ],
)
def test_unsupported_signatures_are_config_errors_naming_function(
    source: str, message: str
) -> None:
    namespace: dict[str, Any] = {"ToolContext": ToolContext}
    exec(source + "\n    return ''", namespace)
    with pytest.raises(ConfigError, match="@tool f") as info:
        tool(namespace["f"])
    assert message in str(info.value)


def test_bad_tool_name_from_the_decorator_is_refused() -> None:
    with pytest.raises(ConfigError, match="must be 1-64 letters"):

        @tool(name="has spaces")
        def f() -> str:
            """Doc."""
            return ""


def test_tool_validation_is_kept() -> None:
    with pytest.raises(ConfigError, match="exactly one of handler= or webhook_url="):
        Tool("t", "d")
    with pytest.raises(ConfigError, match="exactly one"):
        Tool("t", "d", handler=lambda a, c: "", webhook_url="https://example.com/x")
    with pytest.raises(ConfigError, match="timeout_s must be positive"):
        Tool("t", "d", handler=lambda a, c: "", timeout_s=0)
    with pytest.raises(ConfigError, match="JSON Schema object"):
        Tool("t", "d", parameters={"type": "string"}, handler=lambda a, c: "")
    with pytest.raises(ConfigError, match="absolute http"):
        Tool("t", "d", webhook_url="ftp://example.com/hook")
    with pytest.raises(ConfigError, match="absolute http"):
        Tool("t", "d", webhook_url="/relative/hook")


def test_webhook_url_with_a_secret_is_not_echoed_in_errors_or_repr() -> None:
    with pytest.raises(ConfigError) as info:
        Tool("t", "d", webhook_url="gopher://hooks/?token=s3cret")
    assert "s3cret" not in str(info.value)
    hooked = Tool("t", "d", webhook_url="https://x.test/h", webhook_headers={"X-Key": "s3cret"})
    assert "s3cret" not in repr(hooked)


# ---------------------------------------------------------------- running handlers


async def test_decorated_sync_tool_gets_keyword_arguments_and_context() -> None:
    seen: dict[str, Any] = {}

    @tool
    def book(party_size: int, context: ToolContext, when: str = "now") -> dict[str, Any]:
        """Book."""
        seen.update(party_size=party_size, when=when, context=context, thread=threading.get_ident())
        return {"booked": True, "for": party_size}

    output = await run([book], call("book", party_size=4.0))
    assert json.loads(output) == {"booked": True, "for": 4}
    assert seen["party_size"] == 4 and isinstance(seen["party_size"], int)
    assert seen["when"] == "now"
    assert seen["context"] == ToolContext("CA123", "+15555550111", "+15555550100", {"tier": "gold"})
    # A sync tool runs in a worker thread, never on the event loop's thread.
    assert seen["thread"] != threading.get_ident()


async def test_decorated_async_tool_and_optional_none() -> None:
    @tool
    async def lookup(order_id: str, note: str | None, limit: int = 3) -> str:
        """Look up an order."""
        await asyncio.sleep(0)
        return f"{order_id}/{note}/{limit}"

    assert await run([lookup], call("lookup", order_id="A1")) == "A1/None/3"
    # Models often send null for fields they leave out: the default applies then.
    assert await run([lookup], call("lookup", order_id="A1", limit=None)) == "A1/None/3"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "missing required argument 'n'"),
        ({"n": 1, "bogus": 2}, "unknown argument(s) ['bogus']"),
        ({"n": "one"}, "n must be a whole number"),
        ({"n": 1.5}, "n must be a whole number"),
        ({"n": True}, "n must be a whole number"),
        ({"n": 1, "mode": "loud"}, "mode must be one of ['fast', 'slow']"),
        ({"n": 1, "tags": "x"}, "tags must be a list"),
        ({"n": 1, "tags": ["a", 2]}, "tags[1] must be text"),
        ({"n": 1, "ratio": "x"}, "ratio must be a number"),
        ({"n": 1, "flag": "yes"}, "flag must be true or false"),
    ],
)
async def test_arguments_that_do_not_fit_come_back_as_an_error(
    arguments: dict[str, Any], expected: str
) -> None:
    @tool
    def f(
        n: int,
        mode: Literal["fast", "slow"] = "fast",
        tags: list[str] | None = None,
        ratio: float = 1.0,
        flag: bool = False,
    ) -> str:
        """F."""
        raise AssertionError("must not be called with bad arguments")

    error = json.loads(await run([f], call("f", **arguments)))["error"]
    assert error.startswith("invalid arguments for tool 'f': ")
    assert expected in error


async def test_plain_tool_keeps_the_arguments_context_convention() -> None:
    def handler(arguments: dict[str, Any], context: dict[str, Any]) -> str:
        return f"{arguments['x']} for {context['caller']}"

    t = Tool("plain", "Plain handler.", handler=handler)
    assert await run([t], call("plain", x=7)) == "7 for +15555550111"


@attrs.frozen
class _Receipt:
    amount: str


async def test_results_are_serialised_as_json_text() -> None:
    from decimal import Decimal

    t1 = Tool("rec", "r", handler=lambda a, c: _Receipt("1.50"))
    t2 = Tool("dec", "d", handler=lambda a, c: {"total": Decimal("0.10")})
    assert json.loads(await run([t1], call("rec"))) == {"amount": "1.50"}
    assert json.loads(await run([t2], call("dec"))) == {"total": "0.10"}


async def test_raising_timing_out_unknown_and_malformed_calls_are_error_outputs() -> None:
    def boom(arguments: dict[str, Any], context: dict[str, Any]) -> str:
        raise RuntimeError("database is down")

    async def hang(arguments: dict[str, Any], context: dict[str, Any]) -> str:
        await asyncio.Event().wait()
        return "never"

    tools = [Tool("boom", "b", handler=boom), Tool("hang", "h", handler=hang, timeout_s=0.05)]
    raised = json.loads(await run(tools, call("boom")))
    assert raised == {"error": "tool 'boom' failed: RuntimeError: database is down"}
    timed_out = json.loads(await run(tools, call("hang")))
    assert timed_out == {"error": "tool 'hang' did not finish within 0.05 s"}
    unknown = json.loads(await run(tools, call("transfer_to_mars")))
    assert unknown["error"] == (
        "there is no tool named 'transfer_to_mars'; available tools: boom, hang"
    )
    bad = ToolCall("fc_2", "boom", {}, error="Expecting value: line 1 column 1")
    assert "were not valid JSON" in json.loads(await run(tools, bad))["error"]


async def test_tools_run_as_their_own_tasks_and_results_are_sent_back() -> None:
    release = asyncio.Event()
    sent: list[tuple[str, str]] = []
    done = asyncio.Event()

    async def slow(arguments: dict[str, Any], context: dict[str, Any]) -> str:
        await release.wait()
        return "slow result"

    async def send(call_id: str, output: str) -> None:
        sent.append((call_id, output))
        done.set()

    runner = ToolRunner([Tool("slow", "s", handler=slow)], send)
    runner.start(call("slow"), CONTEXT)
    # start() returned while the tool is still waiting: the caller's loop is free.
    await asyncio.sleep(0)
    assert runner.running == 1 and sent == []
    release.set()
    await done.wait()
    assert sent == [("fc_1", "slow result")]
    await runner.cancel_all()
    assert runner.running == 0


async def test_cancel_all_stops_running_tools() -> None:
    cancelled = asyncio.Event()

    async def forever(arguments: dict[str, Any], context: dict[str, Any]) -> str:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        return ""

    runner = ToolRunner([Tool("forever", "f", handler=forever, timeout_s=60)], _never_sent)
    runner.start(call("forever"), CONTEXT)
    await asyncio.sleep(0)
    await runner.cancel_all()
    assert cancelled.is_set() and runner.running == 0


# ---------------------------------------------------------------- webhook tools

# A reply is the raw HTTP answer; None drops the connection; an awaitable is awaited first.
Reply = Callable[[dict[str, Any]], Any]


class HookServer:
    """A small HTTP/1.1 server on 127.0.0.1 answering each request with the next scripted reply."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self, tls: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = {"method": method, "path": path, "headers": headers, "json": json.loads(body)}
            self.requests.append(request)
            reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
            answer = reply(request)
            if inspect.isawaitable(answer):
                answer = await answer
            if answer is not None:
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def http(status: int, body: str | bytes = "", *, length: bool = True) -> Reply:
    data = body.encode() if isinstance(body, str) else body
    head = (
        f"HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
    )
    if length:
        head += f"Content-Length: {len(data)}\r\n"
    return lambda request: head.encode() + b"\r\n" + data


def drop(request: dict[str, Any]) -> None:
    return None


@pytest.fixture
async def hook() -> AsyncIterator[Callable[[list[Reply]], Any]]:
    servers: list[HookServer] = []

    async def make(replies: list[Reply], tls: ssl.SSLContext | None = None) -> HookServer:
        server = HookServer(replies)
        await server.start(tls)
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


FAST = WebhookPolicy(retries=2, backoff_s=0.01)


def webhook_tool(url: str, **kwargs: Any) -> Tool:
    kwargs.setdefault("allow_private_network", True)
    return Tool("lookup_order", "Look up an order.", webhook_url=url, **kwargs)


async def test_webhook_posts_the_documented_body_and_returns_the_response_text(hook: Any) -> None:
    server = await hook([http(200, '{"status": "shipped"}')])
    t = webhook_tool(server.url(), webhook_headers={"Authorization": "Bearer k"})
    output = await run([t], call("lookup_order", order_id="A1"), webhook_policy=FAST)
    assert output == '{"status": "shipped"}'
    [request] = server.requests
    assert request["method"] == "POST" and request["path"] == "/hook"
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["authorization"] == "Bearer k"
    assert request["json"] == {
        "tool": "lookup_order",
        "arguments": {"order_id": "A1"},
        "call_id": "CA123",
        "caller": "+15555550111",
        "callee": "+15555550100",
        "tool_call_id": "fc_1",
        "attempt": 1,
    }


async def test_webhook_retries_5xx_then_succeeds(hook: Any) -> None:
    server = await hook([http(503, "busy"), http(502), http(200, "ok on the third")])
    output = await run([webhook_tool(server.url())], call("lookup_order"), webhook_policy=FAST)
    assert output == "ok on the third"
    assert [r["json"]["attempt"] for r in server.requests] == [1, 2, 3]


async def test_webhook_gives_up_after_bounded_retries(hook: Any) -> None:
    server = await hook([http(500, "nope")])
    output = await run([webhook_tool(server.url())], call("lookup_order"), webhook_policy=FAST)
    assert json.loads(output) == {
        "error": "tool 'lookup_order' failed: the webhook answered HTTP 500 (3 attempts)"
    }
    assert len(server.requests) == 3


async def test_webhook_4xx_is_not_retried_and_its_body_reaches_the_model(hook: Any) -> None:
    server = await hook([http(404, "no such order"), http(200, "must not be reached")])
    output = await run([webhook_tool(server.url())], call("lookup_order"), webhook_policy=FAST)
    assert json.loads(output) == {
        "error": "tool 'lookup_order' failed: the webhook answered HTTP 404: no such order"
    }
    assert len(server.requests) == 1


async def test_webhook_redirects_are_not_followed(hook: Any) -> None:
    server = await hook(
        [
            lambda r: (
                b"HTTP/1.1 302 Found\r\nLocation: http://10.0.0.1/\r\n"
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
        ]
    )
    output = await run([webhook_tool(server.url())], call("lookup_order"), webhook_policy=FAST)
    assert "HTTP 302" in json.loads(output)["error"]
    assert len(server.requests) == 1


async def test_webhook_retries_a_dropped_connection(hook: Any) -> None:
    server = await hook([drop, http(200, "second time lucky")])
    output = await run([webhook_tool(server.url())], call("lookup_order"), webhook_policy=FAST)
    assert output == "second time lucky"
    assert [r["json"]["attempt"] for r in server.requests] == [1, 2]


async def test_webhook_unreachable_is_an_error_output() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    t = webhook_tool(f"http://127.0.0.1:{port}/hook")
    output = await run([t], call("lookup_order"), webhook_policy=FAST)
    assert json.loads(output) == {
        "error": "tool 'lookup_order' failed: could not reach the webhook (ConnectError) "
        "(3 attempts)"
    }


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "read-until-close"])
async def test_webhook_response_size_is_capped(hook: Any, declared: bool) -> None:
    server = await hook([http(200, "x" * 70_000, length=declared)])
    output = await run([webhook_tool(server.url())], call("lookup_order"), webhook_policy=FAST)
    assert json.loads(output) == {
        "error": "tool 'lookup_order' failed: the webhook's response is larger than 65536 bytes"
    }
    assert len(server.requests) == 1


async def test_webhook_just_under_the_cap_is_fine(hook: Any) -> None:
    server = await hook([http(200, "y" * 1000, length=False)])
    policy = WebhookPolicy(max_response_bytes=1000)
    output = await run([webhook_tool(server.url())], call("lookup_order"), webhook_policy=policy)
    assert output == "y" * 1000


async def test_webhook_that_never_answers_times_out(hook: Any) -> None:
    async def stall(request: dict[str, Any]) -> None:
        await asyncio.Event().wait()

    server = await hook([stall])
    t = webhook_tool(server.url(), timeout_s=0.2)
    output = await run([t], call("lookup_order"), webhook_policy=FAST)
    assert json.loads(output) == {"error": "tool 'lookup_order' did not finish within 0.2 s"}
    assert len(server.requests) == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_webhook_to_loopback_is_refused_unless_allowed(hook: Any, host: str) -> None:
    server = await hook([http(200, "internal secret")])
    refused = Tool("peek", "p", webhook_url=server.url(host=host))
    output = await run([refused], call("peek"), webhook_policy=FAST)
    assert json.loads(output)["error"].startswith(
        "tool 'peek' failed: refused: the webhook's host resolves to a private, loopback"
    )
    assert server.requests == []  # refused before any connection
    allowed = Tool("peek", "p", webhook_url=server.url(host=host), allow_private_network=True)
    assert await run([allowed], call("peek"), webhook_policy=FAST) == "internal secret"


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "127.0.0.2",
        "169.254.169.254",  # cloud metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
async def test_private_addresses_are_refused(address: str) -> None:
    with pytest.raises(toolrunner.WebhookError, match="refused"):
        await _public_address(address, 443)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
async def test_public_addresses_are_allowed(address: str) -> None:
    assert await _public_address(address, 443) == address


async def test_the_checked_address_is_the_one_connected_to(
    hook: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request goes to the address that passed the check, with the original Host header."""
    server = await hook([http(200, "pinned")])
    checked: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> str:
        checked.append((host, port))
        return "127.0.0.1"  # stands in for a public address the check accepted

    monkeypatch.setattr(toolrunner, "_public_address", resolve)
    t = Tool("pin", "p", webhook_url=server.url(host="hooks.example.invalid"))
    assert await run([t], call("pin"), webhook_policy=FAST) == "pinned"
    assert checked == [("hooks.example.invalid", server.port)]
    assert server.requests[0]["headers"]["host"] == f"hooks.example.invalid:{server.port}"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_https_to_the_checked_address_verifies_the_original_host_name(
    hook: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Pinning the address keeps TLS honest: the certificate is checked against the URL's host."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    name = "hooks.example.invalid"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"]
    command += ["-addext", f"subjectAltName=DNS:{name}"]
    subprocess.run(command, check=True, capture_output=True)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    server = await hook([http(200, "over tls")], server_tls)

    async def resolve(host: str, port: int) -> str:
        return "127.0.0.1"  # stands in for a public address the check accepted

    monkeypatch.setattr(toolrunner, "_public_address", resolve)
    trusting = ssl.create_default_context(cafile=str(cert))
    async with httpx.AsyncClient(verify=trusting) as client:
        good = Tool("tls", "t", webhook_url=f"https://hooks.example.invalid:{server.port}/h")
        output = await run([good], call("tls"), webhook_policy=FAST, http_client=client)
        assert output == "over tls"
        assert server.requests[0]["headers"]["host"] == f"hooks.example.invalid:{server.port}"
        # A name the certificate does not cover fails, though the address is the same.
        wrong = Tool("tls", "t", webhook_url=f"https://other.example.invalid:{server.port}/h")
        output = await run([wrong], call("tls"), webhook_policy=FAST, http_client=client)
        assert json.loads(output)["error"].startswith("tool 'tls' failed: could not reach")
    assert len(server.requests) == 1
