"""Optional carrier groups, run only when declared; undeclared capabilities must be refused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ..capabilities import CARRIER_METHODS, CallControlGate, call_control, declared, require
from ..carrier import DialRequest, DtmfReceived
from ..errors import CapabilityError
from ..registry import Registered
from ..simulation import CallerStep, CarrierNetwork, CarrierWire, Dtmf, Hangup, Silence
from ..specs import CARRIER_CAPABILITIES, CarrierSpec
from .base import ConformanceGroup, requires
from .carrier_media import STREAM, decoded
from .carrier_required import got_through
from .fixtures import CarrierLive
from .live import PUBLIC_URL, CarrierRig, guarded
from .report import check, fail, shown

OURS, CALLEE, TRANSFER_TO = "+15555550100", "+15555550123", "+15555550199"
LONG_CALL = (Silence(30_000),)  # kept up until the test ends it through call control
RECORDED_CALL = (Silence(2_000), Hangup())  # recording needs no hang-up capability
DIRECT_GUARD_S = 5.0


def dial_request(spec: CarrierSpec, *, machine_detection: bool = False) -> DialRequest:
    """A dial request whose answer URL is the carrier's first http route on the public URL.

    The status URL is the route named ``status`` when there is one, else the answer route.
    """
    http = [r for r in spec.routes if r.kind == "http"]
    status = next((r for r in http if r.name == "status"), http[0])
    return DialRequest(
        to=CALLEE,
        from_=OURS,
        answer_url=PUBLIC_URL + http[0].path,
        status_url=PUBLIC_URL + status.path,
        machine_detection=machine_detection,
    )


def network(rig: CarrierRig) -> CarrierNetwork:
    assert rig.network is not None
    return rig.network


async def live_network_call(
    rig: CarrierRig, script: tuple[CallerStep, ...] = LONG_CALL
) -> tuple[CallControlGate, str]:
    """A call the network rang and the core is serving; the gate to control it."""
    call_id = await guarded(network(rig).ring(script), "the network ringing the server")
    await rig.session_for(call_id)
    return call_control(rig.carrier, rig.registered), call_id


class DtmfInput(ConformanceGroup):
    """Key presses decode and reach the engine (``dtmf``)."""

    def test_key_presses_decode(
        self, carrier: object, carrier_wire: CarrierWire, carrier_spec: CarrierSpec
    ) -> None:
        requires(carrier_spec, "dtmf", "DTMF")
        for digit in "0123456789*#":
            event = decoded(carrier, carrier_wire.dtmf(STREAM, digit), f"DTMF {digit}")
            check(event == DtmfReceived(digit), f"decode(dtmf {digit!r}) gave {shown(event)}")

    @pytest.mark.asyncio
    async def test_key_press_reaches_the_engine(
        self, carrier_live: CarrierLive, carrier_spec: CarrierSpec
    ) -> None:
        requires(carrier_spec, "dtmf", "DTMF")
        async with carrier_live() as rig:
            script = (Silence(200), Dtmf("7"), Silence(300), Hangup())
            report = await guarded(rig.caller.call(script), "the simulated call")
            got_through(report)
            await rig.call_ended(report.call_id)
            session = rig.engine.session_for(report.call_id)
        texts = session.user_texts if session else []
        check(any("7" in t for t in texts), f"the engine never heard the key 7 (got {texts})")


class OutboundDial(ConformanceGroup):
    """A dialled call is answered by the server (``outbound``, ``answering_machine_detection``)."""

    @pytest.mark.asyncio
    async def test_dial_places_a_call_the_server_answers(
        self, carrier_live: CarrierLive, carrier_spec: CarrierSpec
    ) -> None:
        requires(carrier_spec, "outbound", "outbound dial")
        async with carrier_live(network=True) as rig:
            network(rig).answer_with(CALLEE, (Silence(300), Hangup()))
            gate = call_control(rig.carrier, rig.registered)
            call_id = await guarded(gate.dial(dial_request(carrier_spec)), "dial()")
            check(isinstance(call_id, str) and call_id, f"dial() returned {call_id!r}")
            outcome = await guarded(network(rig).ended(call_id), "the dialled call")
            result = await rig.call_ended(call_id)
        check(outcome.answered, f"the network never answered the dialled call: {shown(outcome)}")
        check(
            result.end_reason == "caller hung up", f"the dialled call ended {result.end_reason!r}"
        )

    @pytest.mark.asyncio
    async def test_dial_asks_for_machine_detection(
        self, carrier_live: CarrierLive, carrier_spec: CarrierSpec
    ) -> None:
        requires(carrier_spec, "answering_machine_detection", "answering-machine detection")
        async with carrier_live(network=True) as rig:
            network(rig).answer_with(CALLEE, (Silence(300), Hangup()))
            gate = call_control(rig.carrier, rig.registered)
            request = dial_request(carrier_spec, machine_detection=True)
            call_id = await guarded(gate.dial(request), "dial()")
            outcome = await guarded(network(rig).ended(call_id), "the dialled call")
        check(outcome.machine_detection, f"the network was not asked to detect machines: {outcome}")


class CallHangUp(ConformanceGroup):
    """Call control ends a live call (``hang_up``)."""

    @pytest.mark.asyncio
    async def test_hang_up_ends_a_live_call(
        self, carrier_live: CarrierLive, carrier_spec: CarrierSpec
    ) -> None:
        requires(carrier_spec, "hang_up", "hang-up")
        async with carrier_live(network=True) as rig:
            gate, call_id = await live_network_call(rig)
            await guarded(gate.hang_up(call_id), "hang_up()")
            outcome = await guarded(network(rig).ended(call_id), "the hung-up call")
            await rig.call_ended(call_id)
        check(outcome.status == "completed" and not outcome.transferred_to, shown(outcome))


class CallTransfer(ConformanceGroup):
    """Call control moves a live call to another number (``transfer``)."""

    @pytest.mark.asyncio
    async def test_transfer_moves_a_live_call(
        self, carrier_live: CarrierLive, carrier_spec: CarrierSpec
    ) -> None:
        requires(carrier_spec, "transfer", "transfer")
        async with carrier_live(network=True) as rig:
            gate, call_id = await live_network_call(rig)
            await guarded(gate.transfer(call_id, TRANSFER_TO), "transfer()")
            outcome = await guarded(network(rig).ended(call_id), "the transferred call")
            await rig.call_ended(call_id)
        check(
            outcome.transferred_to == TRANSFER_TO,
            f"the network did not move the call to {TRANSFER_TO}: {shown(outcome)}",
        )


class CallRecording(ConformanceGroup):
    """Call control records a live call (``recording``)."""

    @pytest.mark.asyncio
    async def test_recording_starts_on_a_live_call(
        self, carrier_live: CarrierLive, carrier_spec: CarrierSpec
    ) -> None:
        requires(carrier_spec, "recording", "recording")
        async with carrier_live(network=True) as rig:
            gate, call_id = await live_network_call(rig, RECORDED_CALL)
            recording_id = await guarded(gate.start_recording(call_id), "start_recording()")
            outcome = await guarded(network(rig).ended(call_id), "the recorded call")
        check(recording_id, f"start_recording() returned {recording_id!r}")
        check(outcome.recordings > 0, f"the network recorded nothing: {shown(outcome)}")


async def _call_directly(method: Any, capability: str) -> None:
    args: dict[str, tuple[Any, ...]] = {
        "outbound": (DialRequest(CALLEE, OURS, PUBLIC_URL + "/", PUBLIC_URL + "/"),),
        "hang_up": ("kit-call-1",),
        "transfer": ("kit-call-1", TRANSFER_TO),
        "recording": ("kit-call-1",),
    }
    async with asyncio.timeout(DIRECT_GUARD_S):
        await method(*args[capability])


async def _public_api_refuses(capability: str, carrier_live: CarrierLive) -> None:
    """Ask for the capability the way users do (`Patter.call`, `Patter.agent`)."""
    async with carrier_live() as rig:
        name, asked = rig.spec.name, ""
        try:
            if capability in ("outbound", "answering_machine_detection"):
                machine = capability == "answering_machine_detection"
                asked = f"phone.call(..., machine_detection={machine})"
                await rig.phone.call(CALLEE, agent=rig.agent, from_=OURS, machine_detection=machine)
            elif capability == "transfer":
                asked = "phone.agent(..., transfer_call=True)"
                rig.phone.agent(engine=rig.engine, transfer_call=True)
        except CapabilityError:
            return
        if asked:
            fail(
                f"the core accepted {asked} for carrier {name!r}, which declares {capability}=False"
            )


class UndeclaredCapabilities(ConformanceGroup):
    """Whatever the carrier does not declare, the core and the carrier both refuse."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize("capability", CARRIER_CAPABILITIES)
    async def test_undeclared_capability_is_refused(
        self,
        capability: str,
        carrier_registered: Registered[CarrierSpec],
        carrier: object,
        carrier_live: CarrierLive,
    ) -> None:
        spec, source = carrier_registered.item, carrier_registered.source
        if declared(spec)[capability]:
            pytest.skip(f"carrier {spec.name!r} declares {capability}=True: its own group tests it")
        with pytest.raises(CapabilityError) as refused:
            require(spec, capability, source=source)
        message = str(refused.value)
        for part in (repr(spec.name), source.plugin, capability):
            check(part in message, f"the core's refusal {message!r} does not name {part}")
        await _public_api_refuses(capability, carrier_live)
        gate = call_control(carrier, carrier_registered)
        if capability == "answering_machine_detection" and declared(spec)["outbound"]:
            with pytest.raises(CapabilityError):
                await gate.dial(dial_request(spec, machine_detection=True))
        name = CARRIER_METHODS.get(capability)
        if name is None:
            return
        with pytest.raises(CapabilityError):
            await _call_directly(getattr(gate, name), capability)
        own = getattr(carrier, name, None)
        if own is None:
            return
        try:
            await _call_directly(own, capability)
        except CapabilityError:
            return
        except Exception as exc:
            fail(
                f"carrier {spec.name!r} declares {capability}=False, but its {name}() raised "
                f"{type(exc).__name__}: {exc}; it must raise patter_core.errors.CapabilityError "
                f"(call patter_core.capabilities.require(spec, {capability!r}) first) or not "
                "exist"
            )
        fail(
            f"carrier {spec.name!r} declares {capability}=False, yet its {name}() returned "
            "normally: an undeclared capability was silently accepted. Raise "
            f"patter_core.errors.CapabilityError (patter_core.capabilities.require(spec, "
            f"{capability!r})), remove the method, or declare {capability}=True."
        )
