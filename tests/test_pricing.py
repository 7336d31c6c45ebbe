"""Default prices from the installed plugins, user overrides, and the per-call cost calculator.

Expected prices are typed in from PROTOCOLS.md §A.11 (OpenAI) and §B.9 (Twilio); expected
costs are worked out by hand in the comments next to each figure.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from decimal import Decimal

import pytest

from patter_core import DEFAULT_PRICING, CostBreakdown, Patter, call_cost
from patter_core.engine import TokenUsage
from patter_core.errors import ConfigError, UnknownNameError
from patter_core.pricing import billed_seconds, minutes_cost, tokens_cost
from patter_core.registry import Registry
from patter_core.specs import MinutePrice, TokenPrice

D = Decimal

# --- the default tables ----------------------------------------------------------------------

# PROTOCOLS.md §A.11, USD per 1M tokens:
# text in, text cached, text out, audio in, audio cached, audio out, image in, image cached
A11 = {
    "gpt-realtime-2": ("4.00", "0.40", "24.00", "32.00", "0.40", "64.00", "5.00", "0.50"),
    "gpt-realtime-2.1": ("4.00", "0.40", "24.00", "32.00", "0.40", "64.00", "5.00", "0.50"),
    "gpt-realtime-2.1-mini": ("0.60", "0.06", "2.40", "10.00", "0.30", "20.00", "0.80", "0.08"),
    "gpt-realtime-1.5": ("4.00", "0.40", "16.00", "32.00", "0.40", "64.00", "5.00", "0.50"),
    "gpt-realtime": ("4.00", "0.40", "16.00", "32.00", "0.40", "64.00", "5.00", "0.50"),
    # image prices unconfirmed [U] for gpt-realtime-mini, none for the 4o previews
    "gpt-realtime-mini": ("0.60", "0.06", "2.40", "10.00", "0.30", "20.00", None, None),
    # $40/$80 audio on OpenAI's current page, not the $100/$200 of older tables
    "gpt-4o-realtime-preview": ("5.00", "2.50", "20.00", "40.00", "2.50", "80.00", None, None),
    "gpt-4o-mini-realtime-preview": (
        "0.60", "0.30", "2.40", "10.00", "0.30", "20.00", None, None,
    ),
}  # fmt: skip

# PROTOCOLS.md §A.11 per-minute table, USD per minute of audio, billed by the second.
PER_MINUTE = {
    "whisper-1": "0.006",
    "gpt-4o-mini-transcribe": "0.003",
    "gpt-4o-transcribe": "0.006",
    "gpt-realtime-whisper": "0.017",
    "gpt-realtime-translate": "0.034",
}

# PROTOCOLS.md §B.9, USD per minute, billed per started minute.
TWILIO = {"inbound": "0.0085", "outbound": "0.013", "inbound-toll-free": "0.022"}


def openai_price(model: str) -> TokenPrice:
    price = DEFAULT_PRICING["openai_realtime"].models[model]
    assert isinstance(price, TokenPrice)
    return price


def test_default_pricing_resolves_a_model_price_without_configuration() -> None:
    price = DEFAULT_PRICING["openai_realtime"].models["gpt-realtime-2"]

    assert price == TokenPrice(
        text_input=D("4.00"),
        text_cached_input=D("0.40"),
        text_output=D("24.00"),
        audio_input=D("32.00"),
        audio_cached_input=D("0.40"),
        audio_output=D("64.00"),
        image_input=D("5.00"),
        image_cached_input=D("0.50"),
    )


def test_default_pricing_is_assembled_lazily_from_the_installed_plugins() -> None:
    script = textwrap.dedent(
        """
        import sys
        import patter_core

        def plugin_modules():
            names = ("patter_openai", "patter_twilio")
            return sorted(m for m in sys.modules if m.startswith(names))

        assert plugin_modules() == [], plugin_modules()
        price = patter_core.DEFAULT_PRICING["openai_realtime"].models["gpt-realtime-2"]
        assert "patter_openai_realtime.plugin" in plugin_modules(), plugin_modules()
        print(price.audio_output)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "64.00"


def test_default_pricing_holds_every_installed_price_table() -> None:
    assert sorted(DEFAULT_PRICING) == sorted(Registry().price_tables)
    assert {"openai_realtime", "twilio"} <= set(DEFAULT_PRICING)


