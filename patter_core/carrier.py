"""The carrier seam: webhooks, media-stream codec and call control of a telephony carrier.

The server owns the sockets; a carrier answers its HTTP routes, vets the media WebSocket
upgrade, and translates between its media-stream messages and the normalised events here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from attrs import field, frozen

from .specs import AudioFormat, CarrierSpec

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.websockets import WebSocket


@frozen
class InboundCall:
    """A call the carrier has just announced, before its media stream connects."""

    call_id: str
    caller: str = ""
    callee: str = ""
    direction: str = "inbound"
    parameters: Mapping[str, str] = field(factory=dict)


@frozen
class StreamStarted:
    """The media stream is up; ``call_token`` must match one the core issued for this call."""

    stream_id: str
    call_id: str
    call_token: str = ""
    custom_parameters: Mapping[str, str] = field(factory=dict)
    audio_format: AudioFormat | None = None


@frozen
class MediaReceived:
    """Caller audio: base64 in the carrier's audio format."""

    payload: str
    timestamp_ms: int | None = None


@frozen
class MarkEchoed:
    """The carrier played everything queued before the mark called ``name``."""

    name: str


@frozen
class DtmfReceived:
    digit: str


@frozen
class StreamStopped:
    reason: str = ""


CarrierEvent = StreamStarted | MediaReceived | MarkEchoed | DtmfReceived | StreamStopped


class CarrierContext(Protocol):
    """What the server offers a carrier while it answers a request."""

    @property
    def public_url(self) -> str:
        """The https base URL the carrier reaches this server at, without a trailing slash."""
        ...

    def url_for(self, route_name: str) -> str:
        """The public URL of one of this carrier's routes (``wss://`` for WebSocket routes)."""
        ...

    def issue_call_token(self, call: InboundCall) -> str:
        """Remember an announced call and return the one-time token its media stream must carry."""
        ...

    def report_status(self, call_id: str, status: str, details: Mapping[str, str]) -> None:
        """Record a call-status callback (ringing, answered, completed, busy, ...)."""
        ...


@runtime_checkable
class Carrier(Protocol):
    """A configured carrier (what users construct)."""

    carrier_name: str

    def prepare(self, spec: CarrierSpec) -> None:
        """Check credentials and settings before serving; raise `ConfigError` with what to set."""
        ...

    async def handle_http(self, route_name: str, request: Request, ctx: CarrierContext) -> Response:
        """Answer one of the carrier's HTTP routes (voice webhook, status callback...)."""
        ...

    async def authenticate_media(self, websocket: WebSocket, ctx: CarrierContext) -> str | None:
        """Vet a media WebSocket upgrade before accepting it: ``None`` if fine, else why not."""
        ...

    def decode(self, message: str) -> CarrierEvent | None:
        """Turn one media-stream text frame into an event (``None`` for frames with no meaning).

        Raises `CarrierProtocolError` for malformed frames.
        """
        ...

    def encode_audio(self, stream_id: str, payload: str) -> str:
        """A frame that plays ``payload`` (base64 in the carrier's format) to the caller."""
        ...

    def encode_mark(self, stream_id: str, name: str) -> str:
        """A frame asking the carrier to echo ``name`` once everything before it has played."""
        ...

    def encode_clear(self, stream_id: str) -> str:
        """A frame that drops all audio still queued for playback."""
        ...


@frozen
class DialRequest:
    """An outbound call to place; the carrier fetches ``answer_url`` when it is answered."""

    to: str
    from_: str
    answer_url: str
    status_url: str
    ring_timeout_s: int = 30
    machine_detection: bool = False
    time_limit_s: int | None = None


class CallControl(Protocol):
    """Call control over the carrier's REST API; each method needs its capability declared.

    Status changes (ringing, answered, completed, busy, no-answer, failed, the
    answering-machine verdict as ``AnsweredBy``) arrive later through the carrier's status
    route and ``CarrierContext.report_status`` — the status names are Twilio's:
    ``queued|initiated|ringing|in-progress|completed|busy|failed|no-answer|canceled``.
    """

    async def dial(self, request: DialRequest) -> str:
        """Place the call; returns the carrier's call id (``outbound`` capability)."""
        ...

    async def hang_up(self, call_id: str) -> None:
        """End a live call (``hang_up`` capability)."""
        ...

    async def transfer(self, call_id: str, to: str) -> None:
        """Connect the caller to ``to`` (E.164), ending the agent's part (``transfer``)."""
        ...
