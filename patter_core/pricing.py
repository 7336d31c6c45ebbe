"""Prices and per-call cost: price tables from plugins, user overrides, the cost calculator.

>>> from decimal import Decimal
>>> from patter_core.pricing import minutes_cost
>>> from patter_core.specs import MinutePrice
>>> minutes_cost(61, MinutePrice(per_minute=Decimal("0.0085")))   # billed as 2 minutes
Decimal('0.0170')
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from attrs import field, frozen

from .convert import structure, unstructure
from .engine import TokenUsage
from .errors import ConfigError, UnknownNameError
from .specs import MinutePrice, Price, PriceTable, TokenPrice

_MILLION = Decimal(1_000_000)
_TABLE_KEYS = ("models", "source", "as_of", "currency", "notes")


class Pricing(Mapping[str, PriceTable]):
    """Price tables by name (engine or carrier name), read-only."""

    def __init__(self, tables: Mapping[str, PriceTable]) -> None:
        self._tables = dict(tables)

    def __getitem__(self, name: str) -> PriceTable:
        try:
            return self._tables[name]
        except KeyError:
            known = ", ".join(sorted(self._tables)) or "none"
            raise UnknownNameError(f"no price table named {name!r}; known: {known}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def __contains__(self, name: object) -> bool:
        return name in self._tables

    def get(self, name: str, default: Any = None) -> Any:
        return self._tables.get(name, default)

    def __repr__(self) -> str:
        return f"Pricing({sorted(self._tables)})"

    def price(self, table: str, model: str) -> Price:
        """The price of ``model`` in ``table``; `UnknownNameError` lists the priced models."""
        models = self[table].models
        if model not in models:
            known = ", ".join(sorted(models))
            raise UnknownNameError(
                f"price table {table!r} has no price for {model!r}; priced: {known}"
            )
        return models[model]

    def with_overrides(self, overrides: Mapping[str, Any], *, path: str = "pricing") -> Pricing:
        """A copy with user data merged in: per model, the fields given replace the defaults.

        >>> from patter_core.pricing import Pricing
        >>> p = Pricing({}).with_overrides({"acme": {"models": {"in": {"per_minute": "0.01"}},
        ...     "source": "contract", "as_of": "2026-11-01"}})
        >>> p["acme"].models["in"].per_minute
        Decimal('0.01')
        """
        if not isinstance(overrides, Mapping):
            raise ConfigError(f"expected a table of price tables, got {overrides!r} @ {path}")
        tables = dict(self._tables)
        for name, patch in overrides.items():
            where = f"{path}.{name}"
            if not isinstance(patch, Mapping):
                raise ConfigError(f"expected a price table, got {patch!r} @ {where}")
            unknown = sorted(set(patch) - set(_TABLE_KEYS))
            if unknown:
                raise ConfigError(
                    f"unknown key(s) {unknown} @ {where}; allowed: {', '.join(_TABLE_KEYS)}"
                )
            base: dict[str, Any] = unstructure(tables[name]) if name in tables else {"models": {}}
            base.pop("name", None)
            models = dict(base["models"])
            for model, fields in (patch.get("models") or {}).items():
                if isinstance(fields, Mapping) and model in models:
                    kept = {k: v for k, v in models[model].items() if v is not None}
                    models[model] = {**kept, **fields}
                else:
                    models[model] = fields
            merged = {**base, **patch, "models": models, "name": name}
            if name in tables and "source" not in patch:
                merged["source"] = f"user override of: {tables[name].source}"
            tables[name] = structure(merged, PriceTable, path=where)
        return Pricing(tables)


def tokens_cost(usage: TokenUsage, price: TokenPrice) -> Decimal:
    """USD for one response's tokens; cached input at the cached rate when one is declared."""

    def cost(tokens: int, per_million: Decimal) -> Decimal:
        return Decimal(tokens) * per_million / _MILLION

    image_in = price.image_input if price.image_input is not None else price.text_input
    return (
        cost(usage.input_text - usage.cached_text, price.text_input)
        + cost(usage.cached_text, _or(price.text_cached_input, price.text_input))
        + cost(usage.input_audio - usage.cached_audio, price.audio_input)
        + cost(usage.cached_audio, _or(price.audio_cached_input, price.audio_input))
        + cost(usage.input_image - usage.cached_image, image_in)
        + cost(usage.cached_image, _or(price.image_cached_input, image_in))
        + cost(usage.output_text, price.text_output)
        + cost(usage.output_audio, price.audio_output)
    )