@pytest.mark.parametrize("model", sorted(A11))
def test_openai_token_prices_match_the_protocol_notes(model: str) -> None:
    text_in, text_cached, text_out, audio_in, audio_cached, audio_out, image_in, image_cached = (
        None if v is None else D(v) for v in A11[model]
    )

    price = openai_price(model)

    assert price.text_input == text_in
    assert price.text_cached_input == text_cached
    assert price.text_output == text_out
    assert price.audio_input == audio_in
    assert price.audio_cached_input == audio_cached
    assert price.audio_output == audio_out
    assert price.image_input == image_in
    assert price.image_cached_input == image_cached


def test_gpt_4o_realtime_preview_uses_the_current_audio_prices() -> None:
    price = openai_price("gpt-4o-realtime-preview")

    assert (price.audio_input, price.audio_output) == (D("40"), D("80"))
    assert "$40/$80" in DEFAULT_PRICING["openai_realtime"].notes


@pytest.mark.parametrize(("model", "per_minute"), sorted(PER_MINUTE.items()))
def test_per_minute_openai_prices_match_the_protocol_notes(model: str, per_minute: str) -> None:
    price = DEFAULT_PRICING["openai_realtime"].models[model]

    assert price == MinutePrice(per_minute=D(per_minute), increment_s=1)


@pytest.mark.parametrize(("leg", "per_minute"), sorted(TWILIO.items()))
def test_twilio_prices_match_the_protocol_notes(leg: str, per_minute: str) -> None:
    price = DEFAULT_PRICING["twilio"].models[leg]

    assert price == MinutePrice(per_minute=D(per_minute), increment_s=60)


def test_every_table_says_where_its_prices_come_from() -> None:
    for name in ("openai_realtime", "twilio"):
        table = DEFAULT_PRICING[name]
        assert table.source.strip()
        assert table.as_of.isoformat() == "2026-11-24"
        assert table.currency == "USD"


def test_every_declared_model_has_a_price() -> None:
    registry = Registry()
    pricing = registry.pricing()
    engine = registry.engine("openai_realtime").item

    for name in [m.name for m in engine.models] + [t.name for t in engine.transcription_models]:
        pricing.price("openai_realtime", name)  # raises UnknownNameError when missing
    assert sorted(pricing["openai_realtime"].models) == sorted(
        {m.name for m in engine.models} | {t.name for t in engine.transcription_models}
    )


def test_an_unpriced_model_error_lists_the_priced_ones() -> None:
    with pytest.raises(UnknownNameError) as caught:
        Registry().pricing().price("twilio", "sip")

    assert str(caught.value) == (
        "price table 'twilio' has no price for 'sip'; priced: inbound, inbound-toll-free, outbound"
    )


def test_an_unknown_price_table_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"no price table named 'vonage'; known: "):
        DEFAULT_PRICING["vonage"]


# --- overrides -------------------------------------------------------------------------------


def test_a_partial_override_replaces_only_the_fields_given() -> None:
    phone = Patter(
        pricing={"openai_realtime": {"models": {"gpt-realtime-2": {"audio_input": "30"}}}}
    )

    assert phone.pricing["openai_realtime"].models["gpt-realtime-2"] == TokenPrice(
        text_input=D("4.00"),
        text_cached_input=D("0.40"),
        text_output=D("24.00"),
        audio_input=D("30"),  # the only field given
        audio_cached_input=D("0.40"),
        audio_output=D("64.00"),
        image_input=D("5.00"),
        image_cached_input=D("0.50"),
    )
    table = phone.pricing["openai_realtime"]
    assert table.source.startswith("user override of: ")
    assert table.models["gpt-realtime-mini"] == openai_price("gpt-realtime-mini")
    assert phone.pricing["twilio"] == DEFAULT_PRICING["twilio"]


def test_an_override_changes_neither_the_defaults_nor_other_instances() -> None:
    Patter(pricing={"twilio": {"models": {"inbound": {"per_minute": "0.001"}}}})

    assert DEFAULT_PRICING["twilio"].models["inbound"] == MinutePrice(per_minute=D("0.0085"))
    assert Patter().pricing["twilio"].models["inbound"] == MinutePrice(per_minute=D("0.0085"))


def test_a_float_override_becomes_the_decimal_it_prints_as() -> None:
    phone = Patter(pricing={"twilio": {"models": {"inbound": {"per_minute": 0.007}}}})

    assert phone.pricing["twilio"].models["inbound"] == MinutePrice(D("0.007"), increment_s=60)


def test_a_new_model_needs_every_required_price() -> None:
    with pytest.raises(ConfigError) as caught:
        Patter(pricing={"openai_realtime": {"models": {"gpt-realtime-3": {"audio_input": "1"}}}})

    path = "pricing.openai_realtime.models['gpt-realtime-3']"
    assert str(caught.value).splitlines()[1:] == [
        f"  required field missing @ {path}.text_input",
        f"  required field missing @ {path}.text_output",
        f"  required field missing @ {path}.audio_output",
    ]


