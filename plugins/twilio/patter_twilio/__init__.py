"""Twilio carrier for Patter."""

from .carrier import Twilio

__all__ = ["Twilio"]
