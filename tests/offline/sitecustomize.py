"""Refuse every network connection except loopback: the book must work offline.

pytest loads this in-process (tests/conftest.py), and the tests that run scripts
put this folder on PYTHONPATH so Python loads it at start-up in the subprocess.
"""

import ipaddress
import socket

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


class NetworkBlocked(OSError):
    """Raised when code under test tries to reach the network."""


def _is_loopback(host) -> bool:
    if host in (None, "localhost", ""):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(family, address) -> None:
    if family == getattr(socket, "AF_UNIX", None):
        return
    host = address[0] if isinstance(address, tuple) else address
    if not _is_loopback(host):
        raise NetworkBlocked(f"tests run offline: refused a connection to {address!r}")


def _guarded_connect(self, address):
    _check(self.family, address)
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    _check(self.family, address)
    return _connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _is_loopback(host):
        raise NetworkBlocked(f"tests run offline: refused to resolve {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.getaddrinfo = _guarded_getaddrinfo
