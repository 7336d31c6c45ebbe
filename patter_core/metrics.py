"""Per-call and per-turn metrics: latency, interruptions, token usage and cost.

The call loop drives a `MetricsCollector` with explicit timestamps (any monotonic clock, in
seconds), so the arithmetic is pure and testable. Run ``python -m patter_core.metrics
--write-docs`` to regenerate the pricing table in ``docs/metrics.md`` from the registry.
"""

from __future__ import annotations

import logging
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from attrs import define, field, frozen

from .engine import TokenUsage
from .pricing import CostBreakdown, Pricing, billed_seconds, call_cost, minutes_cost, tokens_cost
from .specs import MinutePrice, PriceTable, TokenPrice

log = logging.getLogger("patter.metrics")


@frozen
class Percentiles:
    """Nearest-rank percentiles of a sample (None when the sample is empty)."""

    count: int = 0
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Percentiles:
        sample = sorted(v for v in values if v is not None)
        return cls(len(sample), *(percentile(sample, p) for p in (50, 90, 95, 99)))


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile: the smallest value with ``p`` % at or below it.

    >>> percentile([15, 20, 35, 40, 50], 30)
    20
    """
    if not values:
        return None
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    ordered = sorted(values)
    # A tiny epsilon keeps float error in p/100*n from pushing an exact rank up by one.
    rank = max(1, math.ceil(p / 100 * len(ordered) - 1e-9))
    return ordered[rank - 1]


@frozen
class TurnMetrics:
    """One exchange: what the caller said, what the agent answered, how fast, at what cost.

    Times are on the collector's clock (seconds); latencies in milliseconds. ``cost`` is the
    engine's token bill for the turn's responses (cancelled ones included).
    """

    index: int
    user_text: str
    agent_text: str
    user_speech_end_at: float | None
    first_audio_at: float | None
    latency_ms: float | None
    engine_ttfa_ms: float | None
    usage: TokenUsage
    cost: Decimal
    interrupted: bool
    barge_in_reaction_ms: float | None
    responses: int = 0
    transcription_seconds: float = 0.0


@frozen
class CallMetrics:
    """A call's totals: duration, turns, usage, cost and latency percentiles across turns."""

    call_id: str
    engine: str
    model: str
    duration_s: float
    turns: tuple[TurnMetrics, ...]
    cost: CostBreakdown
    usage: TokenUsage
    transcription_seconds: float
    carrier_billed_minutes: Decimal
    latency: Percentiles
    engine_ttfa: Percentiles
    barge_in_reaction: Percentiles
    responses: int = 0
    cancelled_responses: int = 0
    priced: bool = True


@define
class _Turn:
    index: int
    user_item: str = ""
    user_text: str = ""
    speech_end_at: float | None = None
    first_audio_at: float | None = None
    ttfa_ms: float | None = None
    usage: TokenUsage = field(factory=TokenUsage)
    cost: Decimal = Decimal(0)
    agent_texts: dict[str, str] = field(factory=dict)
    interrupted: bool = False
    barge_in_ms: float | None = None
    responses: int = 0
    transcription_seconds: float = 0.0

    def freeze(self) -> TurnMetrics:
        latency = None
        if self.speech_end_at is not None and self.first_audio_at is not None:
            latency = _ms(self.first_audio_at - self.speech_end_at)
        return TurnMetrics(
            index=self.index,
            user_text=self.user_text,
            agent_text=" ".join(t for t in self.agent_texts.values() if t),
            user_speech_end_at=self.speech_end_at,
            first_audio_at=self.first_audio_at,
            latency_ms=latency,
            engine_ttfa_ms=self.ttfa_ms,
            usage=self.usage,
            cost=self.cost,
            interrupted=self.interrupted,
            barge_in_reaction_ms=self.barge_in_ms,
            responses=self.responses,
            transcription_seconds=self.transcription_seconds,
        )


