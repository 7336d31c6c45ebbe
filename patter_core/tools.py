"""Tools the model may call during a call: `Tool`, the `@tool` decorator and `ToolContext`.

>>> @tool
... def lookup_order(order_id: str) -> str:
...     '''Look up an order by its number.'''
...     return "shipped"
>>> lookup_order.schema.parameters["required"]
['order_id']
"""

from __future__ import annotations

import functools
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, overload
from urllib.parse import urlsplit

from attrs import field, frozen

from .engine import ToolSchema
from .errors import ConfigError, PatterError

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CONTEXT_PARAM = "context"


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
class ToolContext:
    """The call a tool runs in: ids, both numbers and the call's custom parameters."""

    call_id: str = ""
    caller: str = ""
    callee: str = ""
    parameters: Mapping[str, str] = field(factory=dict)

    @classmethod
    def of(cls, context: Mapping[str, Any] | ToolContext) -> ToolContext:
        """The context the tool runner passes (a dict) as a record."""
        if isinstance(context, ToolContext):
            return context
        return cls(
            call_id=str(context.get("call_id", "")),
            caller=str(context.get("caller", "")),
            callee=str(context.get("callee", "")),
            parameters=dict(context.get("parameters") or {}),
        )


class ToolArgumentError(PatterError, ValueError):
    """The model called a tool with arguments that do not fit its parameters."""


