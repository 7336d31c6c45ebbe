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
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
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
        return dt.date.fromisoformat(value)
    raise TypeError(f"expected a date such as '2026-11-24', got {value!r}")


def _structure_price(value: Any, _: type) -> Price:
    if not isinstance(value, dict):
        raise TypeError(f"expected a table of prices, got {value!r}")
    target: type[Price] = MinutePrice if "per_minute" in value else TokenPrice
    return converter.structure(value, target)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
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


def error_messages(exc: BaseException, path: str) -> list[str]:
    """Flatten a cattrs failure into ``"<what is wrong> @ <path>"`` lines."""
    if isinstance(exc, ClassValidationError | IterableValidationError | ForbiddenExtraKeysError):
        return list(cattrs.transform_error(exc, path=path, format_exception=_describe))
    return [f"{_describe(exc, None)} @ {path}"]


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
