"""Required carrier groups, part one: discovery, the spec, the webhook answer, signatures."""

from __future__ import annotations

import re
from typing import Any, cast
from urllib.parse import urlsplit

import pytest

from ..carrier import Carrier
from ..convert import structure, unstructure
from ..errors import ConfigError, PatterError
from ..registry import Registered, Registry
from ..simulation import Auth, CallerReport, Hangup, Silence, load_test_kit
from ..specs import (
    AudioFormat,
    CarrierCapabilities,
    CarrierSpec,
    MinutePrice,
    PriceTable,
    RouteSpec,
)
from .base import ConformanceGroup, same_distribution
from .fixtures import CarrierLive
from .live import PUBLIC_URL, CarrierUnderTest, guarded
from .report import check, fail, shown

CARRIER_MEMBERS = (
    "carrier_name",
    "prepare",
    "handle_http",
    "authenticate_media",
    "decode",
    "encode_audio",
    "encode_mark",
    "encode_clear",
)
SHORT_CALL = (Silence(300), Hangup())

_WHY = {
    "webhook_rejected": "the server refused the voice webhook (is the simulator signing it?)",
    "no_stream": "the webhook answer started no media stream",
    "media_rejected": "the server refused the media stream's upgrade",
    "server_closed": "the server closed the stream (was the call token in the start frame?)",
    "error": "the simulator failed",
}


def got_through(report: CallerReport) -> None:
    """Fail unless a simulated call ran to the caller's hang-up."""
    if report.ended_by != "hangup":
        why = _WHY.get(report.ended_by, "")
        fail(
            f"the simulated call did not get through: ended_by={report.ended_by!r} ({why}); "
            f"{shown(report)}"
        )
    check(
        report.call_id, "the simulator must report the call id it announced (CallerReport.call_id)"
    )


class CarrierDiscovery(ConformanceGroup):
    """The carrier is found through its entry point and builds a working carrier object."""

    def test_found_through_its_entry_point_with_provenance(
        self, carrier_registry: Registry, carrier_under_test: CarrierUnderTest
    ) -> None:
        cut = carrier_under_test
        failed = [
            f for f in carrier_registry.failures if same_distribution(f.source, cut.distribution)
        ]
        check(not failed, f"{cut.distribution} failed to load: {failed[0].error if failed else ''}")
        registered = carrier_registry.carriers.get(cut.name)
        check(
            registered is not None,
            f"a fresh Registry() found no carrier named {cut.name!r}; found: "
            f"{', '.join(sorted(carrier_registry.carriers)) or 'none'}",
        )
        assert registered is not None
        check(
            same_distribution(registered.source, cut.distribution),
            f"carrier {cut.name!r} was registered by {registered.source}, not by distribution "
            f"{cut.distribution}: is the entry point declared in that distribution's pyproject?",
        )

    def test_factory_builds_a_prepared_carrier(
        self, carrier_spec: CarrierSpec, carrier: object
    ) -> None:
        missing = [m for m in CARRIER_MEMBERS if not hasattr(carrier, m)]
        check(
            not missing and isinstance(carrier, Carrier),
            f"{carrier_spec.name!r}'s factory built a {type(carrier).__name__}, which lacks "
            f"{missing} of the patter_core.carrier.Carrier protocol",
        )
        name = getattr(carrier, "carrier_name", None)
        check(
            name == carrier_spec.name,
            f"the carrier object's carrier_name is {name!r} but its spec is named "
            f"{carrier_spec.name!r}; the core looks the spec up by carrier_name",
        )
        try:
            carrier.prepare(carrier_spec)  # type: ignore[attr-defined]
        except ConfigError as exc:
            fail(f"prepare() refused the harness's own carrier_options(): {exc}")


_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def spec_problems(spec: CarrierSpec) -> list[str]:
    """Everything wrong with a carrier spec, one sentence each."""
    problems: list[str] = []
    if not _NAME.match(spec.name):
        problems.append(f"name {spec.name!r} must be lower-case letters, digits, '-' or '_'")
    fmt = spec.audio_format
    if fmt.encoding not in ("pcmu", "pcma", "pcm16") or fmt.sample_rate <= 0:
        problems.append(f"audio_format {fmt} is not an encoding and rate the core knows")
    names = [r.name for r in spec.routes]
    paths = [r.path for r in spec.routes]
    for label, values in (("route names", names), ("route paths", paths)):
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            problems.append(f"{label} {repeated} are declared twice")
    for route in spec.routes:
        if not route.path.startswith("/") or route.path == "/health":
            problems.append(
                f"route {route.name!r} path {route.path!r} must start with '/' "
                "and must not be the server's /health"
            )
        if route.kind == "http" and (not route.methods or set(route.methods) - _METHODS):
            problems.append(f"route {route.name!r} has HTTP methods {route.methods}")
    if not any(r.kind == "http" for r in spec.routes):
        problems.append("no http route: the carrier needs one for its call webhook")
    if not any(r.kind == "websocket" for r in spec.routes):
        problems.append("no websocket route: the carrier needs one for its media stream")
    caps = spec.capabilities
    if not (caps.inbound or caps.outbound):
        problems.append("capabilities declare neither inbound nor outbound calls")
    if caps.answering_machine_detection and not caps.outbound:
        problems.append("answering_machine_detection needs outbound: it applies to calls we dial")
    return problems


