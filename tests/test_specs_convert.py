"""The shared cattrs converter (user and plugin data → spec records) and the frozen specs."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from patter_core.convert import structure, unstructure
from patter_core.errors import ConfigError, PatterError
from patter_core.specs import (
    PCM16_24K,
    PCMU_8K,
    AudioFormat,
    CarrierCapabilities,
    CarrierSpec,
    EngineCapabilities,
    EngineSpec,
    MinutePrice,
    ModelSpec,
    PriceTable,
    RouteSpec,
    TokenPrice,
    TranscriptionModelSpec,
)


def error_lines(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    """The ``<what> @ <path>`` lines of a structuring error, in order."""
    head, *lines = str(exc.value).split("\n")
    assert head == "invalid configuration:"
    return [line.strip() for line in lines]


TOKEN_PRICE = {"text_input": "4", "text_output": "24", "audio_input": "32", "audio_output": "64"}


# --- unknown keys --------------------------------------------------------------------------


def test_unknown_key_is_rejected_with_its_path_and_the_allowed_keys() -> None:
    with pytest.raises(ConfigError) as caught:
        structure({"per_minute": "0.01", "per_minut": "0.02"}, MinutePrice, path="pricing.twilio")

    assert error_lines(caught) == [
        "unknown key (allowed: per_minute, increment_s) @ pricing.twilio.per_minut"
    ]


def test_unknown_keys_deep_inside_a_price_table_each_get_their_own_line() -> None:
    data = {
        "name": "acme",
        "models": {"fast": {**TOKEN_PRICE, "audio_inptu": "1", "zz": 0}},
        "source": "list",
        "as_of": "2026-11-01",
        "sorce": "typo",
    }

    with pytest.raises(ConfigError) as caught:
        structure(data, PriceTable, path="pricing.acme")

    allowed_token = ", ".join(a.name for a in attrs.fields(TokenPrice))
    assert error_lines(caught) == [
        f"unknown key (allowed: {allowed_token}) @ pricing.acme.models['fast'].audio_inptu",
        f"unknown key (allowed: {allowed_token}) @ pricing.acme.models['fast'].zz",
        "unknown key (allowed: name, models, source, as_of, currency, notes) @ pricing.acme.sorce",
    ]


# --- strict scalars ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["true", "false", 1, 0, None, "yes", 1.0])
@pytest.mark.parametrize(
    ("cls", "field"),
    [(CarrierCapabilities, "inbound"), (EngineCapabilities, "truncate"), (ModelSpec, "tools")],
)
def test_bools_must_be_real_booleans(cls: type, field: str, value: object) -> None:
    data: dict[str, object] = {field: value}
    if cls is ModelSpec:
        data["name"] = "m"

    with pytest.raises(ConfigError) as caught:
        structure(data, cls, path="cfg")

    assert error_lines(caught) == [f"expected true or false, got {value!r} @ cfg.{field}"]


@pytest.mark.parametrize("value", [True, False])
def test_real_booleans_are_accepted(value: bool) -> None:
    assert structure({"dtmf": value}, CarrierCapabilities).dtmf is value


@pytest.mark.parametrize("value", ["60", 60.0, True, None])
def test_whole_numbers_must_be_ints(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        structure({"per_minute": "1", "increment_s": value}, MinutePrice, path="p")

    assert error_lines(caught) == [f"expected a whole number, got {value!r} @ p.increment_s"]


@pytest.mark.parametrize("value", [1, None, ["a"]])
def test_text_must_be_text(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        structure({"name": value}, TranscriptionModelSpec, path="t")

    assert error_lines(caught) == [f"expected text, got {value!r} @ t.name"]


def test_literal_fields_list_the_allowed_values() -> None:
    with pytest.raises(ConfigError) as caught:
        structure({"name": "m", "status": "retired"}, ModelSpec, path="models[0]")

    assert error_lines(caught) == [
        "must be one of 'active', 'deprecated', 'shut_down', got 'retired' @ models[0].status"
    ]


@pytest.mark.parametrize("value", ["2026-13-01", "next week", 20261101])
def test_dates_must_be_iso_dates(value: object) -> None:
    data = {"name": "t", "models": {}, "source": "s", "as_of": value}

    with pytest.raises(ConfigError) as caught:
        structure(data, PriceTable, path="pricing.t")

    assert error_lines(caught) == [
        f"expected a date such as '2026-11-24', got {value!r} @ pricing.t.as_of"
    ]


def test_iso_dates_are_accepted() -> None:
    data = {"name": "t", "models": {}, "source": "s", "as_of": "2026-11-24"}

    assert structure(data, PriceTable).as_of == dt.date(2026, 11, 24)


@pytest.mark.parametrize("value", ["low", {"low": True}])
def test_a_list_field_refuses_text_and_tables(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        structure({"name": "m", "reasoning_efforts": value}, ModelSpec, path="m")

    assert error_lines(caught) == [f"expected a list, got {value!r} @ m.reasoning_efforts"]


def test_list_items_are_checked_with_their_index() -> None:
    data = {
        "name": "m",
        "voices": ["marin", 7],
        "audio_formats": [{"encoding": "pcmu", "sample_rate": 8000}, "pcm16"],
    }

    with pytest.raises(ConfigError) as caught:
        structure(data, ModelSpec, path="m")

    assert error_lines(caught) == [
        "expected text, got 7 @ m.voices[1]",
        "expected a table of AudioFormat fields, got 'pcm16' @ m.audio_formats[1]",
    ]


def test_a_model_spec_structures_from_plain_data() -> None:
    data = {
        "name": "m",
        "reasoning_efforts": ["low", "high"],
        "audio_formats": [{"encoding": "pcmu", "sample_rate": 8000}],
        "status": "deprecated",
        "retires_on": "2027-01-20",
    }

    model = structure(data, ModelSpec)

    assert model == ModelSpec(
        "m",
        reasoning_efforts=("low", "high"),
        audio_formats=(PCMU_8K,),
        status="deprecated",
        retires_on=dt.date(2027, 1, 20),
    )


# --- money ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.006", Decimal("0.006")),
        (0.006, Decimal("0.006")),
        (0.0085, Decimal("0.0085")),
        (0.1, Decimal("0.1")),
        (32, Decimal("32")),
        (0, Decimal("0")),
        ("12.50", Decimal("12.50")),
        (Decimal("0.017"), Decimal("0.017")),
    ],
)
def test_money_becomes_an_exact_decimal(value: object, expected: Decimal) -> None:
    price = structure({"per_minute": value}, MinutePrice)

    assert type(price.per_minute) is Decimal
    assert price.per_minute == expected
    assert str(price.per_minute) == str(expected)


def test_a_float_is_read_as_the_number_it_prints_as_not_its_binary_value() -> None:
    assert Decimal.from_float(0.006) != Decimal("0.006")  # the trap the converter avoids
    assert structure({"per_minute": 0.006}, MinutePrice).per_minute == Decimal("0.006")


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_any_non_negative_float_becomes_its_shortest_decimal(value: float) -> None:
    amount = structure({"per_minute": value}, MinutePrice).per_minute

    assert amount == Decimal(repr(value))
    assert float(amount) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "expected an amount such as '0.006', got 'abc'"),
        ("", "expected an amount such as '0.006', got ''"),
        ("1,5", "expected an amount such as '0.006', got '1,5'"),
        ("$0.01", "expected an amount such as '0.006', got '$0.01'"),
        (None, "expected an amount such as '0.006', got None"),
        ([1], "expected an amount such as '0.006', got [1]"),
        (True, "expected an amount, got True"),
        (-1, "expected a non-negative amount, got -1"),
        ("-0.01", "expected a non-negative amount, got '-0.01'"),
        (-0.5, "expected a non-negative amount, got -0.5"),
        (float("nan"), "expected a non-negative amount, got nan"),
        (float("inf"), "expected a non-negative amount, got inf"),
        ("Infinity", "expected a non-negative amount, got 'Infinity'"),
        ("NaN", "expected a non-negative amount, got 'NaN'"),
    ],
)
def test_non_numeric_and_negative_prices_are_rejected_with_their_path(
    value: object, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        structure({**TOKEN_PRICE, "audio_output": value}, TokenPrice, path="prices.m")

    assert error_lines(caught) == [f"{message} @ prices.m.audio_output"]


# --- every error, with its path ------------------------------------------------------------


def test_every_error_of_one_structure_call_is_reported() -> None:
    data = {
        "name": "acme",
        "models": {
            "fast": {"text_input": "x", "text_output": -2, "audio_input": "1"},
            "line": {"per_minute": "0.01", "increment_s": "60"},
            "bad": 3,
        },
        "source": 12,
        "as_of": "yesterday",
        "currency": "USD",
        "colour": "blue",
    }

    with pytest.raises(ConfigError) as caught:
        structure(data, PriceTable, path="pricing.acme")

    assert error_lines(caught) == [
        "expected an amount such as '0.006', got 'x' @ pricing.acme.models['fast'].text_input",
        "expected a non-negative amount, got -2 @ pricing.acme.models['fast'].text_output",
        "required field missing @ pricing.acme.models['fast'].audio_output",
        "expected a whole number, got '60' @ pricing.acme.models['line'].increment_s",
        "expected a table of prices, got 3 @ pricing.acme.models['bad']",
        "expected text, got 12 @ pricing.acme.source",
        "expected a date such as '2026-11-24', got 'yesterday' @ pricing.acme.as_of",
        "unknown key (allowed: name, models, source, as_of, currency, notes) @ pricing.acme.colour",
    ]


def test_the_default_root_path_is_dollar() -> None:
    with pytest.raises(ConfigError) as caught:
        structure({"per_minute": "no"}, MinutePrice)

    assert error_lines(caught) == ["expected an amount such as '0.006', got 'no' @ $.per_minute"]


@pytest.mark.parametrize("data", ["0.006", 5, None, ["per_minute", "0.006"], ("a",)])
@pytest.mark.parametrize("cls", [MinutePrice, TokenPrice, PriceTable])
def test_data_that_is_not_a_table_gets_a_readable_message(data: object, cls: type) -> None:
    with pytest.raises(ConfigError) as caught:
        structure(data, cls, path="pricing.x")

    assert error_lines(caught) == [
        f"expected a table of {cls.__name__} fields, got {data!r} @ pricing.x"
    ]
    assert "unknown error" not in str(caught.value)
    assert "attribute" not in str(caught.value)


def test_config_errors_belong_to_the_patter_family() -> None:
    assert issubclass(ConfigError, PatterError)


# --- round trips ---------------------------------------------------------------------------


PRICE_TABLE = PriceTable(
    name="acme",
    models={
        "fast": TokenPrice(
            text_input=Decimal("4.00"),
            text_output=Decimal("24.00"),
            audio_input=Decimal("32.00"),
            audio_output=Decimal("64.00"),
            text_cached_input=Decimal("0.40"),
            audio_cached_input=Decimal("0.40"),
            image_input=Decimal("5.00"),
            image_cached_input=Decimal("0.50"),
        ),
        "cheap": TokenPrice(
            text_input=Decimal("0.6"),
            text_output=Decimal("2.4"),
            audio_input=Decimal("10"),
            audio_output=Decimal("20"),
        ),
        "ears": MinutePrice(per_minute=Decimal("0.017"), increment_s=1),
        "line": MinutePrice(per_minute=Decimal("0.0085")),
    },
    source="https://example.com/pricing",
    as_of=dt.date(2026, 11, 24),
    notes="test table",
)


def test_price_table_unstructures_to_json_ready_data() -> None:
    data = unstructure(PRICE_TABLE)

    assert data["as_of"] == "2026-11-24"
    assert data["models"]["line"] == {"per_minute": "0.0085", "increment_s": 60}
    assert data["models"]["fast"]["text_cached_input"] == "0.40"
    assert data["models"]["cheap"]["image_input"] is None
    assert json.loads(json.dumps(data)) == data


def test_price_table_round_trips_through_json() -> None:
    again = structure(json.loads(json.dumps(unstructure(PRICE_TABLE))), PriceTable)

    assert again == PRICE_TABLE
    assert type(again.models["ears"]) is MinutePrice
    assert type(again.models["cheap"]) is TokenPrice
    assert str(again.models["fast"].text_input) == "4.00"  # type: ignore[union-attr]


def test_first_party_price_tables_round_trip() -> None:
    from patter_core.registry import Registry

    tables = Registry().price_tables
    assert tables, "no price tables registered"
    for registered in tables.values():
        assert structure(unstructure(registered.item), PriceTable) == registered.item


money = st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False)
optional_money = st.none() | money
token_prices = st.builds(
    TokenPrice,
    text_input=money,
    text_output=money,
    audio_input=money,
    audio_output=money,
    text_cached_input=optional_money,
    audio_cached_input=optional_money,
    image_input=optional_money,
    image_cached_input=optional_money,
)
minute_prices = st.builds(MinutePrice, per_minute=money, increment_s=st.integers(1, 3600))


@given(token_prices)
def test_any_token_price_round_trips(price: TokenPrice) -> None:
    assert structure(unstructure(price), TokenPrice) == price


@given(minute_prices)
def test_any_minute_price_round_trips(price: MinutePrice) -> None:
    assert structure(unstructure(price), MinutePrice) == price


@given(st.dictionaries(st.text(min_size=1, max_size=20), token_prices | minute_prices, max_size=5))
def test_any_price_table_round_trips_keeping_each_price_kind(models: dict[str, object]) -> None:
    table = PriceTable(name="t", models=models, source="s", as_of=dt.date(2026, 1, 1))  # type: ignore[arg-type]

    again = structure(json.loads(json.dumps(unstructure(table))), PriceTable)

    assert again == table
    assert {k: type(v) for k, v in again.models.items()} == {k: type(v) for k, v in models.items()}


# --- frozen specs --------------------------------------------------------------------------

SPECS = [
    (AudioFormat("pcmu", 8000), "sample_rate", 16000),
    (ModelSpec("m"), "tools", False),
    (TranscriptionModelSpec("t"), "streaming", True),
    (EngineCapabilities(), "truncate", False),
    (EngineSpec(name="e", factory=object, models=[ModelSpec("m")]), "name", "other"),
    (CarrierCapabilities(), "outbound", True),
    (RouteSpec("voice", "/voice"), "path", "/other"),
    (CarrierSpec(name="c", factory=object, audio_format=PCMU_8K), "audio_format", PCM16_24K),
    (MinutePrice(per_minute=Decimal("1")), "per_minute", Decimal("0")),
    (TokenPrice(*(Decimal(1),) * 4), "audio_output", Decimal("0")),
    (PRICE_TABLE, "source", "elsewhere"),
]


@pytest.mark.parametrize(
    ("spec", "field", "value"), SPECS, ids=[type(s[0]).__name__ for s in SPECS]
)
def test_specs_are_frozen(spec: object, field: str, value: object) -> None:
    before = getattr(spec, field)

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(spec, field, value)

    assert getattr(spec, field) == before


def test_spec_sequences_become_tuples_so_they_cannot_be_mutated() -> None:
    model = ModelSpec("m", reasoning_efforts=["low"], voices="marin", audio_formats=[PCMU_8K])
    engine = EngineSpec(name="e", factory=object, models=[model])

    assert model.reasoning_efforts == ("low",)
    assert model.voices == ("marin",)  # one voice given as text is one voice, not five letters
    assert model.audio_formats == (PCMU_8K,)
    assert engine.models == (model,)


def test_audio_format_prints_as_encoding_at_rate() -> None:
    assert str(PCMU_8K) == "pcmu@8000"
    assert str(PCM16_24K) == "pcm16@24000"


def test_a_price_tables_models_cannot_be_changed_in_place() -> None:
    source = {"line": MinutePrice(per_minute=Decimal("0.0085"))}
    table = PriceTable(name="t", models=source, source="s", as_of=dt.date(2026, 1, 1))
    source["line"] = MinutePrice(per_minute=Decimal("9"))  # the caller's dict is not shared

    with pytest.raises(TypeError):
        table.models["line"] = MinutePrice(per_minute=Decimal("0"))  # type: ignore[index]

    assert table.models["line"] == MinutePrice(per_minute=Decimal("0.0085"))
