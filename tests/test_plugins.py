"""Plugin discovery through real entry points, provenance, and every way a plugin can be wrong.

Third-party plugins here are real distributions written to disk (``*.dist-info`` with an
``entry_points.txt`` in group ``patter``) and found by `importlib.metadata`, the same way
pip-installed plugins are. Every test builds its own `Registry`.
"""

from __future__ import annotations

import ast
import importlib.metadata
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

import patter_core
from patter_core import hookimpl
from patter_core.errors import (
    DuplicateRegistrationError,
    PatterError,
    PluginError,
    UnknownNameError,
)
from patter_core.plugins import PluginSource
from patter_core.registry import Registry
from patter_core.specs import (
    PCMU_8K,
    CarrierSpec,
    EngineSpec,
    ModelSpec,
    TranscriptionModelSpec,
)

MakeDist = Callable[..., Path]  # the make_dist fixture (conftest.py)

HOOKS = ("patter_register_carriers", "patter_register_engines", "patter_register_pricing")

FIRST_PARTY = {
    "openai_realtime": "patter-openai-realtime",
    "twilio": "patter-twilio",
}


def full_plugin(engine: str = "acme_voice", carrier: str = "acme_line", table: str = "") -> str:
    """Source of a plugin module that registers an engine, a carrier and two price tables."""
    table = table or engine
    return f'''
        import datetime
        from decimal import Decimal

        from patter_core import hookimpl
        from patter_core.specs import (
            PCMU_8K, CarrierSpec, EngineSpec, MinutePrice, ModelSpec, PriceTable, TokenPrice,
            TranscriptionModelSpec,
        )


        class Engine:
            engine_name = "{engine}"


        class Line:
            carrier_name = "{carrier}"


        @hookimpl
        def patter_register_engines(register):
            register(EngineSpec(
                name="{engine}",
                factory=Engine,
                models=[
                    ModelSpec("acme-fast", default=True, audio_formats=[PCMU_8K]),
                    ModelSpec("acme-smart", reasoning_efforts=["low", "high"],
                              audio_formats=[PCMU_8K]),
                ],
                transcription_models=[TranscriptionModelSpec("acme-ears", default=True)],
            ))


        @hookimpl
        def patter_register_carriers(register):
            register(CarrierSpec(name="{carrier}", factory=Line, audio_format=PCMU_8K))


        @hookimpl
        def patter_register_pricing(register):
            as_of = datetime.date(2026, 11, 1)
            register(PriceTable(
                name="{table}",
                models={{
                    "acme-fast": TokenPrice(text_input=Decimal("1"), text_output=Decimal("2"),
                                            audio_input=Decimal("3"), audio_output=Decimal("4")),
                    "acme-ears": MinutePrice(per_minute=Decimal("0.001"), increment_s=1),
                }},
                source="acme price list", as_of=as_of,
            ))
            register(PriceTable(
                name="{carrier}",
                models={{"inbound": MinutePrice(per_minute=Decimal("0.002"))}},
                source="acme price list", as_of=as_of,
            ))
    '''


def engine_only_plugin(engine: str) -> str:
    return f'''
        from patter_core import hookimpl
        from patter_core.specs import PCMU_8K, EngineSpec, ModelSpec

        @hookimpl
        def patter_register_engines(register):
            register(EngineSpec(name="{engine}", factory=object,
                                models=[ModelSpec("m", audio_formats=[PCMU_8K])]))
    '''


def install_acme(make_dist: MakeDist, **names: str) -> None:
    make_dist(
        "acme-voice",
        "1.2.3",
        modules={"acme_voice_plugin": full_plugin(**names)},
        entry_points={"acme": "acme_voice_plugin"},
    )


ACME = PluginSource(plugin="acme", distribution="acme-voice", version="1.2.3")


def plugin_info(registry: Registry, plugin: str):
    matches = [p for p in registry.plugins() if p.source.plugin == plugin]
    assert len(matches) == 1, [p.source for p in registry.plugins()]
    return matches[0]


# --- discovery and provenance ---------------------------------------------------------------


