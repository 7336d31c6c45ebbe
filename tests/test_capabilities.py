"""`patter_core.capabilities`: undeclared capabilities are refused before a carrier is touched."""

from __future__ import annotations

import ast
import doctest
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

import patter_core
from patter_core import capabilities
from patter_core.capabilities import CallControlGate, declared, require
from patter_core.carrier import DialRequest
from patter_core.errors import CapabilityError
from patter_core.plugins import PluginSource
from patter_core.specs import (
    PCMU_8K,
    CarrierCapabilities,
    CarrierSpec,
    EngineCapabilities,
    EngineSpec,
)

SOURCE = PluginSource("acme", "patter-acme", "1.0")
REQUEST = DialRequest("+15555550123", "+15555550100", "https://a.example/v", "https://a.example/s")


def carrier_spec(**capabilities: bool) -> CarrierSpec:
    return CarrierSpec(
        name="acme",
        factory=object,
        audio_format=PCMU_8K,
        capabilities=CarrierCapabilities(**capabilities),
    )


class RecordingCarrier:
    """A carrier whose call control only records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[object, ...]]] = []

    async def dial(self, request: DialRequest) -> str:
        self.asked.append(("dial", (request,)))
        return "call-1"

    async def hang_up(self, call_id: str) -> None:
        self.asked.append(("hang_up", (call_id,)))

    async def transfer(self, call_id: str, to: str) -> None:
        self.asked.append(("transfer", (call_id, to)))


def test_an_undeclared_capability_names_the_carrier_its_plugin_and_what_it_declares() -> None:
    with pytest.raises(CapabilityError) as refused:
        require(carrier_spec(dtmf=True), "transfer", source=SOURCE)

    assert str(refused.value) == (
        "carrier 'acme' (plugin 'acme' (distribution patter-acme 1.0)) does not declare the "
        "'transfer' capability; it declares: inbound, dtmf. Declare transfer=True in its "
        "CarrierCapabilities once it works, or do without it."
    )


def test_a_declared_capability_passes() -> None:
    require(carrier_spec(transfer=True), "transfer")


def test_an_unknown_capability_name_lists_the_real_ones() -> None:
    with pytest.raises(CapabilityError, match="no capability called 'teleport'; carrier"):
        require(carrier_spec(), "teleport")


def test_engine_capabilities_are_checked_the_same_way() -> None:
    spec = EngineSpec("echo", object, [], capabilities=EngineCapabilities(truncate=False))

    with pytest.raises(CapabilityError, match="engine 'echo' does not declare the 'truncate'"):
        require(spec, "truncate")
    assert declared(spec)["tool_calls"] is True


async def test_the_gate_refuses_before_the_carrier_is_asked() -> None:
    carrier = RecordingCarrier()
    gate = CallControlGate(carrier, carrier_spec(hang_up=True), SOURCE)

    with pytest.raises(CapabilityError, match="'outbound'"):
        await gate.dial(REQUEST)
    with pytest.raises(CapabilityError, match="'transfer'"):
        await gate.transfer("call-1", "+15555550199")
    await gate.hang_up("call-1")

    assert carrier.asked == [("hang_up", ("call-1",))]


async def test_machine_detection_needs_its_own_declaration() -> None:
    carrier = RecordingCarrier()
    gate = CallControlGate(carrier, carrier_spec(outbound=True))

    assert await gate.dial(REQUEST) == "call-1"
    with pytest.raises(CapabilityError, match="answering_machine_detection"):
        await gate.dial(attrs.evolve(REQUEST, machine_detection=True))
    assert len(carrier.asked) == 1


async def test_a_declared_capability_without_its_method_is_a_capability_error() -> None:
    gate = CallControlGate(RecordingCarrier(), carrier_spec(recording=True))

    with pytest.raises(CapabilityError, match="has no start_recording\\(\\) method"):
        await gate.start_recording("call-1")


def test_the_module_docstring_example_runs() -> None:
    result = doctest.testmod(capabilities)

    assert result.attempted > 0
    assert result.failed == 0


def test_runtime_code_never_imports_the_test_kit() -> None:
    core = Path(patter_core.__file__).parent
    offenders = []
    for path in sorted(core.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = ("." * node.level) + (node.module or "")
                if module in (".testing", "patter_core.testing") or module.startswith(
                    (".testing.", "patter_core.testing.")
                ):
                    offenders.append(f"{path.name}:{node.lineno}")
            elif isinstance(node, ast.Import):
                offenders += [
                    f"{path.name}:{node.lineno}"
                    for a in node.names
                    if a.name.startswith("patter_core.testing")
                ]
    assert offenders == []


def test_importing_the_runtime_does_not_import_pytest() -> None:
    code = (
        "import sys, patter_core, patter_core.server, patter_core.cli, patter_core.capabilities;"
        "print('pytest' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert done.stdout.strip() == "False"
