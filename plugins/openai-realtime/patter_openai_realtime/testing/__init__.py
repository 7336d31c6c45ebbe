"""Test utilities: a fake OpenAI Realtime server and strict protocol validation.

>>> from patter_openai_realtime.testing import FakeRealtimeServer, Say, CallTool
"""

from .connection import FakeConnection
from .script import (
    CallTool,
    Disconnect,
    Reply,
    ResponseRequest,
    Say,
    ServerError,
    audio_bytes,
    mulaw_silence,
    mulaw_speech,
)
from .server import FakeRealtimeServer
from .validation import (
    ProtocolViolation,
    undeclared_keys,
    validate_client_event,
    validate_server_event,
)

__all__ = [
    "CallTool",
    "Disconnect",
    "FakeConnection",
    "FakeRealtimeServer",
    "ProtocolViolation",
    "Reply",
    "ResponseRequest",
    "Say",
    "ServerError",
    "audio_bytes",
    "mulaw_silence",
    "mulaw_speech",
    "undeclared_keys",
    "validate_client_event",
    "validate_server_event",
]