def _table(pricing: Mapping[str, PriceTable], name: str) -> PriceTable | None:
    # Not `name in pricing`: Pricing's lookup raises UnknownNameError, not KeyError.
    return pricing[name] if name in set(pricing) else None


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


class MetricsCollector:
    """Turns a call's timestamped events into `TurnMetrics` and a running `CallMetrics`.

    A turn opens when the caller starts speaking (or sends text); a response that starts
    before any caller input opens turn 0 (the first message). Later responses without new
    caller input (tool follow-ups) belong to the turn that is open.
    """

    def __init__(
        self,
        pricing: Pricing,
        *,
        engine: str,
        model: str,
        transcription_model: str | None = None,
        carrier: str | None = None,
        carrier_leg: str = "inbound",
        call_id: str = "",
        started_at: float = 0.0,
    ) -> None:
        self.pricing = pricing
        self.engine, self.model = engine, model
        self.transcription_model = transcription_model
        self.carrier, self.carrier_leg = carrier, carrier_leg
        self.call_id = call_id
        self.started_at = started_at
        self._turns: list[_Turn] = []
        self._by_user_item: dict[str, _Turn] = {}
        self._by_response: dict[str, _Turn] = {}
        self._response_started: dict[str, float] = {}
        self._by_agent_item: dict[str, _Turn] = {}
        self._done: set[str] = set()
        self._last_speech_started: float | None = None
        self._audio_turn: _Turn | None = None  # the turn whose audio was sent last
        self._usage = TokenUsage()
        self._transcription_seconds = 0.0
        self._cancelled = 0
        price = _table(pricing, engine)
        token_price = price.models.get(model) if price is not None else None
        self._token_price = token_price if isinstance(token_price, TokenPrice) else None
        self.priced = price is not None and token_price is not None
        if not self.priced:
            log.warning("no price for %s model %r: costs are reported as 0", engine, model)
        if transcription_model and (price is None or transcription_model not in price.models):
            log.warning("no price for transcription model %r: not billed", transcription_model)
            self._priced_transcription: str | None = None
        else:
            self._priced_transcription = transcription_model
        carrier_table = _table(pricing, carrier) if carrier else None
        leg = carrier_table.models.get(carrier_leg) if carrier_table is not None else None
        self._carrier_price = leg if isinstance(leg, MinutePrice) else None

    # ------------------------------------------------------------------ events

    def user_speech_started(self, item_id: str, t: float) -> None:
        """The engine heard the caller start speaking: a new turn opens."""
        self._last_speech_started = t
        self._user_turn(item_id)

    def user_speech_stopped(self, item_id: str, t: float) -> None:
        """The engine detected the end of the caller's speech (the latency clock starts)."""
        self._user_turn(item_id).speech_end_at = t

    def user_input(self, text: str, t: float) -> None:
        """The caller sent text (e.g. DTMF digits): a new turn whose speech ended at ``t``."""
        turn = self._open_turn()
        turn.user_text, turn.speech_end_at = text, t

    def response_started(self, response_id: str, t: float) -> None:
        """The engine started a response; it belongs to the open turn."""
        self._response_turn(response_id)
        self._response_started.setdefault(response_id, t)

    def agent_audio_sent(self, item_id: str, response_id: str, t: float) -> None:
        """A chunk of agent audio went to the carrier."""
        turn = self._response_turn(response_id) if response_id else self._current()
        self._by_agent_item.setdefault(item_id, turn)
        turn.agent_texts.setdefault(item_id, "")
        self._audio_turn = turn
        if turn.first_audio_at is None:
            turn.first_audio_at = t
            began = self._response_started.get(response_id)
            if began is not None:
                turn.ttfa_ms = _ms(t - began)

    def clear_sent(self, t: float) -> None:
        """The carrier was told to drop queued agent audio (a barge-in)."""
        turn = self._audio_turn
        if turn is not None and self._last_speech_started is not None:
            if turn.barge_in_ms is None:
                turn.barge_in_ms = _ms(t - self._last_speech_started)
            turn.interrupted = True

    def interrupted(self, item_ids: Iterable[str]) -> None:
        """These agent items were cut off before the caller heard all of them."""
        for item_id in item_ids:
            turn = self._by_agent_item.get(item_id)
            if turn is not None:
                turn.interrupted = True

    def response_done(
        self, response_id: str, status: str, usage: TokenUsage | None, t: float
    ) -> None:
        """A response finished (any status); its tokens are billed to its turn."""
        if response_id and response_id in self._done:
            return  # a repeated event must not bill twice
        self._done.add(response_id)
        turn = self._response_turn(response_id) if response_id else self._current()
        turn.responses += 1
        if status == "cancelled":
            self._cancelled += 1
            turn.interrupted = True
        if usage is not None:
            turn.usage = turn.usage + usage
            self._usage = self._usage + usage
            if self._token_price is not None:
                turn.cost += tokens_cost(usage, self._token_price)

    def user_transcript(
        self, item_id: str, text: str, transcription_seconds: float | None = None
    ) -> None:
        """The caller's final words for a turn, with the seconds the transcription billed."""
        # No item id: the words belong to the open turn; an unknown id opens its own turn.
        turn = self._by_user_item.get(item_id) if item_id else self._current()
        if turn is None:
            turn = self._user_turn(item_id)
        turn.user_text = text
        if transcription_seconds:
            turn.transcription_seconds += transcription_seconds
            self._transcription_seconds += transcription_seconds

    def agent_transcript(self, item_id: str, text: str, response_id: str = "") -> None:
        """The agent's final words for one output item."""
        turn = self._by_agent_item.get(item_id)
        if turn is None:
            turn = self._response_turn(response_id) if response_id else self._current()
            self._by_agent_item[item_id] = turn
        turn.agent_texts[item_id] = text

    # ------------------------------------------------------------------ results

    def turns(self) -> tuple[TurnMetrics, ...]:
        """Every turn so far, in order (index 0 first)."""
        return tuple(t.freeze() for t in self._turns)

    def snapshot(self, t: float) -> CallMetrics:
        """The call's metrics as of ``t`` (a running total, or the final figures at hang-up)."""
        duration = max(0.0, t - self.started_at)
        turns = self.turns()
        if self.priced:
            cost = call_cost(
                self.pricing,
                engine=self.engine,
                model=self.model,
                usage=self._usage,
                transcription_model=self._priced_transcription,
                transcription_seconds=self._transcription_seconds,
                carrier=self.carrier if self._carrier_price is not None else None,
                carrier_leg=self.carrier_leg,
                call_seconds=duration,
            )
        else:
            # The engine's share is unknown; what the carrier bills is still worth reporting.
            carrier = self._carrier_price
            cost = CostBreakdown(carrier=minutes_cost(duration, carrier) if carrier else Decimal(0))
        return CallMetrics(
            call_id=self.call_id,
            engine=self.engine,
            model=self.model,
            duration_s=duration,
            turns=turns,
            cost=cost,
            usage=self._usage,
            transcription_seconds=self._transcription_seconds,
            carrier_billed_minutes=self._carrier_minutes(duration),
            latency=Percentiles.of(x.latency_ms for x in turns),
            engine_ttfa=Percentiles.of(x.engine_ttfa_ms for x in turns),
            barge_in_reaction=Percentiles.of(x.barge_in_reaction_ms for x in turns),
            responses=sum(x.responses for x in turns),
            cancelled_responses=self._cancelled,
            priced=self.priced,
        )

    # ------------------------------------------------------------------ internals

    def _carrier_minutes(self, seconds: float) -> Decimal:
        if self._carrier_price is None:
            return Decimal(0)
        return Decimal(billed_seconds(seconds, self._carrier_price)) / Decimal(60)

    def _open_turn(self) -> _Turn:
        turn = _Turn(index=len(self._turns))
        self._turns.append(turn)
        return turn

    def _current(self) -> _Turn:
        return self._turns[-1] if self._turns else self._open_turn()

    def _user_turn(self, item_id: str) -> _Turn:
        if item_id and item_id in self._by_user_item:
            return self._by_user_item[item_id]
        turn = self._open_turn()
        turn.user_item = item_id
        if item_id:
            self._by_user_item[item_id] = turn
        return turn

    def _response_turn(self, response_id: str) -> _Turn:
        turn = self._by_response.get(response_id)
        if turn is None:
            turn = self._by_response[response_id] = self._current()
        return turn


