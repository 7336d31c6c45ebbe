"""Every ```python block of README.md and docs/ runs, each on its own, in a fresh interpreter.

Plugin pages (docs/engines/, docs/carriers/) are run by the plugins' own tests. A block that
must not run (it serves real calls, needs a real account...) is preceded, within two lines, by
an HTML comment ``<!-- not-run: why -->``; it is reported as skipped with that reason.
"""

from __future__ import annotations

import doctest
import importlib
import os
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import attrs
import pytest

from patter_core import hookspecs
from patter_core.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
EXCLUDED = ("docs/engines/", "docs/carriers/")
HANG_GUARD_S = 120  # not a performance limit: only stops a block that never returns
ENV = {
    "OPENAI_API_KEY": "sk-test-not-real",
    "TWILIO_ACCOUNT_SID": "ACtest",
    "TWILIO_AUTH_TOKEN": "test-token",
}
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
NOT_RUN = re.compile(r"^\s*<!--\s*not-run:(?P<reason>.*?)(-->|$)")


@attrs.frozen
class Block:
    path: str  # relative to the repository root
    line: int  # 1-based line of the opening fence
    code: str
    not_run: str | None  # the reason, when marked not-run

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"


def doc_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [
        f for f in files if f.is_file() and not f.relative_to(ROOT).as_posix().startswith(EXCLUDED)
    ]


def python_blocks(text: str, path: str) -> list[Block]:
    """The ```python blocks of a Markdown text, in order; other fences are skipped over."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, info = opening["fence"], opening["info"].strip()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = FENCE.match(lines[j])
            if (
                closing
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            body.append(lines[j])
            j += 1
        else:
            raise ValueError(f"{path}:{i + 1}: code fence is never closed")
        if info.split()[:1] == ["python"]:
            marks = [NOT_RUN.match(lines[k]) for k in range(max(0, i - 2), i)]
            reasons = [m["reason"].strip() for m in marks if m]
            code = textwrap.dedent("\n".join(body)) + "\n"
            blocks.append(Block(path, i + 1, code, reasons[-1] if reasons else None))
        i = j + 1
    return blocks


def all_blocks() -> list[Block]:
    return [
        block
        for f in doc_files()
        for block in python_blocks(f.read_text(), f.relative_to(ROOT).as_posix())
    ]


BLOCKS = all_blocks()

# ``-W error::patter_core.errors.PatterWarning`` cannot name a third-party category at start-up.
WARNINGS_ARE_ERRORS = (
    "import warnings, patter_core.errors; "
    "warnings.simplefilter('error', patter_core.errors.PatterWarning)\n"
)


def install_template(site: Path) -> str:
    """Make the plugin template importable *and* discoverable, as ``pip install -e`` would.

    The carrier tutorial starts from it; the core's test environment does not install it.
    """
    site.mkdir()
    info = site / "patter_template-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: patter-template\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[patter]\ntemplate = patter_template.plugin\n")
    return os.pathsep.join([str(site), str(ROOT / "plugins" / "_template")])


# Pages whose examples need something installed first, and how to provide it.
PREPARE = {"docs/plugins/writing-a-carrier.md": install_template}


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_doc_block_runs(block: Block, tmp_path: Path) -> None:
    if block.not_run is not None:
        pytest.skip(f"{block.id} is marked not-run: {block.not_run}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATTER_")}
    env.update(ENV)
    if block.path in PREPARE:
        env["PYTHONPATH"] = PREPARE[block.path](tmp_path / "site-packages")

    done = subprocess.run(
        # A doc example should not teach a setup that warns (retiring model, odd voice).
        [sys.executable, "-c", WARNINGS_ARE_ERRORS + block.code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )

    assert done.returncode == 0, (
        f"{block.id} failed (exit {done.returncode})\n--- code ---\n{block.code}"
        f"--- stdout ---\n{done.stdout}--- stderr ---\n{done.stderr}"
    )


FILES_WITH_BLOCKS = sorted({b.path for b in BLOCKS})


@pytest.mark.parametrize("path", FILES_WITH_BLOCKS)
def test_every_doc_with_python_runs_some_of_it(path: str) -> None:
    ran = [b for b in BLOCKS if b.path == path and b.not_run is None]

    assert len(ran) > 0, f"every ```python block of {path} is marked not-run"


def test_the_plugin_guide_is_collected() -> None:
    assert "docs/plugins.md" in FILES_WITH_BLOCKS
    assert not any(b.path.startswith(EXCLUDED) for b in BLOCKS)


# --- the block finder itself ---------------------------------------------------------------


SAMPLE = """\
# Title

```python
print("first")
```

<!-- not-run: talks to a real phone -->
```python
dial()
```

<!-- not-run: too far above -->

text

```python
print("third")
```

````markdown
```python
print("inside another fence: not a block")
```
````

```bash
echo not python
```

  ```python title="indented"
  x = 1
  ```
"""


def test_the_block_finder() -> None:
    blocks = python_blocks(SAMPLE, "sample.md")

    assert [(b.line, b.code, b.not_run) for b in blocks] == [
        (3, 'print("first")\n', None),
        (8, "dial()\n", "talks to a real phone"),
        (16, 'print("third")\n', None),
        (30, "x = 1\n", None),
    ]


def test_an_unclosed_fence_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"broken.md:2: code fence is never closed"):
        python_blocks("text\n```python\nx = 1\n", "broken.md")


# --- the example plugins in the hookspec docstrings ------------------------------------------


HOOKSPECS = ["patter_register_engines", "patter_register_carriers", "patter_register_pricing"]


@pytest.mark.parametrize("hook", HOOKSPECS)
def test_hookspec_docstring_example_is_a_working_plugin(hook: str) -> None:
    doc = getattr(hookspecs, hook).__doc__
    example = textwrap.dedent(doc.split("::\n", 1)[1])
    module = types.ModuleType(f"example_{hook}")
    exec(compile(example, f"<{hook} docstring>", "exec"), module.__dict__)

    registry = Registry(plugins=[module], entry_points=False)

    (info,) = registry.plugins()
    assert info.hooks == (hook,)
    assert info.error == ""
    assert sum(len(names) for names in info.registered.values()) == 1


# --- the examples in the core's docstrings ---------------------------------------------------


@pytest.mark.parametrize("module", ["audio", "convert", "pricing", "registry"])
def test_docstring_examples_of_the_core(module: str) -> None:
    imported = importlib.import_module(f"patter_core.{module}")

    result = doctest.testmod(imported, optionflags=doctest.ELLIPSIS)

    assert result.attempted > 0
    assert result.failed == 0