def test_a_new_model_with_every_required_price_is_added() -> None:
    prices = {"text_input": 1, "text_output": 2, "audio_input": "3", "audio_output": "4.5"}

    phone = Patter(pricing={"openai_realtime": {"models": {"gpt-realtime-3": prices}}})

    assert phone.pricing.price("openai_realtime", "gpt-realtime-3") == TokenPrice(
        text_input=D(1), text_output=D(2), audio_input=D(3), audio_output=D("4.5")
    )


def test_a_typo_in_a_price_key_names_its_path() -> None:
    with pytest.raises(ConfigError) as caught:
        Patter(pricing={"openai_realtime": {"models": {"gpt-realtime-2": {"audio_inptu": "1"}}}})

    assert "@ pricing.openai_realtime.models['gpt-realtime-2'].audio_inptu" in str(caught.value)
    assert "allowed: text_input, text_output, audio_input" in str(caught.value)


def test_a_non_numeric_price_names_its_path_and_value() -> None:
    with pytest.raises(ConfigError) as caught:
        Patter(
            pricing={"openai_realtime": {"models": {"gpt-realtime-2": {"audio_input": "cheap"}}}}
        )

    assert str(caught.value).splitlines()[1:] == [
        "  expected an amount such as '0.006', got 'cheap' "
        "@ pricing.openai_realtime.models['gpt-realtime-2'].audio_input"
    ]


def test_a_typo_in_a_table_key_names_the_table_and_the_allowed_keys() -> None:
    with pytest.raises(ConfigError) as caught:
        Patter(pricing={"openai_realtime": {"modles": {}}})

    assert str(caught.value) == (
        "unknown key(s) ['modles'] @ pricing.openai_realtime; "
        "allowed: models, source, as_of, currency, notes"
    )


