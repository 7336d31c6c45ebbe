"""Tools the model may call during a call."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from attrs import field, frozen

from .engine import ToolSchema
from .errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _check_parameters(instance: Tool, _: Any, value: Mapping[str, Any]) -> None:
    if not isinstance(value, Mapping) or value.get("type") != "object":
        raise ConfigError(
            f"tool {instance.name!r}: parameters must be a JSON Schema object such as "
            '{"type": "object", "properties": {...}}, got ' + repr(value)
        )
    properties = value.get("properties", {})
    if not isinstance(properties, Mapping):
        raise ConfigError(f"tool {instance.name!r}: parameters.properties must be an object")
    missing = [r for r in value.get("required", []) if r not in properties]
    if missing:
        raise ConfigError(
            f"tool {instance.name!r}: required {missing} not in parameters.properties"
        )


def _check_name(_: Any, __: Any, value: str) -> None:
    if not _NAME.match(value):
        raise ConfigError(f"tool name {value!r} must be 1-64 letters, digits, '_' or '-'")


@frozen
class Tool:
    """A function the model can call: run by ``handler`` or POSTed to ``webhook_url``."""

    name: str = field(validator=_check_name)
    description: str
    parameters: Mapping[str, Any] = field(
        factory=lambda: {"type": "object", "properties": {}}, validator=_check_parameters
    )
    handler: Callable[..., Any] | None = None
    webhook_url: str | None = None
    timeout_s: float = 10.0

    def __attrs_post_init__(self) -> None:
        if (self.handler is None) == (self.webhook_url is None):
            raise ConfigError(f"tool {self.name!r}: give exactly one of handler= or webhook_url=")
        if self.timeout_s <= 0:
            raise ConfigError(f"tool {self.name!r}: timeout_s must be positive")

    @property
    def schema(self) -> ToolSchema:
        return ToolSchema(self.name, self.description, self.parameters)