def test_third_party_distribution_is_discovered_with_its_provenance(make_dist: MakeDist) -> None:
    install_acme(make_dist)

    registry = Registry()

    assert registry.engines["acme_voice"].source == ACME
    assert registry.carriers["acme_line"].source == ACME
    assert registry.price_tables["acme_voice"].source == ACME
    assert registry.price_tables["acme_line"].source == ACME
    assert registry.failures == []

    info = plugin_info(registry, "acme")
    assert info.source == ACME
    assert info.error == ""
    assert info.hooks == HOOKS
    assert dict(info.registered) == {
        "engines": ("acme_voice",),
        "carriers": ("acme_line",),
        "pricing": ("acme_line", "acme_voice"),
    }


def test_models_carry_the_provenance_of_their_engine(make_dist: MakeDist) -> None:
    install_acme(make_dist)

    registered = Registry().engine("acme_voice")

    assert registered.source == ACME
    assert [m.name for m in registered.item.models] == ["acme-fast", "acme-smart"]
    assert [m.name for m in registered.item.transcription_models] == ["acme-ears"]
    assert registered.item.default_model is not None
    assert registered.item.default_model.name == "acme-fast"
    assert str(registered.source) == "plugin 'acme' (distribution acme-voice 1.2.3)"


def test_third_party_prices_are_part_of_the_registry_pricing(make_dist: MakeDist) -> None:
    install_acme(make_dist)

    pricing = Registry().pricing()

    assert str(pricing.price("acme_voice", "acme-ears").per_minute) == "0.001"  # type: ignore[union-attr]
    assert str(pricing.price("acme_line", "inbound").per_minute) == "0.002"  # type: ignore[union-attr]


def test_first_party_plugins_are_found_through_their_installed_entry_points() -> None:
    installed = {ep.name: ep for ep in importlib.metadata.entry_points(group="patter") if ep.dist}
    for plugin, distribution in FIRST_PARTY.items():
        assert installed[plugin].dist.name == distribution  # type: ignore[union-attr]

    registry = Registry()

    for plugin, distribution in FIRST_PARTY.items():
        info = plugin_info(registry, plugin)
        assert info.source == PluginSource(
            plugin, distribution, importlib.metadata.version(distribution)
        )
        assert info.error == ""
    assert registry.engines["openai_realtime"].source.distribution == "patter-openai-realtime"
    assert registry.carriers["twilio"].source.distribution == "patter-twilio"
    assert registry.price_tables["openai_realtime"].source.distribution == "patter-openai-realtime"
    assert registry.price_tables["twilio"].source.distribution == "patter-twilio"


def test_without_entry_points_nothing_is_registered() -> None:
    registry = Registry(entry_points=False)

    assert registry.engines == {}
    assert registry.carriers == {}
    assert registry.price_tables == {}
    assert registry.plugins() == []


def test_the_core_never_imports_a_plugin_package_by_name() -> None:
    core = Path(patter_core.__file__).parent
    offenders = []
    for path in sorted(core.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.name}:{node.lineno} {n}"  # type: ignore[attr-defined]
                for n in names
                if n.split(".")[0] in {"patter_openai_realtime", "patter_twilio"}
            ]
    assert offenders == []


def test_each_registry_has_its_own_plugin_manager() -> None:
    class One:
        @hookimpl
        def patter_register_engines(self, register):
            register(EngineSpec(name="one", factory=object, models=[ModelSpec("m")]))

    class Two:
        @hookimpl
        def patter_register_engines(self, register):
            register(EngineSpec(name="two", factory=object, models=[ModelSpec("m")]))

    first = Registry(plugins=[One()], entry_points=False)
    second = Registry(plugins=[Two()], entry_points=False)

    assert set(first.engines) == {"one"}
    assert set(second.engines) == {"two"}
    assert first.engines["one"].source == PluginSource("One")


def test_explicit_entry_points_are_loaded_without_scanning_the_environment(
    make_dist: MakeDist,
) -> None:
    install_acme(make_dist)
    acme = [ep for ep in importlib.metadata.entry_points(group="patter") if ep.name == "acme"]

    registry = Registry(entry_points=acme)

    assert set(registry.engines) == {"acme_voice"}
    assert registry.engines["acme_voice"].source == ACME


# --- duplicate names -------------------------------------------------------------------------