# ---------------------------------------------------------------------- pricing table

DOC_START = "<!-- pricing-table:start -->"
DOC_END = "<!-- pricing-table:end -->"
_TOKEN_COLUMNS = (
    ("text_input", "Text in"),
    ("text_cached_input", "Text cached"),
    ("text_output", "Text out"),
    ("audio_input", "Audio in"),
    ("audio_cached_input", "Audio cached"),
    ("audio_output", "Audio out"),
    ("image_input", "Image in"),
    ("image_cached_input", "Image cached"),
)


def pricing_table_markdown(pricing: Mapping[str, PriceTable]) -> str:
    """The installed price tables as Markdown, one section per table, sorted by name."""
    out: list[str] = []
    for name in sorted(pricing):
        table = pricing[name]
        out += [f"### `{name}`", "", f"Source: {table.source} (as of {table.as_of})."]
        if table.notes:
            out.append(f"{table.notes}")
        tokens = {m: p for m, p in table.models.items() if isinstance(p, TokenPrice)}
        minutes = {m: p for m, p in table.models.items() if isinstance(p, MinutePrice)}
        if tokens:
            out += ["", f"| Model | {' | '.join(h for _, h in _TOKEN_COLUMNS)} |"]
            out.append("|---" * (len(_TOKEN_COLUMNS) + 1) + "|")
            for model, price in tokens.items():
                cells = [_money(getattr(price, f)) for f, _ in _TOKEN_COLUMNS]
                out.append(f"| `{model}` | {' | '.join(cells)} |")
            out += [
                "",
                f"Token prices in {table.currency} per 1M tokens. `-`: not declared; cached input "
                "then costs the uncached rate, image input the text input rate.",
            ]
        if minutes:
            out += ["", "| Model or leg | Per minute | Billed in steps of |", "|---|---|---|"]
            for model, minute in minutes.items():
                out.append(f"| `{model}` | {minute.per_minute} | {minute.increment_s} s |")
            out += ["", f"Per-minute prices in {table.currency}, rounded up to the step."]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _money(value: Decimal | None) -> str:
    return "-" if value is None else str(value)


def render_docs(text: str, table: str) -> str:
    """``text`` with the block between the pricing-table markers replaced by ``table``."""
    pattern = re.compile(re.escape(DOC_START) + r".*?" + re.escape(DOC_END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"no {DOC_START} ... {DOC_END} block found")
    return pattern.sub(lambda _: f"{DOC_START}\n{table}{DOC_END}", text, count=1)


def write_docs(path: Path, pricing: Mapping[str, PriceTable] | None = None) -> bool:
    """Regenerate the pricing table in ``path``; True when the file changed."""
    if pricing is None:
        from .registry import Registry

        pricing = Registry().pricing()
    before = path.read_text(encoding="utf-8")
    after = render_docs(before, pricing_table_markdown(pricing))
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def _main(argv: Sequence[str]) -> int:
    if not argv or argv[0] != "--write-docs":
        print("usage: python -m patter_core.metrics --write-docs [docs/metrics.md]")
        return 2
    path = Path(argv[1] if len(argv) > 1 else "docs/metrics.md")
    changed = write_docs(path)
    print(f"{path}: {'updated' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main(sys.argv[1:]))