def _or(value: Decimal | None, fallback: Decimal) -> Decimal:
    return fallback if value is None else value


def billed_seconds(seconds: float, price: MinutePrice) -> int:
    """Seconds as the seller bills them: rounded up to whole ``increment_s``."""
    if seconds <= 0:
        return 0
    return math.ceil(seconds / price.increment_s - 1e-9) * price.increment_s


def minutes_cost(seconds: float, price: MinutePrice) -> Decimal:
    """USD for ``seconds`` of a per-minute service, rounded up as the seller bills."""
    return Decimal(billed_seconds(seconds, price)) * price.per_minute / Decimal(60)


@frozen
class CostBreakdown:
    """What one call cost, by who bills it (USD, exact `Decimal`)."""

    engine: Decimal = Decimal(0)
    transcription: Decimal = Decimal(0)
    carrier: Decimal = Decimal(0)
    currency: str = "USD"
    total: Decimal = field(init=False)

    @total.default
    def _total(self) -> Decimal:
        return self.engine + self.transcription + self.carrier


def call_cost(
    pricing: Pricing,
    *,
    engine: str,
    model: str,
    usage: TokenUsage | None = None,
    transcription_model: str | None = None,
    transcription_seconds: float = 0.0,
    carrier: str | None = None,
    carrier_leg: str = "inbound",
    call_seconds: float = 0.0,
) -> CostBreakdown:
    """Price a call from its total token usage, transcribed seconds and call length.

    The engine's table is named after the engine and keyed by model (transcription models
    included); the carrier's table is named after the carrier and keyed by call leg.
    """
    engine_price = pricing.price(engine, model)
    if isinstance(engine_price, TokenPrice):
        engine_cost = tokens_cost(usage or TokenUsage(), engine_price)
    else:
        engine_cost = minutes_cost(call_seconds, engine_price)
    transcription = Decimal(0)
    if transcription_model and transcription_seconds > 0:
        t_price = pricing.price(engine, transcription_model)
        if not isinstance(t_price, MinutePrice):
            raise ConfigError(
                f"transcription model {transcription_model!r} in table {engine!r} must have a "
                "per-minute price (per_minute)"
            )
        transcription = minutes_cost(transcription_seconds, t_price)
    carrier_cost = Decimal(0)
    if carrier is not None and call_seconds > 0:
        c_price = pricing.price(carrier, carrier_leg)
        if not isinstance(c_price, MinutePrice):
            raise ConfigError(f"carrier leg {carrier_leg!r} in table {carrier!r} needs per_minute")
        carrier_cost = minutes_cost(call_seconds, c_price)
    return CostBreakdown(engine=engine_cost, transcription=transcription, carrier=carrier_cost)


class _DefaultPricing(Mapping[str, PriceTable]):
    """Price tables of the installed plugins, assembled on first use."""

    def __init__(self) -> None:
        self._pricing: Pricing | None = None

    def _load(self) -> Pricing:
        if self._pricing is None:
            from .registry import Registry

            self._pricing = Registry().pricing()
        return self._pricing

    def __getitem__(self, name: str) -> PriceTable:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return f"DEFAULT_PRICING({sorted(self._load())})"


DEFAULT_PRICING: Mapping[str, PriceTable] = _DefaultPricing()
