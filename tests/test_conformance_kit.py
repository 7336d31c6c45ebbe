"""The conformance kit judged by its own verdicts: broken plugins must fail it, and say why.

Each test installs a plugin next to the real ones (a module and a ``.dist-info`` with its
entry point, as pip leaves them) with one deliberate mistake: carriers built from the
template, an engine wrapping the OpenAI Realtime adapter. It runs the whole kit on it with
pytester and checks exactly which kit tests fail and what they say. The unbroken template
is the control: it passes everything it declares.
"""

from __future__ import annotations

import importlib
import textwrap
from collections.abc import Callable

import numpy  # noqa: F401  (imported once here: pytester's in-process runs cannot re-import it)
import patter_openai_realtime.testing  # noqa: F401  (the broken engine wraps it)
import patter_template.testing  # noqa: F401  (the broken carriers are built from the template)
import pytest

import patter_core.testing  # noqa: F401

pytest_plugins = ["pytester"]

Run = Callable[..., pytest.RunResult]

PLUGIN = """
import json

import attrs
from starlette.responses import JSONResponse

from patter_core import hookimpl
from patter_core.carrier import InboundCall
from patter_core.specs import PCMA_8K
from patter_template.carrier import TemplateCarrier
from patter_template.plugin import CARRIER_SPEC, PRICE_TABLE
from patter_template.testing import TemplateTestKit

NAME = "broken"


class BrokenCarrier(TemplateCarrier):
    carrier_name = NAME
{body}

def _build(**options):
    return BrokenCarrier(**options)


SPEC = attrs.evolve(CARRIER_SPEC, name=NAME, factory=_build, test_kit="broken_carrier:KIT"{spec})
KIT = TemplateTestKit()


@hookimpl
def patter_register_carriers(register):
    register(SPEC)


@hookimpl
def patter_register_pricing(register):
    register(attrs.evolve(PRICE_TABLE, name=NAME))
"""

TESTS = """
import pytest

from patter_core.testing import CarrierConformance, CarrierUnderTest

pytest_plugins = ["patter_core.testing"]


@pytest.fixture
def carrier_under_test():
    return CarrierUnderTest("broken", distribution="patter-broken")


class TestBroken(CarrierConformance):
    known_failures = {known}
"""

NO_SIGNATURE_CHECK = """
    async def handle_http(self, route_name, request, ctx):
        fields = json.loads(await request.body())
        token = ctx.issue_call_token(InboundCall(call_id=fields["call_id"]))
        return JSONResponse({"stream": {"url": ctx.url_for("media"), "token": token}})

    async def authenticate_media(self, websocket, ctx):
        return None
"""
CLEAR_IGNORED = """
    @staticmethod
    def encode_clear(stream_id):
        return json.dumps({"type": "clear", "stream": stream_id})  # the network says "flush"
"""
UNDECLARED_ACCEPTED = """
    async def hang_up(self, call_id):
        return None  # hang_up=False is declared, yet this accepts and does nothing

    async def transfer(self, call_id, to):
        raise NotImplementedError("transfer is not supported")
"""


@pytest.fixture
def run_kit(pytester: pytest.Pytester) -> Run:
    """Install a broken carrier built from the template, then run the whole kit on it."""

    def run(body: str = "", spec: str = "", known: str = "{}", *args: str) -> pytest.RunResult:
        pytester.makepyfile(broken_carrier=PLUGIN.format(body=body or "    pass", spec=spec))
        pytester.makepyfile(test_kit=TESTS.format(known=known))
        info = pytester.mkdir("patter_broken-0.1.dist-info")
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: patter-broken\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text("[patter]\nbroken = broken_carrier\n")
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
        pytester.syspathinsert()
        importlib.invalidate_caches()
        return pytester.runpytest("-p", "no:cacheprovider", "-rfEsxX", *args)

    return run


