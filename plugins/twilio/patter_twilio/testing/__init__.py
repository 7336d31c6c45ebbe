"""Test your Patter agent the way Twilio calls it: `TwilioCallSimulator`, `FakeTwilioApi`, scripts.

>>> from patter_twilio.testing import Speech, Silence, Dtmf, WaitForAgent
>>> script = [WaitForAgent(), Speech(ms=800), Silence(ms=600), Dtmf("1")]
"""

from .fake_api import ApiFailure, ApiRequest, FakeTwilioApi
from .fake_calls import Callback, CallPlan, FakeCall, Outcome
from .recording import CallRecording, ClearRecord, EndReason, MarkEcho, PlayedChunk, Received
from .script import (
    Audio,
    Dtmf,
    Hangup,
    ScriptItem,
    Silence,
    Speech,
    WaitForAgent,
    read_wav_ulaw,
    tone,
)
from .serving import serve_app
from .simulator import TwilioCallSimulator
from .stream import new_sid

__all__ = [
    "ApiFailure",
    "ApiRequest",
    "Audio",
    "CallPlan",
    "CallRecording",
    "Callback",
    "ClearRecord",
    "Dtmf",
    "EndReason",
    "FakeCall",
    "FakeTwilioApi",
    "Hangup",
    "MarkEcho",
    "Outcome",
    "PlayedChunk",
    "Received",
    "ScriptItem",
    "Silence",
    "Speech",
    "TwilioCallSimulator",
    "WaitForAgent",
    "new_sid",
    "read_wav_ulaw",
    "serve_app",
    "tone",
]
