"""OpenAI Realtime engine for Patter."""

from .adapter import OpenAIRealtime, OpenAIRealtimeAdapter, SemanticVad, ServerVad
from .models import OpenAIRealtimeModel, OpenAITranscriptionModel
from .session import OpenAIRealtimeSession

__all__ = [
    "OpenAIRealtime",
    "OpenAIRealtimeAdapter",
    "OpenAIRealtimeModel",
    "OpenAIRealtimeSession",
    "OpenAITranscriptionModel",
    "SemanticVad",
    "ServerVad",
]