def failures(result: pytest.RunResult) -> dict[str, str]:
    """Each failed kit test (by its name within the class) and its failure text."""
    _, _, failed = result.reprec.listoutcomes()  # type: ignore[attr-defined]
    return {r.nodeid.split("::")[-1]: r.longreprtext for r in failed}


def test_the_unbroken_template_passes_every_group_it_declares(run_kit: Run) -> None:
    result = run_kit()

    assert failures(result) == {}, result.stdout.str()
    passed, skipped, _ = result.reprec.listoutcomes()  # type: ignore[attr-defined]
    assert len(passed) == 29
    reasons = "\n".join(result.stdout.lines)
    assert "declares outbound=False, so the outbound dial tests do not apply" in reasons
    assert "declares transfer=False, so the transfer tests do not apply" in reasons
    assert len(skipped) == 7


def test_a_wrong_declared_audio_format_fails_with_the_format_to_declare(run_kit: Run) -> None:
    result = run_kit(spec=", audio_format=PCMA_8K")

    failed = failures(result)
    assert set(failed) == {"test_declared_audio_format_is_what_the_network_streams"}
    message = failed["test_declared_audio_format_is_what_the_network_streams"]
    assert "declares audio_format=pcma@8000 but its network streams pcmu@8000" in message
    assert "Declare AudioFormat('pcmu', 8000) in the spec" in message


def test_a_missing_signature_check_fails_every_forgery_case(run_kit: Run) -> None:
    result = run_kit(body=NO_SIGNATURE_CHECK)

    failed = failures(result)
    cases = ("webhook-missing", "webhook-forged", "media-missing", "media-forged")
    assert set(failed) == {f"test_unauthenticated_request_starts_no_call[{c}]" for c in cases}
    webhook = failed["test_unauthenticated_request_starts_no_call[webhook-forged]"]
    assert "a forged webhook signature was accepted: the core started 1 call(s)" in webhook
    assert "check the signature in handle_http" in webhook
    media = failed["test_unauthenticated_request_starts_no_call[media-missing]"]
    assert "a missing media signature was accepted" in media
    assert "in authenticate_media" in media


def test_an_ignored_clear_fails_the_codec_and_the_live_barge_in(run_kit: Run) -> None:
    result = run_kit(body=CLEAR_IGNORED)

    failed = failures(result)
    assert set(failed) == {
        "test_clear_encodes_for_the_network",
        "test_clear_stops_playback_where_the_engine_is_truncated",
    }
    assert (
        "it must be the frame that drops the audio" in failed["test_clear_encodes_for_the_network"]
    )
    live = failed["test_clear_stops_playback_where_the_engine_is_truncated"]
    assert "the network never cleared playback: encode_clear must produce the frame" in live


def test_an_undeclared_capability_silently_accepted_fails_by_name(run_kit: Run) -> None:
    result = run_kit(body=UNDECLARED_ACCEPTED)

    failed = failures(result)
    assert set(failed) == {
        "test_undeclared_capability_is_refused[hang_up]",
        "test_undeclared_capability_is_refused[transfer]",
    }
    accepted = failed["test_undeclared_capability_is_refused[hang_up]"]
    assert "declares hang_up=False, yet its hang_up() returned normally" in accepted
    assert "silently accepted" in accepted
    wrong_error = failed["test_undeclared_capability_is_refused[transfer]"]
    assert "its transfer() raised NotImplementedError" in wrong_error
    assert "must raise patter_core.errors.CapabilityError" in wrong_error


def test_known_failures_run_as_strict_xfails(run_kit: Run) -> None:
    known = (
        '{"test_clear_encodes_for_the_network": "clear is being reworked",'
        ' "test_stop_decodes": "listed by mistake: it passes"}'
    )
    result = run_kit(CLEAR_IGNORED, "", known, "-k", "clear_encodes or stop_decodes")

    result.assert_outcomes(xfailed=1, failed=1)
    failed = failures(result)
    assert set(failed) == {"test_stop_decodes"}
    assert "XPASS(strict)" in failed["test_stop_decodes"]
    assert "listed by mistake" in failed["test_stop_decodes"]


