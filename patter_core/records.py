"""Records a call produces: transcript entries and the call's result."""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import frozen

from .carrier import InboundCall
from .engine import TokenUsage
from .pricing import CostBreakdown

if TYPE_CHECKING:
    from .metrics import CallMetrics


@frozen
class TranscriptEntry:
    """One line of the transcript; ``order`` sorts lines by when each turn began."""

    role: str
    text: str
    item_id: str = ""
    order: float = 0.0
    final: bool = True
    interrupted: bool = False


@frozen
class CallResult:
    """Everything collected about a call, handed to ``on_call_end``."""

    call: InboundCall | None
    stream_id: str
    started_at: float
    duration_s: float
    transcript: tuple[TranscriptEntry, ...]
    usage: TokenUsage
    transcription_seconds: float
    cost: CostBreakdown | None
    end_reason: str
    metrics: CallMetrics | None = None

    def transcript_text(self) -> str:
        """The final transcript as ``role: text`` lines."""
        return "\n".join(f"{e.role}: {e.text}" for e in self.transcript if e.final)
