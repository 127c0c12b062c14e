"""The offline guard: no test reaches the network; loopback stays usable."""

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

OFFLINE = Path(__file__).resolve().parent / "offline"


def test_connections_beyond_loopback_are_refused():
    with pytest.raises(OSError, match="tests run offline"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)  # TEST-NET-1, never routed
    with pytest.raises(OSError, match="tests run offline"):
        socket.getaddrinfo("download.pytorch.org", 443)


def test_downloads_fail_fast_offline():
    import urllib.request

    with pytest.raises(OSError, match="tests run offline"):
        urllib.request.urlopen("https://download.pytorch.org/models/vgg16-397923af.pth", timeout=1)


def test_loopback_still_works():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = threading.Thread(target=lambda: server.accept()[0].close())
    accepted.start()
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    accepted.join(5)
    server.close()


def test_subprocesses_get_the_guard_too():
    env = dict(os.environ, PYTHONPATH=str(OFFLINE))
    code = "import socket\ntry:\n    socket.getaddrinfo('pypi.org', 443)\nexcept OSError as e:\n    print(e)"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "tests run offline" in result.stdout
