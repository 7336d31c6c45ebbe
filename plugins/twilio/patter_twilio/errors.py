"""`TwilioApiError`: Twilio's REST API refused a request or could not be reached."""

from __future__ import annotations

from patter_core.errors import PatterError

ERROR_DOCS = "https://www.twilio.com/docs/errors/"


class TwilioApiError(PatterError):
    """A failed REST call with its HTTP status and Twilio error code (``None`` when unknown)."""

    def __init__(self, action: str, *, status: int | None, code: int | None, message: str) -> None:
        self.action = action
        self.status = status
        self.code = code
        self.twilio_message = message
        if status is None:
            text = f"Twilio API: could not {action}: {message}"
        else:
            text = f"Twilio API: could not {action}: HTTP {status}"
            if code is not None:
                text += f", Twilio error {code}"
            text += f": {message}"
            if code is not None and code != status:
                text += f" (see {ERROR_DOCS}{code})"
        super().__init__(text)
