"""Every python block of docs/carriers/telnyx.md runs, unless marked ``<!-- not-run: why -->``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "carriers" / "telnyx.md"
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", re.DOTALL)
NOT_RUN = re.compile(r"<!-- not-run: (?P<why>\S.*?) -->")


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


def test_every_python_block_is_found_and_runnable_or_explained() -> None:
    assert DOC.read_text(encoding="utf-8").count("```python") == len(blocks())
    assert len(RUNNABLE) >= 5


@pytest.mark.parametrize(("line", "code"), RUNNABLE, ids=[f"line{line}" for line, _ in RUNNABLE])
def test_block_runs(line: int, code: str) -> None:
    if "patter_openai_realtime" in code:
        pytest.importorskip("patter_openai_realtime.testing")
    exec(compile(code, f"{DOC.name}:{line}", "exec"), {"__name__": "__doc__"})
