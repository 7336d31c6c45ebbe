"""TwiML documents, built with the ``twilio`` package's `VoiceResponse`."""

from __future__ import annotations

import logging
from collections.abc import Mapping

log = logging.getLogger("patter_twilio")

#: Twilio refuses a <Parameter> whose name and value together reach 500 characters.
MAX_PARAMETER_CHARS = 499


def connect_stream(
    stream_url: str,
    parameters: Mapping[str, str],
    *,
    name: str = "",
    status_callback: str = "",
) -> str:
    """``<Connect><Stream url=…>`` with one ``<Parameter>`` per entry: a bidirectional stream."""
    from twilio.twiml.voice_response import (  # type: ignore[import-untyped]
        Connect,
        Stream,
        VoiceResponse,
    )

    stream = Stream(
        url=stream_url,
        name=name or None,
        status_callback=status_callback or None,
        status_callback_method="POST" if status_callback else None,
    )
    for key, value in parameters.items():
        if len(key) + len(value) > MAX_PARAMETER_CHARS:
            # Twilio would fail the whole stream; dropping one optional field is kinder.
            log.warning("TwiML parameter %r dropped: longer than Twilio accepts", key)
            continue
        stream.parameter(name=key, value=value)
    connect = Connect()
    connect.append(stream)
    response = VoiceResponse()
    response.append(connect)
    xml: str = response.to_xml()
    return xml


def reject(reason: str = "busy") -> str:
    """``<Reject reason=…>``: the caller hears a busy tone (or a not-in-service message)."""
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    response.reject(reason=reason)
    xml: str = response.to_xml()
    return xml
