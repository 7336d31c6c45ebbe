"""`TelnyxApiError`: Telnyx's Call Control API refused a command or could not be reached."""

from __future__ import annotations

from patter_core.errors import PatterError

#: Telnyx's error code for a command sent to a call that has already ended.
CALL_ENDED = "90018"


class TelnyxApiError(PatterError):
    """A failed REST command with its HTTP status and Telnyx error code (empty when unknown)."""

    def __init__(self, action: str, *, status: int | None, code: str, message: str) -> None:
        self.action = action
        self.status = status
        self.code = code
        self.telnyx_message = message
        where = "could not be reached" if status is None else f"HTTP {status}"
        code_part = f", Telnyx error {code}" if code else ""
        super().__init__(f"Telnyx API: could not {action}: {where}{code_part}: {message}")

    @property
    def call_has_ended(self) -> bool:
        """Whether Telnyx refused because the call is already over (nothing left to do)."""
        return self.code == CALL_ENDED
