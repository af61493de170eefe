"""Which ``Host`` (and ``Origin``) a request may name: the defence against DNS rebinding.

A web page the operator opens elsewhere can point its own name at 127.0.0.1 and have the browser
fetch the viewer's stream as that name's content; the request then carries the foreign name in
its Host header. So only the names the viewer is really served under pass: the address it is
bound to, what ``--host`` named, ``localhost`` and the loopback addresses and, when it listens
on every interface, this machine's own names and any address literal. An address literal cannot
be rebound (the page's origin is the address itself), so it is no way in for another site.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def host_name(header: str) -> str | None:
    """The name or address of a Host header's value without its port, lower case; None when
    the value is no valid host (a bare IPv6 address, a port that is no number, spaces...)."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1:]
        if not _is_ip(name, version=6):
            return None
    else:
        name, _, port = value.partition(":")
        rest = ":" + port if _ else ""
    if rest and not (rest.startswith(":") and rest[1:].isascii() and rest[1:].isdigit()
                     and len(rest) <= 6):
        return None
    name = name.removesuffix(".")
    if not name or any(not (c.isascii() and (c.isalnum() or c in "-._:")) for c in name):
        return None
    return name


def _is_ip(name: str, version: int | None = None) -> bool:
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return version is None or address.version == version


class AllowedHosts:
    """The names a request to a viewer bound to ``bound`` (and started as ``--host host``) may
    carry in its Host header."""

    def __init__(self, host: str, bound: str):
        self.any_address = bound in WILDCARDS or host in WILDCARDS
        names = set(LOOPBACK_NAMES) | {host.lower().strip("[]").removesuffix("."),
                                        bound.lower()}
        if self.any_address:
            hostname = socket.gethostname().lower()  # no DNS lookup: it could take seconds
            names |= {hostname, f"{hostname}.local"}
        self.names = frozenset(names - WILDCARDS)

    def allows(self, header: str | None) -> bool:
        if header is None:
            return False
        name = host_name(header)
        if name is None:
            return False
        return name in self.names or (self.any_address and _is_ip(name))

    def allows_origin(self, origin: str | None) -> bool:
        """No Origin (a same-origin GET, a script) passes; else an http(s) one on an allowed
        host. ``null`` (a sandboxed frame, a file) does not."""
        if origin is None:
            return True
        parts = urlsplit(origin.strip())
        return parts.scheme in ("http", "https") and self.allows(parts.netloc)
