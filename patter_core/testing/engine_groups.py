"""Engine groups: discovery and spec, session lifecycle, events, truncate, tools, text input."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import attrs
import pytest

from .. import engine as ev
from ..capabilities import ENGINE_METHODS, declared, require
from ..convert import structure, unstructure
from ..errors import CapabilityError, ConfigError
from ..registry import Registered, Registry
from ..simulation import (
    CallTool,
    EngineHarness,
    ResponseRequested,
    Say,
    ToolOutput,
    Truncated,
    UserText,
)
from ..specs import (
    EngineCapabilities,
    EngineSpec,
    ModelSpec,
    PriceTable,
    TokenPrice,
    TranscriptionModelSpec,
)
from .base import ConformanceGroup, requires, same_distribution
from .engine_live import LOOKUP, audio_ms, engine_rig
from .fixtures import EngineUnderTest
from .live import hang_guard_s
from .report import check, fail, shown

GREETING = "Hello from the conformance kit."
ENGINE_CAPABILITIES = tuple(a.name for a in attrs.fields(EngineCapabilities))


class EngineDiscovery(ConformanceGroup):
    """The engine is found through its entry point, and its spec is sound."""

    def test_found_through_its_entry_point_with_provenance(
        self, engine_registry: Registry, engine_under_test: EngineUnderTest
    ) -> None:
        eut = engine_under_test
        failed = [
            f for f in engine_registry.failures if same_distribution(f.source, eut.distribution)
        ]
        check(not failed, f"{eut.distribution} failed to load: {failed[0].error if failed else ''}")
        registered = engine_registry.engines.get(eut.name)
        check(registered is not None, f"a fresh Registry() found no engine named {eut.name!r}")
        assert registered is not None
        check(
            same_distribution(registered.source, eut.distribution),
            f"engine {eut.name!r} was registered by {registered.source}, not {eut.distribution}",
        )

    def test_spec_data_round_trips_through_the_converter(self, engine_spec: EngineSpec) -> None:
        parts: list[tuple[str, Any, type]] = [
            ("capabilities", engine_spec.capabilities, EngineCapabilities)
        ]
        parts += [(f"models[{m.name}]", m, ModelSpec) for m in engine_spec.models]
        parts += [
            (f"transcription_models[{m.name}]", m, TranscriptionModelSpec)
            for m in engine_spec.transcription_models
        ]
        for where, value, cls in parts:
            path = f"engines.{engine_spec.name}.{where}"
            try:
                back: Any = structure(unstructure(value), cls, path=path)
            except ConfigError as exc:
                fail(f"{path} does not survive the converter: {exc}")
            check(back == value, f"{path} changed on a round trip: {value!r} became {back!r}")

    def test_every_usable_model_has_audio_formats_and_a_price(
        self, engine_registry: Registry, engine_spec: EngineSpec
    ) -> None:
        usable = [m for m in engine_spec.conversation_models() if m.status != "shut_down"]
        check(usable, f"engine {engine_spec.name!r} offers no model that can run an agent")
        silent = [m.name for m in usable if not m.audio_formats]
        check(not silent, f"conversation models {silent} declare no audio_formats")
        table = engine_registry.price_tables.get(engine_spec.name)
        check(table is not None, f"no price table named {engine_spec.name!r}")
        assert table is not None
        back = structure(unstructure(table.item), PriceTable, path=f"pricing.{engine_spec.name}")
        check(back == table.item, f"price table {engine_spec.name!r} changed on a round trip")
        active = [m.name for m in usable if m.status == "active"]
        active += [m.name for m in engine_spec.transcription_models if m.status == "active"]
        unpriced = [n for n in active if n not in table.item.models]
        check(not unpriced, f"price table {engine_spec.name!r} has no price for {unpriced}")

    @pytest.mark.asyncio
    async def test_factory_builds_an_engine_for_the_double(
        self, engine_spec: EngineSpec, engine_harness: EngineHarness
    ) -> None:
        async with engine_harness.double() as double:
            engine = engine_spec.factory(**double.engine_options())
        check(
            isinstance(engine, ev.Engine) and engine.engine_name == engine_spec.name,
            f"the factory built {type(engine).__name__} (engine_name "
            f"{getattr(engine, 'engine_name', None)!r}), not a patter_core.engine.Engine "
            f"named {engine_spec.name!r}",
        )


class SessionLifecycle(ConformanceGroup):
    """A session opens, answers when asked, and closes cleanly, twice if need be."""

    @pytest.mark.asyncio
    async def test_session_closes_with_engine_closed(
        self, engine_registered: Registered[EngineSpec], engine_harness: EngineHarness
    ) -> None:
        async with engine_rig(engine_registered, engine_harness) as rig:
            check(
                isinstance(rig.session, ev.EngineSession),
                f"connect() returned {type(rig.session).__name__}, not an EngineSession",
            )
            await rig.session.close()
            await asyncio.wait_for(rig.reader.task, hang_guard_s())
            await rig.session.close()  # a second close must be harmless
        seen = rig.reader.seen
        check(rig.reader.error is None, f"events() raised {rig.reader.error!r} on close")
        check(
            seen and isinstance(seen[-1], ev.EngineClosed),
            f"events() must end with EngineClosed after close(); it ended with {seen[-1:]}",
        )

    @pytest.mark.asyncio
    async def test_say_speaks_in_the_session_format(
        self, engine_registered: Registered[EngineSpec], engine_harness: EngineHarness
    ) -> None:
        async with engine_rig(engine_registered, engine_harness) as rig:
            rig.double.reply(Say(GREETING))
            await rig.session.say(GREETING)
            events = await rig.response(what="say()")
        check(audio_ms(events, rig) > 0, f"say() produced no agent audio: {events}")


class EventNormalisation(ConformanceGroup):
    """The service's events come out as the core's normalised events."""

    @pytest.mark.asyncio
    async def test_a_response_is_normalised(
        self,
        engine_registry: Registry,
        engine_registered: Registered[EngineSpec],
        engine_harness: EngineHarness,
    ) -> None:
        async with engine_rig(engine_registered, engine_harness) as rig:
            rig.double.reply(Say(GREETING))
            await rig.session.create_response()
            events = await rig.response()
            asked = await rig.received(
                "a response request", lambda x: isinstance(x, ResponseRequested)
            )
        audio = [e for e in events if isinstance(e, ev.AgentAudio)]
        check(audio, f"the response carried no AgentAudio: {events}")
        items = {e.item_id for e in audio}
        check(all(items), "every AgentAudio needs the item id truncation will name")
        check(audio_ms(events, rig) > 0, "the agent audio is empty")
        texts = [e.text for e in events if isinstance(e, ev.AgentTranscriptDone)]
        check(texts == [GREETING], f"AgentTranscriptDone texts {texts}; expected [{GREETING!r}]")
        done = events[-1]
        assert isinstance(done, ev.ResponseDone)
        check(done.status == "completed", f"ResponseDone status {done.status!r}")
        started = [e for e in events if isinstance(e, ev.ResponseStarted)]
        check(
            not started or started[0].response_id == done.response_id,
            f"ResponseStarted {started[0] if started else ''} and {shown(done)} disagree on the id",
        )
        check(not done.item_ids or items <= set(done.item_ids), f"{shown(done)} omits {items}")
        table = engine_registry.price_tables.get(rig.spec.name)
        price = table.item.models.get(rig.model.name) if table else None
        check(
            not isinstance(price, TokenPrice) or done.usage is not None,
            "the model is priced per token but ResponseDone carries no usage: calls cost $0",
        )
        check(asked is not None, "the double never saw the response request")

    @pytest.mark.asyncio
    async def test_a_caller_turn_is_detected_and_answered(
        self, engine_registered: Registered[EngineSpec], engine_harness: EngineHarness
    ) -> None:
        requires(engine_registered.item, "server_vad", "caller-turn")
        async with engine_rig(engine_registered, engine_harness) as rig:
            rig.double.caller_says("When do you open?")
            rig.double.reply(Say("At nine."))
            await rig.speak(600, 1200)
            await rig.reader.next(ev.UserSpeechStarted)
            await rig.reader.next(ev.UserSpeechStopped)
            if declared(rig.spec)["user_transcription"]:
                done = await rig.reader.next(ev.UserTranscriptDone)
                check(done.text == "When do you open?", f"the caller's words came out as {done}")
            said = await rig.reader.next(ev.AgentTranscriptDone, what="the answer to the turn")
        check(said.text == "At nine.", f"the answer was {said.text!r}, not 'At nine.'")


class Truncation(ConformanceGroup):
    """Truncation reaches the service with the item and the heard position (``truncate``)."""

    @pytest.mark.asyncio
    async def test_truncate_reaches_the_service(
        self, engine_registered: Registered[EngineSpec], engine_harness: EngineHarness
    ) -> None:
        requires(engine_registered.item, "truncate", "truncate")
        async with engine_rig(engine_registered, engine_harness) as rig:
            rig.double.reply(Say("This answer runs long enough to be interrupted by the caller."))
            await rig.session.create_response()
            events = await rig.response()
            item = next(e.item_id for e in events if isinstance(e, ev.AgentAudio))
            await rig.session.truncate(item, 200)
            got = await rig.received("the truncation", lambda x: isinstance(x, Truncated))
        check(
            got == Truncated(item, 200),
            f"the double received {got}; expected item {item!r} at 200 ms",
        )


class ToolRoundTrip(ConformanceGroup):
    """A tool call comes out whole and its result goes back in (``tool_calls``)."""

    @pytest.mark.asyncio
    async def test_tool_call_and_result_round_trip(
        self, engine_registered: Registered[EngineSpec], engine_harness: EngineHarness
    ) -> None:
        requires(engine_registered.item, "tool_calls", "tool round-trip")
        async with engine_rig(engine_registered, engine_harness, tools=(LOOKUP,)) as rig:
            if not rig.model.tools:
                pytest.skip(f"model {rig.model.name!r} declares tools=False")
            rig.double.reply(CallTool("lookup_order", {"id": "42"}))
            rig.double.reply(Say("Order 42 has shipped."))
            await rig.session.create_response()
            call = await rig.reader.next(ev.ToolCall)
            check(
                (call.name, dict(call.arguments), call.error) == ("lookup_order", {"id": "42"}, "")
                and call.call_id,
                f"the tool call came out as {shown(call)}",
            )
            output = json.dumps({"status": "shipped"})
            await rig.session.send_tool_result(call.call_id, output)
            got = await rig.received("the tool output", lambda x: isinstance(x, ToolOutput))
            said = await rig.reader.next(ev.AgentTranscriptDone, what="the answer after the tool")
        check(got == ToolOutput(call.call_id, output), f"the double received {got}")
        check(said.text == "Order 42 has shipped.", f"after the tool the agent said {said.text!r}")


class TextInput(ConformanceGroup):
    """Caller text (DTMF digits) reaches the service and gets an answer (``text_input``)."""

    @pytest.mark.asyncio
    async def test_user_text_is_answered(
        self, engine_registered: Registered[EngineSpec], engine_harness: EngineHarness
    ) -> None:
        requires(engine_registered.item, "text_input", "text input")
        async with engine_rig(engine_registered, engine_harness) as rig:
            rig.double.reply(Say("You pressed seven."))
            await rig.session.send_user_text("The caller pressed the key 7.")
            got = await rig.received("the caller's text", lambda x: isinstance(x, UserText))
            said = await rig.reader.next(ev.AgentTranscriptDone, what="the answer to the text")
        check(got == UserText("The caller pressed the key 7."), f"the double received {got}")
        check(said.text == "You pressed seven.", f"the agent answered {said.text!r}")


class UndeclaredEngineCapabilities(ConformanceGroup):
    """Whatever the engine does not declare, the core and the session both refuse."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize("capability", ENGINE_CAPABILITIES)
    async def test_undeclared_capability_is_refused(
        self,
        capability: str,
        engine_registered: Registered[EngineSpec],
        engine_harness: EngineHarness,
    ) -> None:
        spec, source = engine_registered.item, engine_registered.source
        if declared(spec)[capability]:
            pytest.skip(f"engine {spec.name!r} declares {capability}=True: its own group tests it")
        with pytest.raises(CapabilityError) as refused:
            require(spec, capability, source=source)
        check(source.plugin in str(refused.value), f"{refused.value} does not name the plugin")
        name = ENGINE_METHODS.get(capability)
        if name is None:
            return
        args = {"truncate": ("kit-item", 100), "send_tool_result": ("kit-call", "{}")}
        async with engine_rig(engine_registered, engine_harness) as rig:
            try:
                await getattr(rig.session, name)(*args.get(name, ("kit text",)))
            except CapabilityError:
                return
        fail(
            f"engine {spec.name!r} declares {capability}=False, yet session.{name}() returned "
            "normally: raise patter_core.errors.CapabilityError instead"
        )
