"""HTTPS to the lab manager: connections under its name (SNI), and how its certificate is checked."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from constellab.lab_manager.request import Verify


@dataclass(frozen=True)
class Endpoint:
    """Where TLS connections go, and a check that the way there (the tunnel) is still open."""

    address: str
    port: int
    check: Callable[[], None] = field(default=lambda: None)


class NotSentError(Exception):
    """The request got no HTTP answer; the message says why, in words."""


class SniConnection(http.client.HTTPSConnection):
    """HTTPS to an address, with another name as SNI (http.client would use the address)."""

    def __init__(self, address: str, port: int, server_name: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=context)
        self._server_name = server_name
        self._tls = context

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_name)


def tls_context(verify: Verify, ca: str | None) -> ssl.SSLContext:
    """TLS 1.2+; the certificate checked with the lab manager's name, but for `none`.

    Why each mode is safe is in `constellab.lab_manager_client`'s documentation.
    """
    if verify == "none":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif verify == "pem":
        context = ssl.create_default_context(cadata=ca)
        # The site's own chain is the trust anchor, its server certificate included.
        context.verify_flags |= getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0x80000)
        # The anchor is pinned: Python 3.13's strict checks (an Authority Key Identifier...) add nothing,
        # and would refuse many sites' own certificates.
        context.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
    else:
        context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
