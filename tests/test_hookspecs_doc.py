"""docs/plugins/hookspecs.md is generated from the hookspec docstrings, and every hook is tested.

Regenerate the page after changing ``patter_core/hookspecs.py``::

    python tests/test_hookspecs_doc.py
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import textwrap
from pathlib import Path

import attrs
import pytest

from patter_core import hookspecs, specs

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "plugins" / "hookspecs.md"
HEADER = """\
# Hook reference

<!-- Generated from the docstrings in patter_core/hookspecs.py by tests/test_hookspecs_doc.py.
     Do not edit by hand: run `python tests/test_hookspecs_doc.py` to regenerate. -->

A plugin is a module (or object) listed under the entry-point group `patter` whose functions
carry `@patter_core.hookimpl` and are named after these hooks. Every hook receives a
`register` callable and calls it once per record; the core validates each record, rejects
duplicate names (naming both plugins) and remembers which distribution declared it. Hooks only
register: they never run calls. See [Writing a carrier plugin](writing-a-carrier.md) for a
whole plugin, and [Plugins](../plugins.md) for how plugins are found and selected.
"""


def hook_names() -> list[str]:
    """Every hookspec in ``patter_core.hookspecs``, in source order."""
    source = inspect.getsource(hookspecs)
    return [
        node.name
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("patter_")
    ]


def record_type(name: str) -> str:
    """The spec record a hook's ``register`` takes, from its annotation."""
    annotation = str(inspect.signature(getattr(hookspecs, name)).parameters["register"].annotation)
    found = re.search(r"\[\[(\w+)\]", annotation)
    return found.group(1) if found else annotation


def section(name: str) -> str:
    """One hook's section: its summary, what it registers, and its example plugin."""
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    if "::" not in doc:
        raise ValueError(f"hookspec {name} has no docstring example (a '::' block)")
    prose, example = doc.split("::", 1)
    summary, _, rest = prose.partition("\n\n")
    record = record_type(name)
    fields = ", ".join(f"`{f.name}`" for f in attrs.fields(getattr(specs, record)))
    lines = [
        f"## `{name}(register)`",
        "",
        summary.strip(),
        "",
        f"`register` takes a `patter_core.specs.{record}` ({fields}); call it once per record.",
        "",
        (rest.strip().replace("``", "`") + ":") if rest.strip() else "Example:",
        "",
        "```python",
        textwrap.dedent(example).strip("\n"),
        "```",
    ]
    return "\n".join(lines) + "\n"


def render() -> str:
    """The whole page."""
    return HEADER + "".join("\n" + section(name) for name in hook_names())


def _mentions(source: str, name: str) -> set[str]:
    """Top-level names of a module whose definition uses ``name``, directly or through others."""
    tree = ast.parse(source)
    defined: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined.update({t.id: node for t in targets if isinstance(t, ast.Name)})
    uses = {key: _names_in(node) for key, node in defined.items()}
    found = {
        key for key, node in defined.items() if name in (ast.get_source_segment(source, node) or "")
    }
    while True:
        more = {key for key, used in uses.items() if used & found} - found
        if not more:
            return found
        found |= more


def _names_in(node: ast.AST) -> set[str]:
    """Every name a definition refers to, including its parameters (pytest fixtures)."""
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return names | {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}


def hook_tests(name: str) -> list[str]:
    """Module-level test functions under tests/ that exercise hook ``name`` (docs' tests aside).

    A test counts when its body, its decorators, or a module-level definition it uses
    (a plugin's source text, a fixture, a helper) mentions the hook.
    """
    found: list[str] = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        if path.name in {Path(__file__).name, "test_docs.py"}:
            continue
        source = path.read_text()
        mentioning = _mentions(source, name)
        tests = _using(source, mentioning) | (_top_level_tests(source) & mentioning)
        found += [f"{path.name}::{test}" for test in sorted(tests)]
    return found


def _top_level_tests(source: str) -> set[str]:
    return {
        node.name
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def _using(source: str, mentioning: set[str]) -> set[str]:
    """Top-level tests that refer to any of ``mentioning``."""
    return {
        node.name
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test")
        and _names_in(node) & mentioning
    }


def test_the_hook_reference_matches_the_hookspec_docstrings() -> None:
    assert PAGE.read_text() == render(), (
        f"{PAGE.relative_to(ROOT)} is out of date; run: python tests/test_hookspecs_doc.py"
    )


@pytest.mark.parametrize("name", hook_names())
def test_every_hookspec_is_documented_with_an_example(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""

    assert doc.split("\n", 1)[0].strip(), f"hookspec {name} has no docstring summary"
    assert "::" in doc, f"hookspec {name} has no example plugin in its docstring"
    assert f"## `{name}(register)`" in PAGE.read_text()


@pytest.mark.parametrize("name", hook_names())
def test_every_hookspec_has_a_test(name: str) -> None:
    assert hook_tests(name), f"no test under tests/ exercises the hook {name}"


def test_a_hookspec_without_an_example_cannot_be_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    def patter_register_nothing(register: object) -> None:
        """Register nothing."""

    monkeypatch.setattr(
        hookspecs, "patter_register_nothing", patter_register_nothing, raising=False
    )

    with pytest.raises(ValueError, match="patter_register_nothing has no docstring example"):
        section("patter_register_nothing")


def test_a_hook_no_test_exercises_is_found_out() -> None:
    assert hook_tests("patter_register_teleporters") == []


if __name__ == "__main__":
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(render())
    sys.stdout.write(f"wrote {PAGE.relative_to(ROOT)}\n")
