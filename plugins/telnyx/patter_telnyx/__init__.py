"""Telnyx carrier for Patter: Call Control v2 webhooks and bidirectional media streaming."""

from .carrier import Telnyx
from .errors import TelnyxApiError

__all__ = ["Telnyx", "TelnyxApiError"]
