"""Which ``Host`` headers the dashboard answers: a guard against DNS rebinding.

A page on another site can point its own host name at 127.0.0.1 (DNS rebinding) and then
read a dashboard that listens on loopback, since the browser thinks it talks to that site.
The browser still sends that site's name in ``Host``, so the dashboard answers only to the
names this machine's loopback goes by (``localhost``, ``127.x.y.z``, ``[::1]``, with or
without a port) and to the address it was told to listen on; bound to every interface
(``0.0.0.0``, ``::``) it was exposed on purpose and answers any name.

Starlette's ``TrustedHostMiddleware`` takes names and ``*.domain`` patterns but no address
ranges (127.0.0.0/8), and before Starlette 1.0 it cut ``[::1]:8765`` at the first colon;
hence this small ASGI middleware (standard library only).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

ALL_INTERFACES = frozenset({"", "0.0.0.0", "::", "[::]"})
LOOPBACK_NAMES = ("localhost", "127.x.y.z", "[::1]")  # as the refusal names them

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]


def host_name(header: str) -> str | None:
    """The name in a ``Host`` header, lower case, without port or trailing dot; an IPv6
    address keeps its brackets. None when the header is not ``name[:port]``."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        if end < 0:
            return None
        name, rest = header[: end + 1], header[end + 1 :]
    else:
        name, colon, port = header.partition(":")
        rest = colon + port
    if rest and not (rest[0] == ":" and rest[1:].isdigit()):
        return None
    return name.rstrip(".") or None


def is_loopback(name: str) -> bool:
    """Whether ``name`` (as ``host_name`` gives it) is this machine's loopback."""
    if name == "localhost":
        return True
    bracketed = name.startswith("[") and name.endswith("]")
    try:
        address = ipaddress.ip_address(name[1:-1] if bracketed else name)
    except ValueError:
        return False
    return address.is_loopback and (address.version == 6) == bracketed  # [::1], 127.x.y.z


def allowed_names(bind: str) -> frozenset[str] | None:
    """The host names (besides loopback ones) a dashboard bound to ``bind`` answers to;
    None when it answers any (bound to all interfaces)."""
    bind = bind.strip().lower()
    if bind in ALL_INTERFACES:
        return None
    if ":" in bind and not bind.startswith("["):
        bind = f"[{bind}]"  # an IPv6 address, as a browser writes it in Host
    name = host_name(bind)
    return frozenset() if name is None or is_loopback(name) else frozenset({name})


def host_allowed(header: str | None, names: frozenset[str] | None) -> bool:
    """Whether a request with this ``Host`` header is answered (``names``: as
    ``allowed_names`` gives them; None lets any host in)."""
    if names is None:
        return True
    name = None if header is None else host_name(header)
    return name is not None and (is_loopback(name) or name in names)


class HostCheck:
    """ASGI middleware: HTTP and WebSocket requests whose ``Host`` is not allowed get
    400 with a one-line plain-text body; everything else (lifespan) passes through."""

    def __init__(self, app: ASGIApp, bind: str) -> None:
        self.app = app
        self.names = allowed_names(bind)
        shown = ", ".join([*LOOPBACK_NAMES, *sorted(self.names or ())])
        self.body = f"Invalid Host header: this dashboard answers to {shown} (--host)\n".encode()

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] not in ("http", "websocket") or self.names is None:
            await self.app(scope, receive, send)
            return
        header = None
        for key, value in scope.get("headers", ()):
            if key == b"host":
                header = value.decode("latin-1")
                break
        if host_allowed(header, self.names):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":  # refuse the handshake
            await send({"type": "websocket.close", "code": 1008})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(self.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.body})