def test_duplicate_engine_between_two_distributions_names_both(make_dist: MakeDist) -> None:
    install_acme(make_dist)
    make_dist(
        "rival-voice",
        "0.9.0",
        modules={"rival_voice_plugin": engine_only_plugin("acme_voice")},
        entry_points={"rival": "rival_voice_plugin"},
    )

    with pytest.raises(DuplicateRegistrationError) as caught:
        Registry()

    message = str(caught.value)
    assert "engine 'acme_voice' is registered twice" in message
    assert "distribution acme-voice 1.2.3" in message
    assert "distribution rival-voice 0.9.0" in message
    assert "PATTER_DISABLE_PLUGINS=" in message


def test_third_party_engine_clashing_with_a_first_party_one_names_both(
    make_dist: MakeDist,
) -> None:
    make_dist(
        "openai-clone",
        "2.0",
        modules={"openai_clone_plugin": engine_only_plugin("openai_realtime")},
        entry_points={"openai_clone": "openai_clone_plugin"},
    )

    with pytest.raises(DuplicateRegistrationError) as caught:
        Registry()

    message = str(caught.value)
    assert "'openai_realtime'" in message
    assert "patter-openai-realtime" in message
    assert "openai-clone 2.0" in message


@pytest.mark.parametrize(
    ("names", "what"),
    [
        ({"carrier": "twilio"}, "carrier 'twilio'"),
        ({"table": "openai_realtime"}, "price table 'openai_realtime'"),
    ],
)
def test_duplicate_carrier_or_price_table_names_both(
    make_dist: MakeDist, names: dict[str, str], what: str
) -> None:
    install_acme(make_dist, **names)

    with pytest.raises(DuplicateRegistrationError) as caught:
        Registry()

    message = str(caught.value)
    assert f"{what} is registered twice" in message
    assert "acme-voice 1.2.3" in message
    assert "patter-twilio" in message or "patter-openai-realtime" in message


def test_two_distributions_with_the_same_plugin_name_report_the_second(
    make_dist: MakeDist,
) -> None:
    make_dist(
        "alpha-voice",
        "1.0",
        modules={"alpha_plugin": engine_only_plugin("alpha")},
        entry_points={"voice": "alpha_plugin"},
    )
    make_dist(
        "beta-voice",
        "1.0",
        modules={"beta_plugin": engine_only_plugin("beta")},
        entry_points={"voice": "beta_plugin"},
    )

    registry = Registry()

    assert len(registry.failures) == 1
    failure = registry.failures[0]
    assert failure.source.plugin == "voice"
    assert "already registered as 'voice'" in failure.error
    assert len({"alpha", "beta"} & set(registry.engines)) == 1


# --- misspelled or malformed hooks -----------------------------------------------------------


MISSPELLED = """
    from patter_core import hookimpl

    @hookimpl
    def patter_register_engins(register):
        pass
"""


def test_misspelled_hook_in_an_installed_plugin_is_rejected_loudly(make_dist: MakeDist) -> None:
    make_dist(
        "acme-typo",
        "0.1",
        modules={"acme_typo_plugin": MISSPELLED},
        entry_points={"acme_typo": "acme_typo_plugin"},
    )

    with pytest.raises(PluginError) as caught:
        Registry()

    message = str(caught.value)
    assert "plugin 'acme_typo' (distribution acme-typo 0.1)" in message
    assert "patter_register_engins" in message
    assert "the hooks are: " + ", ".join(HOOKS) in message
    assert "PATTER_DISABLE_PLUGINS=acme_typo" in message


def test_misspelled_hook_in_a_plugin_object_is_rejected() -> None:
    class Typo:
        @hookimpl
        def patter_register_carrier(self, register):
            pass

    with pytest.raises(PluginError) as caught:
        Registry(plugins=[Typo()], entry_points=False)

    message = str(caught.value)
    assert "plugin 'Typo'" in message
    assert "patter_register_carrier'" in message
    for hook in HOOKS:
        assert hook in message


