"""``X-Twilio-Signature`` checks, done by the ``twilio`` package's own `RequestValidator`.

The ``twilio`` SDK is imported on first use so that loading the plugin (``patter plugins``)
stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

SIGNATURE_HEADER = "x-twilio-signature"
SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"


class _Validator(Protocol):
    def compute_signature(self, uri: str, params: Any, algorithm: str | None = None) -> str: ...

    def validate(
        self, uri: str, params: Any, signature: str, algorithm: str | None = None
    ) -> bool: ...


class Params:
    """Form parameters in the multi-valued shape `RequestValidator` reads (``getlist``)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: dict[str, list[str]] = {}
        for name, value in items:
            self._items.setdefault(name, []).append(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def getlist(self, name: str) -> Sequence[str]:
        return self._items.get(name, [])

    def first(self) -> dict[str, str]:
        """One value per name (the first), the way webhook fields are normally read."""
        return {name: values[0] for name, values in self._items.items()}


@lru_cache(maxsize=8)
def _validator(token: str) -> _Validator:
    from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

    validator: _Validator = RequestValidator(token)
    return validator


def _algorithm(settings_header: str | None) -> str | None:
    if not settings_header:
        return None
    from twilio.request_validator import get_signature_algorithm

    algorithm: str = get_signature_algorithm(settings_header)
    return algorithm


def compute_signature(
    auth_token: str, url: str, params: Params | None = None, *, algorithm: str | None = None
) -> str:
    """The signature Twilio sends for a request to ``url`` carrying form ``params``."""
    return _validator(auth_token).compute_signature(url, params or Params(), algorithm)


def is_valid(
    auth_token: str,
    url: str,
    params: Params | None,
    signature: str | None,
    *,
    settings_header: str | None = None,
) -> bool:
    """Whether ``signature`` signs ``url`` and ``params`` with ``auth_token`` (False if absent)."""
    if not auth_token or not signature:
        return False
    return _validator(auth_token).validate(
        url, params or Params(), signature, _algorithm(settings_header)
    )
