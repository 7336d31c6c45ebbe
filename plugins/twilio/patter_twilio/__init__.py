"""Twilio carrier for Patter."""

from .carrier import Twilio
from .errors import TwilioApiError

__all__ = ["Twilio", "TwilioApiError"]
