"""The fake server's session object: defaults, ``session.update`` merging and its checks.

The checks reproduce the refusals the live service is known to give (PROTOCOLS.md A.3,
A.10). Where the exact wording of a real error is unknown, the message is marked
"(fake)" so no test mistakes it for a quote of the service.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from .script import ServerError

# Stated again rather than imported from models.py: the fake plays the service, so it must
# not agree with the plugin's declarations by construction.
GA_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
REASONING_MODELS = frozenset({"gpt-realtime-2", "gpt-realtime-2.1", "gpt-realtime-2.1-mini"})

# Top-level keys of a GA realtime session object (RealtimeSessionCreateRequest).
SESSION_KEYS = frozenset(
    {
        "type",
        "audio",
        "include",
        "instructions",
        "max_output_tokens",
        "model",
        "output_modalities",
        "parallel_tool_calls",
        "prompt",
        "reasoning",
        "tool_choice",
        "tools",
        "tracing",
        "truncation",
    }
)

_SESSION_TTL_S = 3600  # the live service caps a session at 60 minutes


def default_session(model: str, session_id: str) -> dict[str, Any]:
    """The session a new connection starts with (what ``session.created`` shows)."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "expires_at": int(time.time()) + _SESSION_TTL_S,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "You are a helpful assistant. (fake server default instructions)",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "voice": "alloy",
                "speed": 1.0,
            },
        },
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "include": None,
    }


def merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``patch``: objects merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def check_update(current: Mapping[str, Any], patch: Mapping[str, Any]) -> ServerError | None:
    """The error the service would answer ``session.update`` with, or None."""
    if "type" not in patch:
        return ServerError(
            "Missing required parameter: 'session.type'.",
            code="missing_required_parameter",
            param="session.type",
        )
    if patch["type"] != "realtime":
        return ServerError(
            f"Invalid value: {patch['type']!r}. Supported values are: 'realtime'. (fake)",
            code="invalid_value",
            param="session.type",
        )
    for key in patch:
        if key not in SESSION_KEYS:
            return ServerError(
                f"Unknown parameter: 'session.{key}'.",
                code="unknown_parameter",
                param=f"session.{key}",
            )
    model = patch.get("model", current["model"])
    if model != current["model"]:
        return ServerError(
            "Cannot update a session's model. (fake)", code="invalid_value", param="session.model"
        )
    voice = (patch.get("audio") or {}).get("output", {}).get("voice")
    if voice is not None and not isinstance(voice, Mapping) and voice not in GA_VOICES:
        supported = ", ".join(repr(v) for v in GA_VOICES[:-1]) + f", and {GA_VOICES[-1]!r}"
        return ServerError(
            f"Invalid value: {voice!r}. Supported values are: {supported}.",
            code="invalid_value",
            param="session.audio.output.voice",
        )
    if patch.get("reasoning") is not None and model not in REASONING_MODELS:
        return ServerError(
            f"The 'reasoning' parameter is not supported with model {model!r}. (fake)",
            code="unsupported_parameter",
            param="session.reasoning",
        )
    return None


def format_kind(session: Mapping[str, Any], direction: str) -> str:
    """The wire format type (``audio/pcmu``...) of the session's input or output."""
    fmt = ((session.get("audio") or {}).get(direction) or {}).get("format") or {}
    return str(fmt.get("type", "audio/pcm"))


def turn_detection(session: Mapping[str, Any]) -> Mapping[str, Any] | None:
    value = ((session.get("audio") or {}).get("input") or {}).get("turn_detection")
    return value if isinstance(value, Mapping) else None


def transcription_model(session: Mapping[str, Any]) -> str | None:
    value = ((session.get("audio") or {}).get("input") or {}).get("transcription")
    return str(value["model"]) if isinstance(value, Mapping) and value.get("model") else None
