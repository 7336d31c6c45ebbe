"""Test your Patter agent the way Twilio calls it: `TwilioCallSimulator` and its script items.

>>> from patter_twilio.testing import Speech, Silence, Dtmf, WaitForAgent
>>> script = [WaitForAgent(), Speech(ms=800), Silence(ms=600), Dtmf("1")]
"""

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
    "Audio",
    "CallRecording",
    "ClearRecord",
    "Dtmf",
    "EndReason",
    "Hangup",
    "MarkEcho",
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