@frozen
class Tool:
    """A function the model can call: run by ``handler`` or POSTed to ``webhook_url``.

    ``handler(arguments, context)`` gets the parsed arguments and a dict with ``call_id``,
    ``caller``, ``callee`` and ``parameters``; it may be sync (run in a thread) or async.
    ``timeout_s`` bounds the whole call, webhook retries included.
    """

    name: str = field(validator=_check_name)
    description: str
    parameters: Mapping[str, Any] = field(
        factory=lambda: {"type": "object", "properties": {}}, validator=_check_parameters
    )
    handler: Callable[..., Any] | None = None
    webhook_url: str | None = None
    timeout_s: float = 10.0
    allow_private_network: bool = False
    webhook_headers: Mapping[str, str] = field(factory=dict, repr=False)

    def __attrs_post_init__(self) -> None:
        if (self.handler is None) == (self.webhook_url is None):
            raise ConfigError(f"tool {self.name!r}: give exactly one of handler= or webhook_url=")
        if self.timeout_s <= 0:
            raise ConfigError(f"tool {self.name!r}: timeout_s must be positive")
        if self.handler is not None and not callable(self.handler):
            raise ConfigError(f"tool {self.name!r}: handler must be callable")
        if self.webhook_url is not None:
            parts = urlsplit(self.webhook_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                # The URL may carry a secret token, so it is not echoed back.
                raise ConfigError(
                    f"tool {self.name!r}: webhook_url must be an absolute http(s) URL"
                )

    @property
    def schema(self) -> ToolSchema:
        return ToolSchema(self.name, self.description, self.parameters)


# ------------------------------------------------------------------ @tool


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, timeout_s: float = 10.0
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float = 10.0,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Turn a plain function into a `Tool`, its JSON schema built from hints and docstring."""

    def build(fn: Callable[..., Any]) -> Tool:
        return _tool_from_function(fn, name=name, description=description, timeout_s=timeout_s)

    return build if function is None else build(function)


@frozen
class _Param:
    name: str
    schema: Mapping[str, Any]
    required: bool
    has_default: bool


def _tool_from_function(
    fn: Callable[..., Any], *, name: str | None, description: str | None, timeout_s: float
) -> Tool:
    if not callable(fn):
        raise ConfigError(f"@tool needs a function, got {fn!r}")
    fn_name = getattr(fn, "__name__", None)
    where = str(getattr(fn, "__qualname__", fn_name or repr(fn))).replace("<locals>.", "")
    if not (name or fn_name):
        raise ConfigError(f"@tool {where}: this callable has no __name__; pass name=")
    summary, arg_docs = _parse_docstring(inspect.getdoc(fn) or "")
    description = description if description is not None else summary
    if not description:
        raise ConfigError(
            f"@tool {where}: give the function a docstring or pass description=; the model "
            "decides when to call a tool from its description"
        )
    try:
        # eval_str resolves `from __future__ import annotations` hints; partials work too.
        signature = inspect.signature(fn, eval_str=True)
    except Exception as exc:
        raise ConfigError(f"@tool {where}: could not resolve its type hints: {exc}") from exc
    params: list[_Param] = []
    wants_context = False
    for p in signature.parameters.values():
        hint = p.annotation
        if p.name == _CONTEXT_PARAM or _strip_annotated(hint) is ToolContext:
            if p.name != _CONTEXT_PARAM:
                raise ConfigError(
                    f"@tool {where}: the ToolContext parameter must be named 'context'"
                )
            wants_context = True
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise ConfigError(
                f"@tool {where}: parameter {p.name!r} must be an ordinary named parameter "
                "(no *args, **kwargs or positional-only parameters)"
            )
        if hint is inspect.Parameter.empty:
            raise ConfigError(f"@tool {where}: parameter {p.name!r} needs a type hint")
        schema, optional = _schema_for(hint, where=f"@tool {where}: parameter {p.name!r}")
        doc = _description_of(hint) or arg_docs.get(p.name)
        if doc:
            schema = {**schema, "description": doc}
        has_default = p.default is not inspect.Parameter.empty
        params.append(_Param(p.name, schema, not (has_default or optional), has_default))
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {p.name: dict(p.schema) for p in params},
        "required": [p.name for p in params if p.required],
        "additionalProperties": False,
    }
    return Tool(
        name=name or str(fn_name),
        description=description,
        parameters=parameters,
        handler=_handler_for(fn, tuple(params), wants_context),
        timeout_s=timeout_s,
    )


_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _strip_annotated(hint: Any) -> Any:
    return typing.get_args(hint)[0] if typing.get_origin(hint) is Annotated else hint


def _description_of(hint: Any) -> str | None:
    if typing.get_origin(hint) is Annotated:
        return next((m for m in hint.__metadata__ if isinstance(m, str)), None)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # Annotated[X, "..."] | None
        return next(filter(None, map(_description_of, typing.get_args(hint))), None)
    return None


def _schema_for(hint: Any, *, where: str) -> tuple[dict[str, Any], bool]:
    """The JSON schema of a hint, and whether the hint allows None (``X | None``)."""
    hint = _strip_annotated(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(members) == 1 and len(typing.get_args(hint)) == 2:
            return _schema_for(members[0], where=where)[0], True
        raise ConfigError(f"{where}: unions other than `X | None` are not supported ({hint})")
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}, False
    if origin is Literal:
        values = typing.get_args(hint)
        kinds = {_SCALARS.get(type(v)) for v in values}
        if None in kinds or not values:
            raise ConfigError(f"{where}: Literal values must be text, numbers or booleans")
        schema: dict[str, Any] = {"enum": list(values)}
        if len(kinds) == 1:
            schema = {"type": kinds.pop(), **schema}
        return schema, False
    if origin is list or hint is list:
        args = typing.get_args(hint)
        if len(args) != 1:
            raise ConfigError(f"{where}: give the item type of the list, e.g. list[str]")
        return {"type": "array", "items": _schema_for(args[0], where=where)[0]}, False
    supported = "str, int, float, bool, Literal[...], list[X], X | None, Annotated[X, 'doc']"
    raise ConfigError(f"{where}: type {hint!r} is not supported; use one of: {supported}")


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Returns?|Raises|Yields?|Examples?|Notes?):\s*$")
_ARG_LINE = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The first paragraph (joined into one line) and Google-style ``Args:`` descriptions."""
    lines = doc.splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION.match(line.strip()):
            break
        summary.append(line.strip())
    args: dict[str, str] = {}
    in_args, current, indent = False, "", 0
    for line in lines:
        stripped = line.strip()
        heading = _SECTION.match(stripped)
        if heading and len(line) - len(line.lstrip()) == 0:
            in_args, current = heading.group(1) in ("Args", "Arguments", "Parameters"), ""
            continue
        if not in_args or not stripped:
            continue
        depth = len(line) - len(line.lstrip())
        match = _ARG_LINE.match(stripped)
        if match and (not current or depth <= indent):
            current, indent = match.group(1).lstrip("*"), depth
            args[current] = match.group(2).strip()
        elif current:  # a continuation line of the current argument
            args[current] = f"{args[current]} {stripped}".strip()
    return " ".join(summary), args


def _handler_for(
    fn: Callable[..., Any], params: tuple[_Param, ...], wants_context: bool
) -> Callable[[Mapping[str, Any], Any], Any]:
    """Adapt ``fn`` to the runner's ``handler(arguments, context)`` convention."""

    def kwargs_for(arguments: Mapping[str, Any], context: Any) -> dict[str, Any]:
        kwargs = _check_arguments(arguments, params)
        if wants_context:
            kwargs[_CONTEXT_PARAM] = ToolContext.of(context or {})
        return kwargs

    if inspect.iscoroutinefunction(fn):

        async def async_handler(arguments: Mapping[str, Any], context: Any) -> Any:
            return await fn(**kwargs_for(arguments, context))

        return functools.wraps(fn)(async_handler)

    def handler(arguments: Mapping[str, Any], context: Any) -> Any:
        return fn(**kwargs_for(arguments, context))

    return functools.wraps(fn)(handler)


def _check_arguments(arguments: Mapping[str, Any], params: tuple[_Param, ...]) -> dict[str, Any]:
    """Keyword arguments for the function; `ToolArgumentError` tells the model what is wrong."""
    known = {p.name for p in params}
    unknown = sorted(set(arguments) - known)
    if unknown:
        raise ToolArgumentError(
            f"unknown argument(s) {unknown}; parameters: {sorted(known) or 'none'}"
        )
    kwargs: dict[str, Any] = {}
    for p in params:
        value = arguments.get(p.name)
        if value is not None:
            kwargs[p.name] = _check_value(value, p.schema, p.name)
        elif p.required:
            raise ToolArgumentError(f"missing required argument {p.name!r}")
        elif not p.has_default:
            kwargs[p.name] = None  # `X | None` without a default: absent means None
        # Otherwise absent (or null, as models send for optional fields): the default applies.
    return kwargs


def _check_value(value: Any, schema: Mapping[str, Any], where: str) -> Any:
    if "enum" in schema and value not in schema["enum"]:
        raise ToolArgumentError(f"{where} must be one of {schema['enum']}, got {value!r}")
    kind = schema.get("type")
    if kind == "string" and not isinstance(value, str):
        raise ToolArgumentError(f"{where} must be text, got {value!r}")
    if kind == "boolean" and not isinstance(value, bool):
        raise ToolArgumentError(f"{where} must be true or false, got {value!r}")
    if kind == "integer":
        # JSON has one number type: 3.0 is a fine integer, 3.5 is not.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ToolArgumentError(f"{where} must be a whole number, got {value!r}")
    if kind == "number":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ToolArgumentError(f"{where} must be a number, got {value!r}")
        value = float(value)
    if kind == "array":
        if not isinstance(value, list):
            raise ToolArgumentError(f"{where} must be a list, got {value!r}")
        value = [_check_value(v, schema["items"], f"{where}[{i}]") for i, v in enumerate(value)]
    return value
