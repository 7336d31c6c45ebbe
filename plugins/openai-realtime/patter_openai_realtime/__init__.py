"""OpenAI Realtime engine for Patter."""

from .adapter import OpenAIRealtimeAdapter
from .models import OpenAIRealtimeModel, OpenAITranscriptionModel

__all__ = ["OpenAIRealtimeAdapter", "OpenAIRealtimeModel", "OpenAITranscriptionModel"]
