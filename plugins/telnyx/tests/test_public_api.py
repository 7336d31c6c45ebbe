"""The plugin is written as an outsider would: it uses no private name of patter_core.

A private name is any module, attribute or imported name starting with ``_`` (dunders such
as ``__version__`` are public). The scan covers the package and these tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(
    [*ROOT.joinpath("patter_telnyx").rglob("*.py"), *ROOT.joinpath("tests").glob("*.py")]
)


def _private(name: str) -> bool:
    return any(
        p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in name.split(".")
    )


def _core(module: str | None) -> bool:
    return module is not None and (module == "patter_core" or module.startswith("patter_core."))


def private_uses(source: str) -> list[str]:
    """Every use of a private patter_core name in ``source``, as ``line: what``."""
    tree = ast.parse(source)
    found: list[str] = []
    core_names: set[str] = set()  # local names bound to patter_core modules or objects
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "patter_core" or alias.name.startswith("patter_core."):
                    if _private(alias.name):
                        found.append(f"{node.lineno}: import {alias.name}")
                    core_names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _core(node.module):
            if _private(str(node.module)):
                found.append(f"{node.lineno}: from {node.module} import ...")
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
                core_names.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute | ast.Call | ast.Subscript):
                root = root.func if isinstance(root, ast.Call) else root.value
            if isinstance(root, ast.Name) and root.id in core_names:
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_no_private_patter_core_names(path: Path) -> None:
    assert private_uses(path.read_text(encoding="utf-8")) == []


def test_the_scan_finds_every_kind_of_private_use() -> None:
    source = "\n".join(
        [
            "import patter_core._hidden",
            "from patter_core._hidden import thing",
            "from patter_core.server import _QuietServer",
            "from patter_core import server",
            "server.PatterServer._routes",
            "import patter_core.server as srv",
            "srv.CallDirectory()._pending",
            "from patter_core import __version__",  # dunders are public
            "from mypkg import _private_of_our_own",  # not patter_core's
        ]
    )
    assert [use.split(":")[0] for use in private_uses(source)] == ["1", "2", "3", "5", "7"]


def test_the_scan_covers_the_whole_package() -> None:
    names = {p.name for p in SOURCES}
    assert {"carrier.py", "codec.py", "webhooks.py", "network.py", "kit.py"} <= names
