"""The tests' network guard: a name lookup answers for this machine only.

The tests reach 127.0.0.1 and nothing else. conftest installs `loopback_getaddrinfo`
in the test process, and puts this folder first on PYTHONPATH for the whole session,
so that every Python process the tests start (`python -m newsletter`, the installed
`newsletter` command, a nested pytest, a fresh venv's python) imports this file at
start-up (`site` imports the first `sitecustomize` on sys.path) and refuses the same
lookups. No hook in the library: the code under test finds "no such host"
(socket.gaierror, as offline CI would, but at once) and takes its ordinary path.

It shadows any other sitecustomize (Debian's installs apport's crash hook: not
wanted in tests). Only the standard library may be imported here: this runs before
anything else in every child, including a fresh venv that has nothing installed.
"""

from __future__ import annotations

import socket
from typing import Any

# exact names, not "127.0.0.0/8": "127.1" or the machine's own name in /etc/hosts are
# refused too, so a test cannot lean on a resolver that the machine may not have
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost", "0.0.0.0", "::", ""})
REFUSED = "the tests reach 127.0.0.1 only"
_system_getaddrinfo = socket.getaddrinfo


def loopback_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    """socket.getaddrinfo for loopback names; any other is "no such host" (EAI_NONAME)."""
    name = host.decode() if isinstance(host, bytes) else str(host or "")
    if name not in LOOPBACK:
        raise socket.gaierror(socket.EAI_NONAME, f"{REFUSED}, not {name!r}")
    return _system_getaddrinfo(host, *args, **kwargs)


def install() -> None:
    """Guard this process's lookups (socket.create_connection, asyncio and httpx
    all look the function up on the socket module when they connect)."""
    socket.getaddrinfo = loopback_getaddrinfo


if __name__ == "sitecustomize":  # imported by `site` in a child; conftest installs its own
    install()
