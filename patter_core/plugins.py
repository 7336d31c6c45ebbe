"""Finding plugins: entry points in group ``patter``, the allow/block lists, load errors.

Each `Registry` owns its own pluggy manager, so tests and embedders never share state.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pluggy
from attrs import field, frozen

from . import hookspecs
from .errors import PluginError

log = logging.getLogger("patter.plugins")

ENTRY_POINT_GROUP = "patter"
LOAD_ENV = "PATTER_LOAD_PLUGINS"
DISABLE_ENV = "PATTER_DISABLE_PLUGINS"


@frozen
class PluginSource:
    """Where a registration came from: the plugin's name and its distribution."""

    plugin: str
    distribution: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        if self.distribution:
            version = f" {self.version}" if self.version else ""
            return f"plugin {self.plugin!r} (distribution {self.distribution}{version})"
        return f"plugin {self.plugin!r}"


@frozen
class LoadFailure:
    """A plugin that could not be imported or registered, and why."""

    source: PluginSource
    error: str


@frozen
class LoadedPlugin:
    source: PluginSource
    module: Any = field(eq=False, repr=False)


def _name_list(env: str) -> set[str] | None:
    raw = os.environ.get(env)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _normalize(name: str) -> str:
    """Compare names as packaging does: ``Patter_Twilio`` and ``patter-twilio`` are one name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _selected(names: Iterable[str], allow: set[str] | None, block: set[str]) -> bool:
    names = {_normalize(n) for n in names if n}
    if names & {_normalize(n) for n in block}:
        return False
    return allow is None or bool(names & {_normalize(n) for n in allow})


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


class PluginLoader:
    """Loads plugins into one pluggy manager, recording provenance and failures."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.loaded: list[LoadedPlugin] = []
        self.failures: list[LoadFailure] = []

    def load_entry_points(
        self,
        entry_points: Sequence[importlib.metadata.EntryPoint] | None = None,
        *,
        allow: set[str] | None = None,
        block: set[str] | None = None,
    ) -> None:
        """Import every selected entry point of group ``patter``; failures are recorded, not raised.

        ``allow``/``block`` default to ``PATTER_LOAD_PLUGINS``/``PATTER_DISABLE_PLUGINS``
        (comma-separated plugin or distribution names).
        """
        if entry_points is None:
            entry_points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
        allow = _name_list(LOAD_ENV) if allow is None else allow
        block = (_name_list(DISABLE_ENV) or set()) if block is None else block
        for ep in sorted(entry_points, key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            source = PluginSource(
                plugin=ep.name,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
            )
            if not _selected({ep.name, source.distribution or ""}, allow, block):
                log.debug("skipping %s: not selected by %s/%s", source, LOAD_ENV, DISABLE_ENV)
                continue
            if self.pm.has_plugin(ep.name):
                self._fail(source, f"another plugin is already registered as {ep.name!r}")
                continue
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not take the host down
                self._fail(source, f"import failed: {type(exc).__name__}: {exc}")
                continue
            self.add(module, source)

    def add(self, module: Any, source: PluginSource) -> None:
        """Register one plugin object (a module or instance with hook implementations)."""
        try:
            self.pm.register(module, name=source.plugin)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"{source} is invalid: {exc}") from exc
        except ValueError as exc:  # pluggy: that name or that object is registered already
            raise PluginError(f"{source} cannot be added: {exc}") from exc
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(module)
            known = ", ".join(n for n in dir(hookspecs) if n.startswith("patter_register"))
            raise PluginError(
                f"{source} implements a hook Patter does not define ({exc}); "
                f"the hooks are: {known}. Check the spelling, or disable the plugin "
                f"with {DISABLE_ENV}={source.plugin}."
            ) from exc
        self.loaded.append(LoadedPlugin(source, module))

    def _fail(self, source: PluginSource, error: str) -> None:
        log.warning("could not load %s: %s", source, error)
        self.failures.append(LoadFailure(source, error))

    def implementations(self, hook_name: str) -> list[tuple[PluginSource, Callable[..., Any]]]:
        """Each plugin's implementation of one hook, in registration order, with its source."""
        sources = {id(p.module): p.source for p in self.loaded}
        return [
            (sources.get(id(impl.plugin), PluginSource(impl.plugin_name)), impl.function)
            for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls())
        ]

    def hooks_of(self, source: PluginSource) -> list[str]:
        plugin = self.pm.get_plugin(source.plugin)
        if plugin is None:
            return []
        return sorted(c.name for c in self.pm.get_hookcallers(plugin) or [])
