"""Validation of Realtime events against the official ``openai`` package's typed models.

The ``openai`` package is a test-only dependency (the plugin's ``testing`` extra, tested
with ``openai>=3.57,<4``); it is imported on first use, never by the engine itself.

Client events are checked strictly: the event's own model is picked by its ``type`` (a
real pydantic discriminated union; openai's own union annotation is not one), values are
validated with ``strict=True`` (no ``"0.5"`` → ``0.5`` coercion), and every key the models
do not declare is an error. openai's models accept unknown keys silently, which would let
beta-era fields such as ``session.voice`` or ``session.temperature`` through.

Server events (used to check the fake server) are validated the same way but without the
undeclared-key walk: the live service adds keys the models leave out (``session.id``,
an item's ``phase``).
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin

if TYPE_CHECKING:
    from pydantic import BaseModel, TypeAdapter


class ProtocolViolation(AssertionError):
    """An event the official typed models reject; the message lists every path at fault."""


def _members(union: Any) -> list[Any]:
    """The classes of an (optionally ``Annotated``) union, without ``None``."""
    if get_origin(union) is Annotated:
        return _members(get_args(union)[0])
    return [m for m in get_args(union) if m is not type(None)]


def _discriminated(union: Any) -> TypeAdapter[Any]:
    from pydantic import Field, TypeAdapter

    members = functools.reduce(operator.or_, _members(union))
    target: Any = Annotated[members, Field(discriminator="type")]
    return TypeAdapter(target)


@functools.cache
def _client_events() -> TypeAdapter[Any]:
    from openai.types.realtime import RealtimeClientEvent

    return _discriminated(RealtimeClientEvent)


@functools.cache
def _server_events() -> TypeAdapter[Any]:
    from openai.types.realtime import RealtimeServerEvent

    return _discriminated(RealtimeServerEvent)


def undeclared_keys(obj: object, path: str = "$") -> Iterator[str]:
    """Paths of keys that no typed model along the way declares."""
    from pydantic import BaseModel

    if isinstance(obj, BaseModel):
        for key in obj.model_extra or {}:
            yield f"{path}.{key}"
        for name in type(obj).model_fields:
            yield from undeclared_keys(getattr(obj, name), f"{path}.{name}")
    elif isinstance(obj, list | tuple):
        for index, value in enumerate(obj):
            yield from undeclared_keys(value, f"{path}[{index}]")
    elif isinstance(obj, dict):
        # Free-form maps (tool parameters, metadata) hold no models; typed maps of models do.
        for key, value in obj.items():
            if isinstance(value, BaseModel):
                yield from undeclared_keys(value, f"{path}.{key}")


def _wire(event: str | bytes | Mapping[str, Any]) -> str | bytes:
    return event if isinstance(event, str | bytes) else json.dumps(event)


def _kind(wire: str | bytes) -> str:
    try:
        data = json.loads(wire)
    except ValueError:
        return "<not JSON>"
    return repr(data.get("type")) if isinstance(data, dict) else "<not an object>"


def _problem(loc: tuple[int | str, ...], message: str, wire: str | bytes) -> str:
    # pydantic puts the discriminator tag first; the path reads better without it.
    if loc and repr(loc[0]) == _kind(wire):
        loc = loc[1:]
    return f"$.{'.'.join(str(p) for p in loc)}: {message}"


def _validate(
    adapter: TypeAdapter[Any], event: str | bytes | Mapping[str, Any], what: str
) -> BaseModel:
    from pydantic import ValidationError

    wire = _wire(event)
    try:
        model: BaseModel = adapter.validate_json(wire, strict=True)
    except ValidationError as exc:
        problems = [_problem(err["loc"], err["msg"], wire) for err in exc.errors()]
        raise ProtocolViolation(
            f"{what} {_kind(wire)} does not match openai's types:\n  " + "\n  ".join(problems)
        ) from None
    return model


def validate_client_event(event: str | bytes | Mapping[str, Any]) -> BaseModel:
    """Validate one client event (wire JSON or a dict) strictly; raise `ProtocolViolation`."""
    model = _validate(_client_events(), event, "client event")
    extra = list(undeclared_keys(model))
    if extra:
        raise ProtocolViolation(
            f"client event {_kind(_wire(event))} has keys openai's types do not declare: "
            + ", ".join(extra)
        )
    return model


def validate_server_event(event: str | bytes | Mapping[str, Any]) -> BaseModel:
    """Validate one server event's declared fields (extra keys allowed); raise on mismatch."""
    return _validate(_server_events(), event, "server event")
