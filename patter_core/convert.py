"""The one cattrs converter for data users and plugins supply as dicts, JSON or TOML.

Unknown keys are errors, booleans must be booleans, money becomes `Decimal`, and every
failure is reported with its path::

    >>> from patter_core.convert import structure
    >>> from patter_core.specs import MinutePrice
    >>> structure({"per_minute": "0.0085"}, MinutePrice, path="pricing.twilio")
    MinutePrice(per_minute=Decimal('0.0085'), increment_s=60)
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.cols import (
    homogenous_tuple_structure_factory,
    is_mutable_sequence,
    is_sequence,
    list_structure_factory,
)
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.v import format_exception

from .errors import ConfigError
from .specs import MinutePrice, Price, TokenPrice

T = TypeVar("T")


def _structure_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected true or false, got {value!r}")


def _structure_int(value: Any, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected a whole number, got {value!r}")


def _structure_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected text, got {value!r}")


def _structure_decimal(value: Any, _: type) -> Decimal:
    if isinstance(value, bool):
        raise TypeError(f"expected an amount, got {value!r}")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int | str):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"expected an amount such as '0.006', got {value!r}") from None
    elif isinstance(value, float):
        # repr() gives the shortest digits that round-trip: 0.006 stays "0.006".
        amount = Decimal(repr(value))
    else:
        raise TypeError(f"expected an amount such as '0.006', got {value!r}")
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"expected a non-negative amount, got {value!r}")
    return amount


def _structure_date(value: Any, _: type) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise TypeError(f"expected a date such as '2026-11-24', got {value!r}")


def _structure_price(value: Any, _: type) -> Price:
    if not isinstance(value, dict):
        raise TypeError(f"expected a table of prices, got {value!r}")
    target: type[Price] = MinutePrice if "per_minute" in value else TokenPrice
    return converter.structure(value, target)


def _is_literal(type_: Any) -> bool:
    origin: Any = typing.get_origin(type_)
    return origin is typing.Literal


def _structure_literal(value: Any, type_: Any) -> Any:
    allowed = typing.get_args(type_)
    if value in allowed and type(value) in {type(a) for a in allowed}:
        return value
    raise ValueError(f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def _attrs_hook(cls: type, conv: cattrs.Converter) -> Callable[[Any, type], Any]:
    """The generated attrs hook, behind a check that the data is a table at all."""
    inner: Callable[[Any, Any], Any] = conv.gen_structure_attrs_fromdict(cls)

    def structure_attrs(value: Any, type_: type) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a table of {cls.__name__} fields, got {value!r}")
        return inner(value, type_)

    return structure_attrs


def _sequence_hook(type_: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """Lists and tuples, refusing text and tables (which would be split into characters/keys)."""
    factory = (
        list_structure_factory if is_mutable_sequence(type_) else homogenous_tuple_structure_factory
    )
    inner: Callable[[Any, Any], Any] = factory(type_, conv)

    def structure_sequence(value: Any, t: Any) -> Any:
        if isinstance(value, str | bytes | Mapping):
            raise TypeError(f"expected a list, got {value!r}")
        return inner(value, t)

    return structure_sequence


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook_factory(attrs.has, lambda cls: _attrs_hook(cls, conv))
    conv.register_structure_hook_factory(is_sequence, lambda t: _sequence_hook(t, conv))
    conv.register_structure_hook_func(_is_literal, _structure_literal)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_structure_hook(dt.date, _structure_date)
    conv.register_structure_hook(Price, _structure_price)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_unstructure_hook(dt.date, dt.date.isoformat)
    return conv


converter = _make_converter()


def _describe(exc: BaseException, type_: Any) -> str:
    # Our hooks raise TypeError/ValueError with a sentence meant for the user; keep it.
    if type(exc) in (TypeError, ValueError) and exc.args:
        return str(exc)
    return format_exception(exc, type_)


def _extra_keys(exc: ForbiddenExtraKeysError, path: str) -> list[str]:
    allowed = ", ".join(a.name for a in attrs.fields(exc.cl))
    return [f"unknown key (allowed: {allowed}) @ {path}.{key}" for key in sorted(exc.extra_fields)]


def error_messages(exc: BaseException, path: str, type_: Any = None) -> list[str]:
    """Flatten a cattrs failure into ``"<what is wrong> @ <path>"`` lines.

    An unknown key gets a line of its own, with the key in the path.
    """
    if isinstance(exc, ForbiddenExtraKeysError):
        return _extra_keys(exc, path)
    if isinstance(exc, ClassValidationError | IterableValidationError):
        lines: list[str] = []
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            if isinstance(note, IterableValidationNote):
                where = f"{path}[{note.index!r}]"
            else:
                where = f"{path}.{note.name}"
            lines += error_messages(sub, where, note.type)
        for sub in without:
            lines += error_messages(sub, path)
        return lines
    return [f"{_describe(exc, type_)} @ {path}"]


def structure(data: Any, cls: type[T], *, path: str = "$") -> T:
    """Build ``cls`` from plain data, raising `ConfigError` that lists every bad path."""
    try:
        return converter.structure(data, cls)
    except Exception as exc:
        lines = error_messages(exc, path)
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from exc


def unstructure(obj: Any) -> Any:
    """Plain JSON-ready data for a record (Decimals become strings, dates ISO text)."""
    return converter.unstructure(obj)