class CarrierSpecValidity(ConformanceGroup):
    """The spec is well formed and its data survives the core's converter unchanged."""

    def test_spec_is_well_formed(self, carrier_registered: Registered[CarrierSpec]) -> None:
        spec = carrier_registered.item
        problems = spec_problems(spec)
        if spec.test_kit:
            try:
                load_test_kit(spec.test_kit, owner=str(carrier_registered.source))
            except PatterError as exc:
                problems.append(str(exc))
        check(not problems, f"carrier {spec.name!r} spec problems:\n  " + "\n  ".join(problems))

    def test_spec_data_round_trips_through_the_converter(self, carrier_spec: CarrierSpec) -> None:
        parts: list[tuple[str, Any, type]] = [
            ("audio_format", carrier_spec.audio_format, AudioFormat),
            ("capabilities", carrier_spec.capabilities, CarrierCapabilities),
        ]
        parts += [(f"routes[{i}]", r, RouteSpec) for i, r in enumerate(carrier_spec.routes)]
        for where, value, cls in parts:
            path = f"carriers.{carrier_spec.name}.{where}"
            try:
                back: Any = structure(unstructure(value), cls, path=path)
            except ConfigError as exc:
                fail(f"{path} does not survive the converter: {exc}")
            check(back == value, f"{path} changed on a round trip: {value!r} became {back!r}")

    def test_price_table_round_trips_and_prices_every_call_leg(
        self, carrier_registry: Registry, carrier_registered: Registered[CarrierSpec]
    ) -> None:
        spec = carrier_registered.item
        table = carrier_registry.price_tables.get(spec.name)
        check(
            table is not None,
            f"no price table named {spec.name!r}: the core prices every call, so register a "
            "PriceTable with a per-minute 'inbound' leg from patter_register_pricing",
        )
        assert table is not None
        check(
            table.source.distribution == carrier_registered.source.distribution,
            f"price table {spec.name!r} comes from {table.source}, not from the carrier's plugin",
        )
        back = structure(unstructure(table.item), PriceTable, path=f"pricing.{spec.name}")
        check(back == table.item, f"price table {spec.name!r} changed on a round trip")
        legs = ["inbound"] + (["outbound"] if spec.capabilities.outbound else [])
        for leg in legs:
            price = table.item.models.get(leg)
            check(
                isinstance(price, MinutePrice),
                f"price table {spec.name!r} has no per-minute price for the {leg!r} leg "
                f"(has: {', '.join(table.item.models)})",
            )


class WebhookAnswer(ConformanceGroup):
    """The carrier answers its call webhook and the network's stream becomes a call."""

    @pytest.mark.asyncio
    async def test_webhook_answer_starts_a_call(self, carrier_live: CarrierLive) -> None:
        async with carrier_live() as rig:
            report = await guarded(rig.caller.call(SHORT_CALL), "the simulated call")
            got_through(report)
            result = await rig.call_ended(report.call_id)
            session = rig.engine.session_for(report.call_id)
        status = report.webhook_status
        check(status is None or 200 <= status < 300, f"the webhook was answered with {status}")
        check(session is not None, "the core ended the call without opening an engine session")
        check(result.end_reason != "internal error", f"the call failed inside the core: {result}")

    @pytest.mark.asyncio
    async def test_answer_points_the_network_at_the_public_media_route(
        self, carrier_live: CarrierLive, carrier_spec: CarrierSpec
    ) -> None:
        async with carrier_live() as rig:
            report = await guarded(rig.caller.call(SHORT_CALL), "the simulated call")
        got_through(report)
        check(report.stream_url, "the simulator must report the answer's stream URL (stream_url)")
        url, public = urlsplit(report.stream_url), urlsplit(PUBLIC_URL)
        paths = [r.path for r in carrier_spec.routes if r.kind == "websocket"]
        check(
            url.scheme == "wss" and url.netloc == public.netloc and url.path in paths,
            f"the webhook answer sent the network to {report.stream_url}; expected "
            f"wss://{public.netloc}{paths[0] if paths else '/...'}: the server's public URL "
            "and the carrier's websocket route (CarrierContext.url_for), never a local address",
        )


AUTH_CASES = [
    ("webhook", "missing"),
    ("webhook", "forged"),
    ("media", "missing"),
    ("media", "forged"),
]


class SignatureRejection(ConformanceGroup):
    """A missing or forged signature is refused before any call starts."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize(("leg", "auth"), AUTH_CASES, ids=[f"{a}-{b}" for a, b in AUTH_CASES])
    async def test_unauthenticated_request_starts_no_call(
        self, carrier_live: CarrierLive, leg: str, auth: str
    ) -> None:
        async with carrier_live() as rig:
            credentials: dict[str, Auth] = {f"{leg}_auth": cast(Auth, auth)}
            report = await guarded(rig.caller.call(SHORT_CALL, **credentials), "the call")
            await rig.idle()
            started, sessions = rig.started_calls(), list(rig.engine.sessions)
        check(
            not started and not sessions,
            f"a {auth} {leg} signature was accepted: the core started {len(started)} call(s) and "
            f"opened {len(sessions)} engine session(s). The carrier must check the signature "
            f"{'in handle_http' if leg == 'webhook' else 'in authenticate_media'} and refuse "
            f"the request. {shown(report)}",
        )
        if leg == "webhook":
            status = report.webhook_status
            check(
                report.ended_by == "webhook_rejected"
                and status is not None
                and 400 <= status < 500,
                f"a webhook with a {auth} signature got HTTP {status} ({report.ended_by}); refuse "
                "it with 401 or 403 before issuing a call token",
            )
        else:
            check(
                report.ended_by in ("media_rejected", "server_closed"),
                f"a media stream with a {auth} signature ended {report.ended_by!r}; expected its "
                "upgrade to be refused (media_rejected)",
            )
