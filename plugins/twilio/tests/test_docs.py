"""Every python block of docs/carriers/twilio.md runs, unless marked ``<!-- not-run: why -->``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "carriers" / "twilio.md"
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", re.DOTALL)
NOT_RUN = re.compile(r"<!-- not-run: (?P<why>\S.*?) -->")
MIN_RUN = 6


def blocks() -> list[tuple[int, str, str]]:
    """(line, code, reason not to run it or '') for each python block, in order."""
    text = DOC.read_text(encoding="utf-8")
    found = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("code")) + 1
        marker = NOT_RUN.fullmatch(match["before"].strip())
        found.append((line, match["code"], marker["why"] if marker else ""))
    return found


RUNNABLE = [(line, code) for line, code, why in blocks() if not why]


def test_the_doc_has_enough_runnable_blocks_and_says_why_others_do_not_run() -> None:
    everything = blocks()
    assert len(RUNNABLE) >= MIN_RUN
    assert len(everything) - len(RUNNABLE) <= 2
    assert DOC.read_text(encoding="utf-8").count("```python") == len(everything)


@pytest.mark.parametrize(("line", "code"), RUNNABLE, ids=[f"line{line}" for line, _ in RUNNABLE])
def test_block_runs(line: int, code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PATTER_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    exec(compile(code, f"{DOC.name}:{line}", "exec"), {"__name__": "__doc__"})
