"""Test your Patter agent the way Telnyx calls it: `FakeTelnyx`, its REST API and its caller.

>>> from patter_telnyx.testing import FakeTelnyx, TestKeys
>>> from patter_core.simulation import Speech, Silence, WaitForAgent, Hangup
>>> script = [WaitForAgent(), Speech(ms=800), Silence(ms=600), Hangup()]
"""

from .fake_api import ApiRequest, CallControlApi, FakeCall, schema_problem
from .kit import KIT, TelnyxCaller, TelnyxNetwork, TelnyxTestKit
from .network import FakeTelnyx, TelnyxCall
from .signing import TestKeys
from .stream import ClearRecord, MediaStreamClient, Playback, StreamRecord
from .wire import TelnyxWire, token_client_state

__all__ = [
    "KIT",
    "ApiRequest",
    "CallControlApi",
    "ClearRecord",
    "FakeCall",
    "FakeTelnyx",
    "MediaStreamClient",
    "Playback",
    "StreamRecord",
    "TelnyxCall",
    "TelnyxCaller",
    "TelnyxNetwork",
    "TelnyxTestKit",
    "TelnyxWire",
    "TestKeys",
    "schema_problem",
    "token_client_state",
]
