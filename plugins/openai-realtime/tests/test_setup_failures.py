"""Set-up refusals become a clear CallSetupError; nothing hangs."""

from __future__ import annotations

import asyncio
import socket

import pytest
from conftest import LIMIT_S, config, make_adapter, open_session
from patter_openai_realtime import OpenAIRealtimeAdapter
from patter_openai_realtime.testing import FakeRealtimeServer, ServerError

from patter_core.errors import CallSetupError
from patter_core.specs import PCMA_8K


async def test_wrong_api_key_is_http_401_without_leaking_the_key(
    server: FakeRealtimeServer,
) -> None:
    with pytest.raises(CallSetupError, match=r"HTTP 401 \(check the API key\)") as caught:
        await open_session(server, api_key="sk-wrong-secret")
    assert "sk-wrong-secret" not in str(caught.value)
    assert server.events == []


async def test_rejected_voice_quotes_the_servers_message_code_and_param(
    server: FakeRealtimeServer,
) -> None:
    with pytest.raises(CallSetupError) as caught:
        await open_session(server, voice="nova")
    message = str(caught.value)
    assert "Invalid value: 'nova'. Supported values are: 'alloy'" in message
    assert "code: invalid_value" in message
    assert "param: session.audio.output.voice" in message
    assert "in reply to session.update" in message


async def test_any_setup_error_is_quoted(server: FakeRealtimeServer) -> None:
    server.reject_session_update = ServerError(
        "Invalid value: 'pcm16'.", code="invalid_value", param="session.audio.input.format"
    )
    with pytest.raises(CallSetupError, match=r"Invalid value: 'pcm16'\. .*session\.audio\.input"):
        await open_session(server)


async def test_no_session_updated_times_out_with_a_clear_message(
    server: FakeRealtimeServer,
) -> None:
    server.send_session_updated = False
    adapter = make_adapter(server)
    adapter.setup_timeout_s = 0.2
    with pytest.raises(CallSetupError, match=r"never answered session\.update within 0\.2 s"):
        await adapter.connect(config())
    assert len(server.of_type("session.update")) == 1


async def test_late_session_updated_within_the_timeout_is_fine(server: FakeRealtimeServer) -> None:
    server.session_updated_delay_s = 0.05
    session = await open_session(server)
    await session.close()


async def test_format_not_echoed_fails_setup(server: FakeRealtimeServer) -> None:
    server.ignore_formats = True  # the server keeps its PCM16 default, as in the reports
    with pytest.raises(CallSetupError) as caught:
        await open_session(server)
    message = str(caught.value)
    assert "did not accept audio format audio/pcmu" in message
    assert "input audio/pcm@24000, output audio/pcm@24000" in message


async def test_connection_refused_is_a_setup_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = OpenAIRealtimeAdapter(api_key="sk-x", base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(CallSetupError, match="could not connect to OpenAI Realtime at ws://"):
        await adapter.connect(config())


async def test_wrong_path_is_a_setup_error(server: FakeRealtimeServer) -> None:
    adapter = make_adapter(server, base_url=server.url + "/extra")
    with pytest.raises(CallSetupError, match="HTTP 404"):
        await adapter.connect(config())


async def test_close_during_setup_is_a_setup_error(server: FakeRealtimeServer) -> None:
    server.send_session_updated = False
    connecting = asyncio.ensure_future(open_session(server))
    await server.wait_for("session.update")
    await server.disconnect(1011, "internal error")
    with pytest.raises(CallSetupError, match=r"closed the connection .*close code 1011: internal"):
        await asyncio.wait_for(connecting, LIMIT_S)


async def test_fake_refuses_a_beta_client_like_the_service(server: FakeRealtimeServer) -> None:
    from websockets.asyncio.client import connect

    # A beta-style client is refused the way the service refuses it: error, then close 4000.
    beta = {"Authorization": f"Bearer {server.api_key}", "OpenAI-Beta": "realtime=v1"}
    async with connect(server.ws_url + "?model=gpt-realtime", additional_headers=beta) as ws:
        first = await ws.recv()
        assert '"beta_api_shape_disabled"' in first
        await ws.wait_closed()
        assert ws.close_code == 4000
        assert ws.close_reason == "invalid_request_error.beta_api_shape_disabled"


async def test_no_conversion_path_is_a_setup_error(server: FakeRealtimeServer) -> None:
    with pytest.raises(CallSetupError, match="no conversion between the carrier's pcma@8000"):
        await open_session(server, config(audio_format=PCMA_8K), audio_format="pcm16")
    assert server.events == []
