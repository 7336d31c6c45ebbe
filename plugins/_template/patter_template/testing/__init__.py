"""The template's test kit: what `patter demo` and the conformance kit drive (``test_kit``)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

from .simulator import TemplateCaller
from .wire import TemplateWire


class TemplateTestKit:
    """Signs like the network with a throwaway secret and calls through the real protocol."""

    def __init__(self) -> None:
        self.secret = secrets.token_hex(16)
        self.wire = TemplateWire()

    def carrier_options(self) -> dict[str, Any]:
        """Options for `TemplateCarrier` that the simulator's signatures satisfy."""
        return {"secret": self.secret}

    @contextlib.asynccontextmanager
    async def simulator(self, base_url: str, public_url: str) -> AsyncIterator[TemplateCaller]:
        """A caller for the server at ``base_url``, known to the network as ``public_url``."""
        import httpx

        async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
            yield TemplateCaller(http, base_url, public_url, self.secret)


KIT = TemplateTestKit()

__all__ = ["KIT", "TemplateCaller", "TemplateTestKit", "TemplateWire"]
