"""Shared fixtures: a clean plugin-selection environment and on-disk plugin distributions."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from patter_core.plugins import DISABLE_ENV, LOAD_ENV


@pytest.fixture(autouse=True)
def _no_plugin_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start with every installed plugin selected, whatever the outer shell exports."""
    monkeypatch.delenv(LOAD_ENV, raising=False)
    monkeypatch.delenv(DISABLE_ENV, raising=False)


MakeDist = Callable[..., Path]


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """Build an installed-looking distribution on disk and put it on ``sys.path``.

    ``make_dist("acme-voice", "1.2.3", modules={"acme_voice": "<source>"},
    entry_points={"acme": "acme_voice"})`` writes ``acme_voice.py`` and
    ``acme_voice-1.2.3.dist-info/{METADATA,entry_points.txt}`` under a site directory, exactly
    what pip leaves behind, so `importlib.metadata` finds the entry point in group ``patter``.
    Modules imported from there are forgotten after the test.
    """
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = set(sys.modules)

    def build(
        name: str,
        version: str,
        *,
        modules: dict[str, str],
        entry_points: dict[str, str],
    ) -> Path:
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = [f"{ep} = {target}" for ep, target in entry_points.items()]
        (info / "entry_points.txt").write_text("[patter]\n" + "\n".join(lines) + "\n")
        importlib.invalidate_caches()
        return info

    yield build
    for module in set(sys.modules) - before:
        if getattr(sys.modules[module], "__file__", None) and str(site) in str(
            sys.modules[module].__file__
        ):
            del sys.modules[module]
