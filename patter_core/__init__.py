"""Patter core: put an AI voice agent on a phone number, with engines and carriers as plugins."""

from .app import Agent, Patter
from .errors import (
    CallSetupError,
    CapabilityError,
    CarrierProtocolError,
    CompatibilityError,
    ConfigError,
    DuplicateRegistrationError,
    PatterError,
    PatterWarning,
    PluginError,
    UnknownNameError,
)
from .hookspecs import hookimpl
from .pricing import DEFAULT_PRICING, CostBreakdown, call_cost
from .registry import Registry
from .tools import Tool, ToolContext, tool

__all__ = [
    "DEFAULT_PRICING",
    "Agent",
    "CallSetupError",
    "CapabilityError",
    "CarrierProtocolError",
    "CompatibilityError",
    "ConfigError",
    "CostBreakdown",
    "DuplicateRegistrationError",
    "Patter",
    "PatterError",
    "PatterWarning",
    "PluginError",
    "Registry",
    "Tool",
    "ToolContext",
    "UnknownNameError",
    "call_cost",
    "hookimpl",
    "tool",
]
