"""Declared capabilities: the one check that refuses what a carrier or engine did not declare.

A carrier or engine spec says what it can do (`CarrierCapabilities`, `EngineCapabilities`).
`require` turns a missing declaration into a `CapabilityError` that names the plugin and
lists what it does declare; `CallControlGate` runs that check before every call-control
request, so an undeclared capability never reaches the carrier::

    >>> from patter_core.capabilities import require
    >>> from patter_core.errors import CapabilityError
    >>> from patter_core.specs import PCMU_8K, CarrierSpec
    >>> spec = CarrierSpec(name="acme", factory=object, audio_format=PCMU_8K)
    >>> try:
    ...     require(spec, "transfer")
    ... except CapabilityError as exc:
    ...     print(exc)  # doctest: +NORMALIZE_WHITESPACE
    carrier 'acme' does not declare the 'transfer' capability; it declares: inbound.
    Declare transfer=True in its CarrierCapabilities once it works, or do without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from .errors import CapabilityError
from .specs import CarrierSpec, EngineSpec

if TYPE_CHECKING:
    from .carrier import DialRequest
    from .plugins import PluginSource
    from .registry import Registered

#: The carrier method that exercises each call-control capability.
CARRIER_METHODS: dict[str, str] = {
    "outbound": "dial",
    "hang_up": "hang_up",
    "transfer": "transfer",
    "recording": "start_recording",
}

#: The engine-session method that exercises each engine capability with one.
ENGINE_METHODS: dict[str, str] = {
    "truncate": "truncate",
    "tool_calls": "send_tool_result",
    "text_input": "send_user_text",
}


def declared(spec: CarrierSpec | EngineSpec) -> dict[str, bool]:
    """Every capability of a spec and whether it is declared, in declaration order."""
    return {name: bool(value) for name, value in attrs.asdict(spec.capabilities).items()}


def require(
    spec: CarrierSpec | EngineSpec, capability: str, *, source: PluginSource | None = None
) -> None:
    """Raise `CapabilityError` unless ``spec`` declares ``capability``."""
    capabilities = declared(spec)
    kind = "carrier" if isinstance(spec, CarrierSpec) else "engine"
    owner = f"{kind} {spec.name!r}" + (f" ({source})" if source is not None else "")
    if capability not in capabilities:
        raise CapabilityError(
            f"{owner}: there is no capability called {capability!r}; "
            f"{kind} capabilities are: {', '.join(capabilities)}"
        )
    if capabilities[capability]:
        return
    have = ", ".join(name for name, on in capabilities.items() if on) or "nothing"
    record = "CarrierCapabilities" if kind == "carrier" else "EngineCapabilities"
    raise CapabilityError(
        f"{owner} does not declare the {capability!r} capability; it declares: {have}. "
        f"Declare {capability}=True in its {record} once it works, or do without it."
    )


class CallControlGate:
    """A carrier's call control behind its declared capabilities (see `call_control`)."""

    def __init__(
        self, carrier: object, spec: CarrierSpec, source: PluginSource | None = None
    ) -> None:
        self.carrier = carrier
        self.spec = spec
        self.source = source

    def _method(self, capability: str) -> Any:
        require(self.spec, capability, source=self.source)
        name = CARRIER_METHODS[capability]
        method = getattr(self.carrier, name, None)
        if method is None:
            raise CapabilityError(
                f"carrier {self.spec.name!r} declares {capability!r} but "
                f"{type(self.carrier).__name__} has no {name}() method"
            )
        return method

    async def dial(self, request: DialRequest) -> str:
        """Place an outbound call (``outbound``; ``answering_machine_detection`` if asked)."""
        method = self._method("outbound")
        if request.machine_detection:
            require(self.spec, "answering_machine_detection", source=self.source)
        call_id: str = await method(request)
        return call_id

    async def hang_up(self, call_id: str) -> None:
        """End a live call (``hang_up``)."""
        await self._method("hang_up")(call_id)

    async def transfer(self, call_id: str, to: str) -> None:
        """Move a live call to ``to`` (``transfer``)."""
        await self._method("transfer")(call_id, to)

    async def start_recording(self, call_id: str) -> str:
        """Start recording a live call; returns the carrier's recording id (``recording``)."""
        recording_id: str = await self._method("recording")(call_id)
        return recording_id


def call_control(carrier: object, registered: Registered[CarrierSpec]) -> CallControlGate:
    """The gate for ``carrier``, checked against the spec its plugin registered."""
    return CallControlGate(carrier, registered.item, registered.source)
