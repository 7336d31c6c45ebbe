"""The kit's fixtures; a plugin overrides ``carrier_under_test`` or ``engine_under_test``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from attrs import frozen

from ..registry import Registered, Registry
from ..simulation import (
    CarrierHarness,
    CarrierWire,
    EngineHarness,
    NetworkHarness,
    load_test_kit,
)
from ..specs import CarrierSpec, EngineSpec
from .live import CarrierRig, CarrierUnderTest, carrier_rig
from .report import check, fail

CarrierLive = Callable[..., contextlib.AbstractAsyncContextManager[CarrierRig]]


@frozen
class EngineUnderTest:
    """The engine a plugin's kit run checks; without ``harness``, ``EngineSpec.test_kit``."""

    name: str
    distribution: str
    harness: EngineHarness | None = None


def _missing(obj: object, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if not hasattr(obj, name)]


@pytest.fixture
def carrier_under_test() -> CarrierUnderTest:
    """Override in your test module: the carrier to check, its distribution, its harness."""
    fail(
        "the conformance kit does not know which carrier to check: define a fixture "
        "`carrier_under_test` in your test module returning "
        "patter_core.testing.CarrierUnderTest(name='acme', distribution='patter-acme')"
    )


@pytest.fixture
def carrier_registry() -> Registry:
    """A fresh registry of everything installed, found through entry points."""
    return Registry()


@pytest.fixture
def carrier_registered(
    carrier_registry: Registry, carrier_under_test: CarrierUnderTest
) -> Registered[CarrierSpec]:
    """The carrier's spec and the plugin that registered it."""
    cut = carrier_under_test
    registered = carrier_registry.carriers.get(cut.name)
    if registered is None:
        failures = "; ".join(f"{f.source}: {f.error}" for f in carrier_registry.failures)
        fail(
            f"no installed plugin registered a carrier named {cut.name!r} (registered: "
            f"{', '.join(sorted(carrier_registry.carriers)) or 'none'}). Is {cut.distribution} "
            "installed (pip install -e .) with an entry point in [project.entry-points.patter]"
            " whose module implements patter_register_carriers?"
            + (f" Plugins that failed to load: {failures}" if failures else "")
        )
    return registered


@pytest.fixture
def carrier_spec(carrier_registered: Registered[CarrierSpec]) -> CarrierSpec:
    """The registered `CarrierSpec`."""
    return carrier_registered.item


@pytest.fixture
def carrier_harness(
    carrier_under_test: CarrierUnderTest, carrier_registered: Registered[CarrierSpec]
) -> CarrierHarness:
    """The plugin's harness: the one given, else the one ``CarrierSpec.test_kit`` names."""
    harness = carrier_under_test.harness
    spec = carrier_registered.item
    if harness is None:
        if not spec.test_kit:
            fail(
                f"carrier {spec.name!r} declares no test_kit and carrier_under_test gives no "
                "harness: the kit needs a simulator of the carrier's network (see "
                "patter_core.simulation.CarrierHarness)"
            )
        harness = load_test_kit(spec.test_kit, owner=str(carrier_registered.source))
    missing = _missing(harness, ("wire", "carrier_options", "simulator"))
    check(
        not missing,
        f"the harness {type(harness).__name__} of carrier {spec.name!r} lacks {missing}; "
        "it must implement patter_core.simulation.CarrierHarness",
    )
    assert isinstance(harness, CarrierHarness)
    return harness


@pytest.fixture
def carrier_wire(carrier_harness: CarrierHarness) -> CarrierWire:
    """The network's end of the media stream, from the harness."""
    wire = carrier_harness.wire
    missing = _missing(
        wire, ("audio_format", "start", "media", "mark_echo", "dtmf", "stop", "read")
    )
    check(not missing, f"the harness's wire {type(wire).__name__} lacks {missing}")
    assert isinstance(wire, CarrierWire)
    return wire


@pytest.fixture
def carrier(carrier_spec: CarrierSpec, carrier_harness: CarrierHarness) -> object:
    """A carrier built by the spec's factory with the harness's options."""
    return carrier_spec.factory(**carrier_harness.carrier_options())


@pytest.fixture
def carrier_live(
    carrier_registered: Registered[CarrierSpec], carrier_harness: CarrierHarness
) -> CarrierLive:
    """``async with carrier_live(speak_ms=..., network=False) as rig``: a live server and caller."""

    def live(
        *, speak_ms: int = 0, network: bool = False
    ) -> contextlib.AbstractAsyncContextManager[CarrierRig]:
        net: NetworkHarness | None = None
        if network:
            spec = carrier_registered.item
            if not isinstance(carrier_harness, NetworkHarness):
                fail(
                    f"carrier {spec.name!r} declares call control, so the kit checks it against "
                    f"a local fake of its API, but the harness {type(carrier_harness).__name__} "
                    "has no network(public_url) (see patter_core.simulation.NetworkHarness)"
                )
            net = carrier_harness
        return carrier_rig(carrier_registered, carrier_harness, speak_ms=speak_ms, network=net)

    return live


@pytest.fixture
def engine_under_test() -> EngineUnderTest:
    """Override in your test module: the engine to check, its distribution, its harness."""
    fail(
        "the conformance kit does not know which engine to check: define a fixture "
        "`engine_under_test` in your test module returning "
        "patter_core.testing.EngineUnderTest(name='acme', distribution='patter-acme')"
    )


@pytest.fixture
def engine_registry() -> Registry:
    """A fresh registry of everything installed, found through entry points."""
    return Registry()


@pytest.fixture
def engine_registered(
    engine_registry: Registry, engine_under_test: EngineUnderTest
) -> Registered[EngineSpec]:
    """The engine's spec and the plugin that registered it."""
    eut = engine_under_test
    registered = engine_registry.engines.get(eut.name)
    if registered is None:
        fail(
            f"no installed plugin registered an engine named {eut.name!r} (registered: "
            f"{', '.join(sorted(engine_registry.engines)) or 'none'}). Is {eut.distribution} "
            "installed with an entry point in [project.entry-points.patter]?"
        )
    return registered


@pytest.fixture
def engine_spec(engine_registered: Registered[EngineSpec]) -> EngineSpec:
    """The registered `EngineSpec`."""
    return engine_registered.item


@pytest.fixture
def engine_harness(
    engine_under_test: EngineUnderTest, engine_registered: Registered[EngineSpec]
) -> EngineHarness:
    """The plugin's engine harness: the one given, else ``EngineSpec.test_kit``."""
    harness = engine_under_test.harness
    spec = engine_registered.item
    if harness is None:
        if not spec.test_kit:
            fail(
                f"engine {spec.name!r} declares no test_kit and engine_under_test gives no "
                "harness: the kit needs a local double of the engine's service"
            )
        harness = load_test_kit(spec.test_kit, owner=str(engine_registered.source))
    check(
        hasattr(harness, "double"),
        f"the harness {type(harness).__name__} of engine {spec.name!r} has no double()",
    )
    assert isinstance(harness, EngineHarness)
    return harness


__all__ = [
    "CarrierLive",
    "EngineUnderTest",
    "carrier",
    "carrier_harness",
    "carrier_live",
    "carrier_registered",
    "carrier_registry",
    "carrier_spec",
    "carrier_under_test",
    "carrier_wire",
    "engine_harness",
    "engine_registered",
    "engine_registry",
    "engine_spec",
    "engine_under_test",
]
