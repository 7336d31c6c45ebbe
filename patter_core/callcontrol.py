"""Built-in call-control tools the model can use: ending and transferring the call."""

from __future__ import annotations

import re

from .engine import ToolSchema
from .errors import ConfigError

E164 = re.compile(r"^\+[1-9]\d{1,14}$")

# The wording matters: models hang up on a pause if a description invites it.
END_CALL = ToolSchema(
    name="end_call",
    description=(
        "Hang up the phone call. Use this only after the caller has said goodbye or has "
        "clearly asked to end the call, and after you have said goodbye yourself. Never use "
        "it because the caller is silent, pauses, or seems to be thinking."
    ),
    parameters={"type": "object", "properties": {}, "additionalProperties": False},
)

TRANSFER_CALL = ToolSchema(
    name="transfer_call",
    description=(
        "Transfer the caller to a human or another phone number. Use it only when the caller "
        "asks for it or the instructions say to; tell the caller you are transferring first."
    ),
    parameters={
        "type": "object",
        "properties": {
            "to": {
                "type": "string",
                "description": "The number to transfer to, in E.164 form, e.g. +15551234567.",
            }
        },
        "required": ["to"],
        "additionalProperties": False,
    },
)

BUILTIN_NAMES = (END_CALL.name, TRANSFER_CALL.name)


def check_e164(number: str, *, what: str = "phone number") -> str:
    """Return ``number`` if it is E.164 (``+`` then 2-15 digits), else raise `ConfigError`."""
    if not isinstance(number, str) or not E164.match(number):
        raise ConfigError(f"{what} {number!r} is not in E.164 form such as +15551234567")
    return number
