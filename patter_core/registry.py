"""The registry: every engine, carrier and price table the loaded plugins declared.

>>> from patter_core.registry import Registry
>>> registry = Registry(entry_points=False)   # an empty, private registry
>>> sorted(registry.engines)
[]
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

from attrs import frozen

from .errors import DuplicateRegistrationError, PluginError, UnknownNameError
from .plugins import LoadFailure, PluginLoader, PluginSource, new_plugin_manager
from .pricing import Pricing
from .specs import CarrierSpec, EngineSpec, PriceTable

T = TypeVar("T")


@frozen
class Registered(Generic[T]):
    """A registered record and the plugin that declared it."""

    item: T
    source: PluginSource


@frozen
class PluginInfo:
    """One plugin as `patter plugins` shows it."""

    source: PluginSource
    hooks: tuple[str, ...]
    registered: Mapping[str, tuple[str, ...]]
    error: str = ""


_HOOKS: tuple[tuple[str, str, type], ...] = (
    ("patter_register_engines", "engines", EngineSpec),
    ("patter_register_carriers", "carriers", CarrierSpec),
    ("patter_register_pricing", "pricing", PriceTable),
)


class Registry:
    """Loads plugins into a private plugin manager and indexes what they registered.

    ``entry_points=True`` discovers installed plugins (honouring ``PATTER_LOAD_PLUGINS``
    and ``PATTER_DISABLE_PLUGINS``); ``plugins`` adds plugin objects directly.
    """

    def __init__(
        self,
        *,
        plugins: Sequence[Any] = (),
        entry_points: bool | Sequence[importlib.metadata.EntryPoint] = True,
        allow: set[str] | None = None,
        block: set[str] | None = None,
    ) -> None:
        self._loader = PluginLoader(new_plugin_manager())
        if entry_points is True:
            self._loader.load_entry_points(allow=allow, block=block)
        elif entry_points:
            self._loader.load_entry_points(list(entry_points), allow=allow, block=block)
        for plugin in plugins:
            name = getattr(plugin, "__name__", None) or type(plugin).__name__
            self._loader.add(plugin, PluginSource(plugin=name))
        self.engines: dict[str, Registered[EngineSpec]] = {}
        self.carriers: dict[str, Registered[CarrierSpec]] = {}
        self.price_tables: dict[str, Registered[PriceTable]] = {}
        self._collect()

    @property
    def failures(self) -> list[LoadFailure]:
        return list(self._loader.failures)

    def _store(self, kind: str) -> dict[str, Registered[Any]]:
        stores: dict[str, dict[str, Registered[Any]]] = {
            "engines": self.engines,
            "carriers": self.carriers,
            "pricing": self.price_tables,
        }
        return stores[kind]

    def _collect(self) -> None:
        failed: set[PluginSource] = set()
        for hook_name, kind, record_type in _HOOKS:
            store = self._store(kind)
            for source, function in self._loader.implementations(hook_name):
                if source in failed:
                    continue
                added: list[str] = []
                try:
                    function(register=self._registrar(store, kind, record_type, source, added))
                except PluginError:
                    raise
                except Exception as exc:  # a broken plugin is reported, the rest load
                    for name in added:
                        del store[name]
                    failed.add(source)
                    self._loader._fail(source, f"{hook_name} raised {type(exc).__name__}: {exc}")
        for source in failed:
            self._drop(source)

    def _drop(self, source: PluginSource) -> None:
        for kind in ("engines", "carriers", "pricing"):
            store = self._store(kind)
            for name in [n for n, r in store.items() if r.source == source]:
                del store[name]

    def _registrar(
        self,
        store: dict[str, Registered[Any]],
        kind: str,
        record_type: type,
        source: PluginSource,
        added: list[str],
    ) -> Callable[[Any], None]:
        def register(record: Any) -> None:
            if not isinstance(record, record_type):
                raise PluginError(
                    f"{source} registered {type(record).__name__} under {kind}; "
                    f"expected a patter_core.specs.{record_type.__name__}"
                )
            name: str = cast(Any, record).name
            existing = store.get(name)
            if existing is not None:
                raise DuplicateRegistrationError(
                    f"{kind[:-1] if kind != 'pricing' else 'price table'} {name!r} is "
                    f"registered twice: by {existing.source} and by {source}. Uninstall one, "
                    f"or disable it with PATTER_DISABLE_PLUGINS={source.plugin}."
                )
            if isinstance(record, EngineSpec):
                self._check_models(record, source)
            store[name] = Registered(record, source)
            added.append(name)

        return register

    def _check_models(self, spec: EngineSpec, source: PluginSource) -> None:
        repeated: list[str] = []
        for names in ([m.name for m in spec.models], [m.name for m in spec.transcription_models]):
            repeated += sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise PluginError(
                f"{source} declares model(s) {repeated} twice in engine {spec.name!r}"
            )
        defaults = [m.name for m in spec.models if m.default]
        if len(defaults) > 1:
            raise PluginError(
                f"{source} marks several default models in engine {spec.name!r}: {defaults}"
            )

    def engine(self, name: str) -> Registered[EngineSpec]:
        """The engine registered as ``name``; `UnknownNameError` lists the known ones."""
        return _lookup(self.engines, name, "engine")

    def carrier(self, name: str) -> Registered[CarrierSpec]:
        return _lookup(self.carriers, name, "carrier")

    def pricing(self) -> Pricing:
        """The registered price tables, by name."""
        return Pricing({name: r.item for name, r in self.price_tables.items()})

    def plugins(self) -> list[PluginInfo]:
        """Every plugin found, loaded or not, with what it registered."""
        infos: list[PluginInfo] = []
        for loaded in self._loader.loaded:
            source = loaded.source
            registered = {
                kind: tuple(sorted(n for n, r in self._store(kind).items() if r.source == source))
                for kind in ("engines", "carriers", "pricing")
            }
            error = next((f.error for f in self._loader.failures if f.source == source), "")
            infos.append(
                PluginInfo(source, tuple(self._loader.hooks_of(source)), registered, error)
            )
        loaded_sources = {p.source for p in self._loader.loaded}
        for failure in self._loader.failures:
            if failure.source not in loaded_sources:
                infos.append(PluginInfo(failure.source, (), {}, failure.error))
        return infos


def _lookup(store: Mapping[str, Registered[T]], name: str, what: str) -> Registered[T]:
    try:
        return store[name]
    except KeyError:
        known = ", ".join(sorted(store)) or "none (is its plugin installed? see `patter plugins`)"
        raise UnknownNameError(f"no {what} named {name!r} is registered; known: {known}") from None