def test_disabling_a_plugin_with_a_misspelled_hook_lets_the_host_start(
    make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist(
        "acme-typo",
        "0.1",
        modules={"acme_typo_plugin": MISSPELLED},
        entry_points={"acme_typo": "acme_typo_plugin"},
    )
    monkeypatch.setenv("PATTER_DISABLE_PLUGINS", "acme_typo")

    registry = Registry()

    assert "openai_realtime" in registry.engines
    assert registry.failures == []


def test_hook_with_the_wrong_argument_name_is_rejected() -> None:
    class WrongArgs:
        @hookimpl
        def patter_register_engines(self, registry):
            pass

    with pytest.raises(PluginError) as caught:
        Registry(plugins=[WrongArgs()], entry_points=False)

    message = str(caught.value)
    assert "plugin 'WrongArgs' is invalid" in message
    assert "registry" in message


def test_adding_an_already_loaded_plugin_again_is_a_plugin_error() -> None:
    import patter_twilio.plugin

    with pytest.raises(PluginError) as caught:
        Registry(plugins=[patter_twilio.plugin])

    assert "patter_twilio.plugin" in str(caught.value)
    assert "already registered" in str(caught.value)


# --- broken plugins --------------------------------------------------------------------------


def test_plugin_whose_import_raises_is_reported_and_the_rest_load(
    make_dist: MakeDist, caplog: pytest.LogCaptureFixture
) -> None:
    install_acme(make_dist)
    make_dist(
        "broken-voice",
        "0.0.1",
        modules={"broken_voice_plugin": "raise RuntimeError('missing libfoo.so')\n"},
        entry_points={"broken": "broken_voice_plugin"},
    )
    caplog.set_level(logging.WARNING, logger="patter.plugins")

    registry = Registry()

    broken = PluginSource("broken", "broken-voice", "0.0.1")
    assert [f.source for f in registry.failures] == [broken]
    assert registry.failures[0].error == "import failed: RuntimeError: missing libfoo.so"
    info = plugin_info(registry, "broken")
    assert info.error == "import failed: RuntimeError: missing libfoo.so"
    assert info.hooks == ()
    assert {"acme_voice", "openai_realtime"} <= set(registry.engines)
    assert {"acme_line", "twilio"} <= set(registry.carriers)
    assert plugin_info(registry, "acme").error == ""
    logged = [r.getMessage() for r in caplog.records if r.name == "patter.plugins"]
    assert any("broken-voice" in m and "missing libfoo.so" in m for m in logged), logged


def test_plugin_whose_entry_point_target_is_missing_is_reported(make_dist: MakeDist) -> None:
    make_dist(
        "ghost-voice",
        "1.0",
        modules={},
        entry_points={"ghost": "ghost_voice_plugin_that_is_not_there"},
    )

    registry = Registry()

    (failure,) = registry.failures
    assert failure.source == PluginSource("ghost", "ghost-voice", "1.0")
    assert failure.error.startswith("import failed: ModuleNotFoundError:")
    assert "ghost_voice_plugin_that_is_not_there" in failure.error
    assert "openai_realtime" in registry.engines


RAISES_IN_ENGINES_HOOK = """
    from patter_core import hookimpl
    from patter_core.specs import PCMU_8K, EngineSpec, ModelSpec

    @hookimpl
    def patter_register_engines(register):
        register(EngineSpec(name="half_a", factory=object, models=[ModelSpec("m")]))
        register(EngineSpec(name="half_b", factory=object, models=[ModelSpec("m")]))
        raise KeyError("config file not found")
"""

RAISES_IN_PRICING_HOOK = """
    from patter_core import hookimpl
    from patter_core.specs import PCMU_8K, CarrierSpec, EngineSpec, ModelSpec

    @hookimpl
    def patter_register_engines(register):
        register(EngineSpec(name="half_a", factory=object, models=[ModelSpec("m")]))

    @hookimpl
    def patter_register_carriers(register):
        register(CarrierSpec(name="half_line", factory=object, audio_format=PCMU_8K))

    @hookimpl
    def patter_register_pricing(register):
        raise ValueError("prices unavailable")
"""


@pytest.mark.parametrize(
    ("source", "hook", "error"),
    [
        (RAISES_IN_ENGINES_HOOK, "patter_register_engines", "KeyError: 'config file not found'"),
        (RAISES_IN_PRICING_HOOK, "patter_register_pricing", "ValueError: prices unavailable"),
    ],
    ids=["raises-mid-hook", "raises-in-a-later-hook"],
)
def test_plugin_whose_register_hook_raises_is_reported_and_its_registrations_removed(
    make_dist: MakeDist, caplog: pytest.LogCaptureFixture, source: str, hook: str, error: str
) -> None:
    caplog.set_level(logging.WARNING, logger="patter.plugins")
    install_acme(make_dist)
    make_dist(
        "half-voice", "3.1", modules={"half_plugin": source}, entry_points={"half": "half_plugin"}
    )

    registry = Registry()

    half = PluginSource("half", "half-voice", "3.1")
    assert [(f.source, f.error) for f in registry.failures] == [(half, f"{hook} raised {error}")]
    assert not {"half_a", "half_b"} & set(registry.engines)
    assert "half_line" not in registry.carriers
    info = plugin_info(registry, "half")
    assert info.error == f"{hook} raised {error}"
    assert all(names == () for names in info.registered.values())
    assert {"acme_voice", "openai_realtime"} <= set(registry.engines)
    assert {"acme_line", "twilio"} <= set(registry.carriers)
    logged = [r.getMessage() for r in caplog.records if r.name == "patter.plugins"]
    assert [m for m in logged if "half-voice" in m and error in m], logged


@pytest.mark.parametrize(
    ("hook", "record", "expected"),
    [
        (
            "patter_register_engines",
            "'openai'",
            "registered str under engines; expected a patter_core.specs.EngineSpec",
        ),
        (
            "patter_register_engines",
            "CarrierSpec(name='x', factory=object, audio_format=PCMU_8K)",
            "registered CarrierSpec under engines; expected a patter_core.specs.EngineSpec",
        ),
        (
            "patter_register_carriers",
            "{'name': 'x'}",
            "registered dict under carriers; expected a patter_core.specs.CarrierSpec",
        ),
        (
            "patter_register_pricing",
            "EngineSpec(name='x', factory=object, models=[])",
            "registered EngineSpec under pricing; expected a patter_core.specs.PriceTable",
        ),
    ],
)
def test_registering_the_wrong_record_type_is_a_clear_plugin_error(
    make_dist: MakeDist, hook: str, record: str, expected: str
) -> None:
    source = f"""
        from patter_core import hookimpl
        from patter_core.specs import PCMU_8K, CarrierSpec, EngineSpec

        @hookimpl
        def {hook}(register):
            register({record})
    """
    make_dist(
        "odd-voice", "1.0", modules={"odd_plugin": source}, entry_points={"odd": "odd_plugin"}
    )

    with pytest.raises(PluginError) as caught:
        Registry()

    assert str(caught.value) == f"plugin 'odd' (distribution odd-voice 1.0) {expected}"


def test_engine_declaring_a_model_twice_is_rejected() -> None:
    class Twice:
        @hookimpl
        def patter_register_engines(self, register):
            register(
                EngineSpec(
                    name="twice",
                    factory=object,
                    models=[ModelSpec("m1"), ModelSpec("m1"), ModelSpec("m2")],
                    transcription_models=[TranscriptionModelSpec("t"), TranscriptionModelSpec("t")],
                )
            )

    with pytest.raises(PluginError) as caught:
        Registry(plugins=[Twice()], entry_points=False)

    assert "plugin 'Twice' declares model(s) ['m1', 't'] twice in engine 'twice'" in str(
        caught.value
    )


def test_engine_with_several_default_models_is_rejected() -> None:
    class TwoDefaults:
        @hookimpl
        def patter_register_engines(self, register):
            models = [ModelSpec("a", default=True), ModelSpec("b", default=True)]
            register(EngineSpec(name="two", factory=object, models=models))

    with pytest.raises(PluginError) as caught:
        Registry(plugins=[TwoDefaults()], entry_points=False)

    assert "several default models in engine 'two': ['a', 'b']" in str(caught.value)


# --- selecting plugins -------------------------------------------------------------------------


def loaded_plugins(registry: Registry) -> set[str]:
    return {p.source.plugin for p in registry.plugins()}


@pytest.mark.parametrize("name", ["acme", "acme-voice", "ACME_Voice", "acme.voice"])
def test_load_list_selects_by_plugin_or_distribution_name(
    make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    install_acme(make_dist)
    monkeypatch.setenv("PATTER_LOAD_PLUGINS", name)

    registry = Registry()

    assert loaded_plugins(registry) == {"acme"}
    assert set(registry.engines) == {"acme_voice"}


def test_load_list_takes_several_names(
    make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_acme(make_dist)
    monkeypatch.setenv("PATTER_LOAD_PLUGINS", " acme , patter-twilio ")

    registry = Registry()

    assert loaded_plugins(registry) == {"acme", "twilio"}
    assert set(registry.carriers) == {"acme_line", "twilio"}
    assert "openai_realtime" not in registry.engines


def test_empty_load_list_loads_no_plugin(
    make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_acme(make_dist)
    monkeypatch.setenv("PATTER_LOAD_PLUGINS", "")

    assert loaded_plugins(Registry()) == set()


@pytest.mark.parametrize("name", ["acme", "acme-voice", "acme_voice"])
def test_disable_list_blocks_by_plugin_or_distribution_name(
    make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    install_acme(make_dist)
    monkeypatch.setenv("PATTER_DISABLE_PLUGINS", name)

    registry = Registry()

    assert loaded_plugins(registry) == {"openai_realtime", "twilio"}
    assert "acme_voice" not in registry.engines
    assert registry.failures == []


def test_disabling_a_first_party_plugin_removes_only_what_it_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    everything = Registry()
    monkeypatch.setenv("PATTER_DISABLE_PLUGINS", "patter-twilio")

    without_twilio = Registry()

    assert loaded_plugins(without_twilio) == {"openai_realtime"}
    assert without_twilio.carriers == {}
    assert set(without_twilio.price_tables) == set(everything.price_tables) - {"twilio"}
    assert without_twilio.engines == everything.engines


def test_block_list_wins_over_the_load_list(
    make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_acme(make_dist)
    monkeypatch.setenv("PATTER_LOAD_PLUGINS", "acme,twilio")
    monkeypatch.setenv("PATTER_DISABLE_PLUGINS", "twilio")

    assert loaded_plugins(Registry()) == {"acme"}


def test_a_disabled_broken_plugin_is_never_imported(
    make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist(
        "broken-voice",
        "0.0.1",
        modules={"broken_voice_plugin": "raise RuntimeError('boom')\n"},
        entry_points={"broken": "broken_voice_plugin"},
    )
    monkeypatch.setenv("PATTER_DISABLE_PLUGINS", "broken-voice")

    registry = Registry()

    assert registry.failures == []
    assert "broken" not in loaded_plugins(registry)


def test_explicit_allow_and_block_arguments_replace_the_environment(
    make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_acme(make_dist)
    monkeypatch.setenv("PATTER_LOAD_PLUGINS", "twilio")
    monkeypatch.setenv("PATTER_DISABLE_PLUGINS", "acme")

    assert loaded_plugins(Registry(allow={"acme"}, block=set())) == {"acme"}
    assert loaded_plugins(Registry(block=set())) == {"twilio"}
    assert loaded_plugins(Registry(allow={"acme", "twilio"})) == {"twilio"}


# --- lookups -----------------------------------------------------------------------------------


def test_unknown_engine_and_carrier_lookups_list_the_known_names(make_dist: MakeDist) -> None:
    install_acme(make_dist)
    registry = Registry()

    with pytest.raises(
        UnknownNameError,
        match=r"no engine named 'acme' is registered; "
        r"known: acme_voice, openai_realtime$",
    ):
        registry.engine("acme")
    with pytest.raises(
        UnknownNameError,
        match=r"no carrier named 'vonage' is registered; "
        r"known: acme_line, twilio$",
    ):
        registry.carrier("vonage")


def test_lookup_in_an_empty_registry_says_to_install_a_plugin() -> None:
    with pytest.raises(UnknownNameError) as caught:
        Registry(entry_points=False).engine("openai_realtime")

    assert "is its plugin installed? see `patter plugins`" in str(caught.value)


def test_plugin_errors_are_patter_errors() -> None:
    assert issubclass(PluginError, PatterError)
    assert issubclass(DuplicateRegistrationError, PluginError)


def test_records_registered_by_a_plugin_object_are_the_objects_it_passed() -> None:
    spec = CarrierSpec(name="line", factory=object, audio_format=PCMU_8K)

    class Line:
        @hookimpl
        def patter_register_carriers(self, register):
            register(spec)

    registry = Registry(plugins=[Line()], entry_points=False)

    assert registry.carrier("line").item is spec
    assert registry.carrier("line").source == PluginSource("Line")
