"""How the lab manager client puts things in words: one line, secrets redacted, errors as a reader says them."""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Sequence

_REDACTED = "***"


def in_words(error: BaseException) -> str:
    """A connection error as a reader would say it: `connection refused`, `TLS error: wrong version number`."""
    if isinstance(error, ssl.SSLError):
        reason = error.reason or error.strerror or type(error).__name__
        return f"TLS error: {str(reason).lower().replace('_', ' ')}"
    if isinstance(error, http.client.RemoteDisconnected):
        return "the connection closed without an answer"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if isinstance(error, ConnectionAbortedError):
        return "connection aborted"
    if isinstance(error, BrokenPipeError):
        return "connection closed while sending"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the address ({error.strerror})"
    if isinstance(error, http.client.HTTPException):
        return f"malformed answer ({type(error).__name__})"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return one_line(str(error)) or type(error).__name__


def redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, _REDACTED)
    return text


def one_line(text: str) -> str:
    return " ".join(text.split())


def excerpt(body: bytes) -> str:
    return repr(one_line(body.decode("utf-8", errors="replace"))[:60])


def in_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