def test_a_stale_known_failure_is_a_usage_error(run_kit: Run) -> None:
    result = run_kit("", "", '{"test_that_does_not_exist": "renamed long ago"}')

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "known_failures names no test of the kit: ['test_that_does_not_exist']" in (
        result.stderr.str()
    )


def test_forgetting_carrier_under_test_says_what_to_define(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_kit=textwrap.dedent(
            """
            from patter_core.testing import CarrierDiscovery

            pytest_plugins = ["patter_core.testing"]


            class TestNothing(CarrierDiscovery):
                pass
            """
        )
    )
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "factory")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*define a fixture `carrier_under_test` in your test module*"])


ENGINE_PLUGIN = '''
import contextlib

import attrs

from patter_core import hookimpl
from patter_core.simulation import ResponseRequested, ToolOutput, Truncated, UserText
from patter_openai_realtime.adapter import OpenAIRealtimeAdapter
from patter_openai_realtime.models import PRICE_TABLE
from patter_openai_realtime.plugin import ENGINE_SPEC
from patter_openai_realtime.testing import FakeRealtimeServer
from patter_openai_realtime.testing.kit import RealtimeDouble

NAME = "forgetful_realtime"


class ForgetfulAdapter(OpenAIRealtimeAdapter):
    """Its sessions never tell the service what the caller heard."""

    engine_name = NAME

    async def connect(self, config):
        session = await super().connect(config)

        async def truncate(item_id, heard_ms):
            return None

        session.truncate = truncate
        return session


class Double(RealtimeDouble):
    def received(self):
        out = []
        for event in self.server.events:
            item = event.get("item") or {}
            if event["type"] == "conversation.item.truncate":
                out.append(Truncated(event["item_id"], event["audio_end_ms"]))
            elif event["type"] == "response.create":
                out.append(ResponseRequested((event.get("response") or {}).get("instructions")))
            elif item.get("type") == "function_call_output":
                out.append(ToolOutput(item["call_id"], item["output"]))
            elif item.get("role") == "user":
                out.append(UserText(item["content"][0]["text"]))
        return out


class Kit:
    @contextlib.asynccontextmanager
    async def double(self):
        async with FakeRealtimeServer(api_key="sk-kit") as server:
            yield Double(server)


KIT = Kit()
SPEC = attrs.evolve(ENGINE_SPEC, name=NAME, factory=ForgetfulAdapter, test_kit="broken_engine:KIT")


@hookimpl
def patter_register_engines(register):
    register(SPEC)


@hookimpl
def patter_register_pricing(register):
    register(attrs.evolve(PRICE_TABLE, name=NAME))
'''

ENGINE_TESTS = """
import pytest

from patter_core.testing import EngineConformance, EngineUnderTest

pytest_plugins = ["patter_core.testing"]


@pytest.fixture
def engine_under_test():
    return EngineUnderTest("forgetful_realtime", distribution="patter-forgetful")


class TestForgetful(EngineConformance):
    pass
"""


def test_an_engine_that_forgets_to_truncate_fails_the_truncate_group(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATTER_KIT_HANG_GUARD_S", "3")  # the one failure waits out the guard
    pytester.makepyfile(broken_engine=ENGINE_PLUGIN, test_engine_kit=ENGINE_TESTS)
    info = pytester.mkdir("patter_forgetful-0.1.dist-info")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: patter-forgetful\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[patter]\nforgetful = broken_engine\n")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.syspathinsert()
    importlib.invalidate_caches()

    result = pytester.runpytest("-p", "no:cacheprovider")

    failed = failures(result)
    assert set(failed) == {"test_truncate_reaches_the_service"}, result.stdout.str()
    assert (
        "the engine's double never received the truncation"
        in (failed["test_truncate_reaches_the_service"])
    )
    passed, _, _ = result.reprec.listoutcomes()  # type: ignore[attr-defined]
    assert len(passed) == 10