def test_a_new_table_needs_its_source_and_date() -> None:
    with pytest.raises(ConfigError) as caught:
        Patter(pricing={"acme": {"models": {"inbound": {"per_minute": "0.01"}}}})

    assert str(caught.value).splitlines()[1:] == [
        "  required field missing @ pricing.acme.source",
        "  required field missing @ pricing.acme.as_of",
    ]

    phone = Patter(
        pricing={
            "acme": {
                "models": {"inbound": {"per_minute": "0.01"}},
                "source": "our contract",
                "as_of": "2026-11-01",
            }
        }
    )
    assert phone.pricing["acme"].source == "our contract"
    assert phone.pricing.price("acme", "inbound") == MinutePrice(per_minute=D("0.01"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["twilio"], "expected a table of price tables, got ['twilio'] @ pricing"),
        ({"twilio": "cheap"}, "expected a price table, got 'cheap' @ pricing.twilio"),
    ],
)
def test_overrides_that_are_not_tables_are_rejected(overrides: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Patter(pricing=overrides)  # type: ignore[arg-type]

    assert str(caught.value) == message


# --- the cost calculator ---------------------------------------------------------------------


def test_tokens_cost_of_the_worked_example() -> None:
    # gpt-realtime-2: 1,000 uncached + 200 cached audio in, 300 text in, 2,000 audio out.
    usage = TokenUsage(input_audio=1_200, cached_audio=200, input_text=300, output_audio=2_000)

    # 1,000 × $32/1M   = 0.032      uncached audio in
    #   200 × $0.40/1M = 0.00008    cached audio in
    #   300 × $4/1M    = 0.0012     text in
    # 2,000 × $64/1M   = 0.128      audio out
    #                    0.16128
    assert tokens_cost(usage, openai_price("gpt-realtime-2")) == D("0.16128")


def test_tokens_cost_of_every_token_kind_at_its_own_rate() -> None:
    usage = TokenUsage(
        input_text=5_000,
        cached_text=4_000,
        input_audio=10_000,
        cached_audio=6_000,
        input_image=1_000,
        cached_image=400,
        output_text=500,
        output_audio=3_000,
    )

    # gpt-realtime-2:
    # 1,000 uncached text  × $4/1M    = 0.004
    # 4,000 cached text    × $0.40/1M = 0.0016
    # 4,000 uncached audio × $32/1M   = 0.128
    # 6,000 cached audio   × $0.40/1M = 0.0024
    #   600 uncached image × $5/1M    = 0.003
    #   400 cached image   × $0.50/1M = 0.0002
    #   500 text out       × $24/1M   = 0.012
    # 3,000 audio out      × $64/1M   = 0.192
    #                                   0.3432
    assert tokens_cost(usage, openai_price("gpt-realtime-2")) == D("0.3432")


def test_tokens_cost_on_the_mini_model() -> None:
    usage = TokenUsage(
        input_audio=20_000,
        cached_audio=15_000,
        input_text=2_000,
        cached_text=1_500,
        output_audio=6_000,
        output_text=1_200,
    )

    # gpt-realtime-mini:
    #  5,000 uncached audio × $10/1M   = 0.05
    # 15,000 cached audio   × $0.30/1M = 0.0045
    #    500 uncached text  × $0.60/1M = 0.0003
    #  1,500 cached text    × $0.06/1M = 0.00009
    #  6,000 audio out      × $20/1M   = 0.12
    #  1,200 text out       × $2.40/1M = 0.00288
    #                                    0.17777
    assert tokens_cost(usage, openai_price("gpt-realtime-mini")) == D("0.17777")


def test_image_tokens_without_an_image_price_cost_the_text_input_rate() -> None:
    usage = TokenUsage(input_image=1_000, cached_image=400)

    # gpt-realtime-mini declares no image price: all 1,000 × $0.60/1M (text in) = 0.0006;
    # with no cached image price either, the 400 cached ones cost the same rate.
    assert tokens_cost(usage, openai_price("gpt-realtime-mini")) == D("0.0006")
    # gpt-realtime-2.1-mini has image prices: 600 × $0.80/1M + 400 × $0.08/1M
    #                                        = 0.00048 + 0.000032 = 0.000512
    assert tokens_cost(usage, openai_price("gpt-realtime-2.1-mini")) == D("0.000512")


def test_cached_tokens_cost_the_full_rate_when_no_cached_rate_is_declared() -> None:
    price = TokenPrice(
        text_input=D("2"), text_output=D("8"), audio_input=D("40"), audio_output=D("80")
    )
    usage = TokenUsage(input_audio=1_000, cached_audio=500, input_text=100, cached_text=100)

    # 1,000 audio × $40/1M = 0.04 (500 of them cached, no cached rate);
    #   100 text  × $2/1M  = 0.0002 (all cached, no cached rate)
    assert tokens_cost(usage, price) == D("0.0402")


def test_no_tokens_cost_nothing() -> None:
    assert tokens_cost(TokenUsage(), openai_price("gpt-realtime-2")) == 0


def test_usage_of_several_responses_adds_up() -> None:
    first = TokenUsage(input_text=10, input_audio=100, cached_audio=20, output_audio=300)
    second = TokenUsage(input_text=1, input_image=5, cached_text=1, output_text=7)

    assert first + second == TokenUsage(
        input_text=11,
        input_audio=100,
        input_image=5,
        cached_text=1,
        cached_audio=20,
        output_text=7,
        output_audio=300,
    )


PER_STARTED_MINUTE = MinutePrice(per_minute=D("0.0085"))
PER_SECOND = MinutePrice(per_minute=D("0.006"), increment_s=1)


@pytest.mark.parametrize(
    ("seconds", "price", "billed"),
    [
        (0, PER_STARTED_MINUTE, 0),
        (-3, PER_STARTED_MINUTE, 0),
        (0.2, PER_STARTED_MINUTE, 60),
        (59.99, PER_STARTED_MINUTE, 60),
        (60, PER_STARTED_MINUTE, 60),
        (60.0, PER_STARTED_MINUTE, 60),
        (61, PER_STARTED_MINUTE, 120),
        (sum([0.02] * 3000), PER_STARTED_MINUTE, 60),  # 3,000 frames of 20 ms = 60.00000000000378
        (sum([0.1] * 600), PER_STARTED_MINUTE, 60),  # 60.00000000000058
        (120, PER_STARTED_MINUTE, 120),
        (125.5, PER_STARTED_MINUTE, 180),
        (12.3, PER_SECOND, 13),
        (12.0, PER_SECOND, 12),
        (0.01, PER_SECOND, 1),
        (90, PER_SECOND, 90),
    ],
)
def test_billed_seconds_round_up_to_the_increment(
    seconds: float, price: MinutePrice, billed: int
) -> None:
    assert billed_seconds(seconds, price) == billed


@pytest.mark.parametrize(
    ("seconds", "leg", "expected"),
    [
        (61, "inbound", "0.017"),  # 2 min × $0.0085
        (60, "inbound", "0.0085"),  # 1 min × $0.0085
        (1, "inbound", "0.0085"),  # a started minute is a minute
        (125, "inbound", "0.0255"),  # 3 min × $0.0085
        (61, "outbound", "0.026"),  # 2 min × $0.013
        (0, "outbound", "0"),
    ],
)
def test_carrier_minutes_cost(seconds: float, leg: str, expected: str) -> None:
    price = DEFAULT_PRICING["twilio"].models[leg]
    assert isinstance(price, MinutePrice)

    assert minutes_cost(seconds, price) == D(expected)


@pytest.mark.parametrize(
    ("seconds", "model", "expected"),
    [
        (12.3, "whisper-1", "0.0013"),  # 13 s × $0.006/60
        (90, "gpt-realtime-whisper", "0.0255"),  # 90 s × $0.017/60
        (30, "gpt-realtime-whisper", "0.0085"),  # 30 s × $0.017/60
        (120, "gpt-4o-mini-transcribe", "0.006"),  # 120 s × $0.003/60
        (61, "gpt-4o-transcribe", "0.0061"),  # 61 s × $0.006/60, by the second
    ],
)
def test_transcription_is_billed_by_the_second(seconds: float, model: str, expected: str) -> None:
    price = DEFAULT_PRICING["openai_realtime"].models[model]
    assert isinstance(price, MinutePrice)

    assert minutes_cost(seconds, price) == D(expected)


def test_call_cost_adds_engine_transcription_and_carrier() -> None:
    pricing = Registry().pricing()
    usage = TokenUsage(input_audio=1_200, cached_audio=200, input_text=300, output_audio=2_000)

    cost = call_cost(
        pricing,
        engine="openai_realtime",
        model="gpt-realtime-2",
        usage=usage,
        transcription_model="gpt-realtime-whisper",
        transcription_seconds=90,
        carrier="twilio",
        call_seconds=61,
    )

    # engine:        0.16128 (the worked example above)
    # transcription: 90 s × $0.017/60      = 0.0255
    # carrier:       61 s → 2 min × $0.0085 = 0.017
    # total:         0.16128 + 0.0255 + 0.017 = 0.20378
    assert cost == CostBreakdown(engine=D("0.16128"), transcription=D("0.0255"), carrier=D("0.017"))
    assert cost.total == D("0.20378")
    assert cost.currency == "USD"


def test_call_cost_of_an_outbound_call_without_transcription() -> None:
    cost = call_cost(
        Registry().pricing(),
        engine="openai_realtime",
        model="gpt-realtime-mini",
        usage=TokenUsage(input_audio=1_000, output_audio=1_000),
        carrier="twilio",
        carrier_leg="outbound",
        call_seconds=150,
    )

    # engine:  1,000 × $10/1M + 1,000 × $20/1M = 0.01 + 0.02 = 0.03
    # carrier: 150 s → 3 min × $0.013 = 0.039
    assert (cost.engine, cost.transcription, cost.carrier, cost.total) == (
        D("0.03"),
        D("0"),
        D("0.039"),
        D("0.069"),
    )


def test_call_cost_of_a_per_minute_engine_uses_the_call_length() -> None:
    cost = call_cost(
        Registry().pricing(),
        engine="openai_realtime",
        model="gpt-realtime-translate",
        call_seconds=90,
    )

    # 90 s × $0.034/60 = 0.051; no carrier given
    assert cost == CostBreakdown(engine=D("0.051"))
    assert cost.total == D("0.051")


def test_call_cost_uses_overridden_prices() -> None:
    phone = Patter(pricing={"twilio": {"models": {"inbound": {"per_minute": "0.01"}}}})

    cost = call_cost(
        phone.pricing,
        engine="openai_realtime",
        model="gpt-realtime-2",
        carrier="twilio",
        call_seconds=61,
    )

    assert cost.carrier == D("0.02")  # 2 min × $0.01


def test_call_cost_refuses_a_token_priced_transcription_model() -> None:
    with pytest.raises(ConfigError) as caught:
        call_cost(
            Registry().pricing(),
            engine="openai_realtime",
            model="gpt-realtime-2",
            transcription_model="gpt-realtime-mini",  # token-priced: not a transcription price
            transcription_seconds=10,
        )

    assert "transcription model 'gpt-realtime-mini'" in str(caught.value)
    assert "per-minute price" in str(caught.value)


def test_call_cost_of_an_unpriced_model_lists_the_priced_ones() -> None:
    with pytest.raises(UnknownNameError) as caught:
        call_cost(Registry().pricing(), engine="openai_realtime", model="gpt-5")

    assert "price table 'openai_realtime' has no price for 'gpt-5'" in str(caught.value)
    assert "gpt-realtime-2" in str(caught.value)


def test_cost_breakdown_total_cannot_be_set_by_hand() -> None:
    with pytest.raises(TypeError):
        CostBreakdown(engine=D(1), total=D(5))  # type: ignore[call-arg]
