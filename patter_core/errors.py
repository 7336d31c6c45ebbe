"""The one exception family every Patter error belongs to."""

from __future__ import annotations


class PatterError(Exception):
    """Base class of every error raised by Patter core and its plugins."""


class PluginError(PatterError):
    """A plugin could not be loaded, or registered something invalid."""


class DuplicateRegistrationError(PluginError):
    """Two plugins registered the same name; the message names both sources."""


class ConfigError(PatterError):
    """User or plugin data does not fit its schema; the message lists each path at fault."""


class CompatibilityError(ConfigError):
    """An agent combines things that cannot work together (model, effort, carrier, tools...)."""


class UnknownNameError(CompatibilityError):
    """A name (engine, model, carrier, transcription model) that no plugin registered."""


class CapabilityError(PatterError):
    """A carrier or engine was asked for something its spec does not declare."""


class CallSetupError(PatterError):
    """A call could not be set up (engine refused the session, timed out, ...)."""


class CarrierProtocolError(PatterError):
    """A carrier media-stream message could not be decoded."""


class PatterWarning(UserWarning):
    """Something works but is probably not what you want (a retiring model, an odd voice)."""
