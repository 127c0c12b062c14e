"""Fixtures shared by the site tests: the built site, and the site served like GitHub Pages."""

from __future__ import annotations

import gzip
import mimetypes
import os
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE_URL = os.environ.get("SITE_URL", "https://pytorch-notes.github.io/pytorch-notes/")  # as in mkdocs.yml
COMPRESSED_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml")
mimetypes.add_type("font/woff2", ".woff2")
mimetypes.add_type("application/x-ipynb+json", ".ipynb")


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The site as `make build` makes it (strict), built once per test session.

    ``PYTORCH_NOTES_SITE=site`` tests an already built folder instead (quicker while
    working on the tests; it must have been built from the current tree).
    """
    if os.environ.get("PYTORCH_NOTES_SITE"):
        return Path(os.environ["PYTORCH_NOTES_SITE"]).resolve()
    site_dir = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site_dir)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-5000:]
    return site_dir


class PagesHandler(SimpleHTTPRequestHandler):
    """Serves a built site the way GitHub Pages does for a project site.

    The site lives under a sub-path (``/<repo>/``); a folder answers with its
    ``index.html`` (and ``/folder`` redirects to ``/folder/``); anything missing
    answers 404 with the site's root ``404.html``; text is sent gzip-compressed to
    a browser that accepts it, so transferred bytes are what a reader downloads.
    """

    def __init__(self, *args, site_dir: Path, base_path: str, **kwargs):
        self.site_dir, self.base_path = site_dir, base_path
        super().__init__(*args, **kwargs)

    def do_GET(self):
        path = unquote(urlsplit(self.path).path)
        if not path.startswith(self.base_path):
            return self._send(404, self.site_dir / "404.html")
        file = self.site_dir / path[len(self.base_path):]
        if file.is_dir() and not path.endswith("/"):
            self.send_response(301)
            self.send_header("Location", path + "/")
            self.send_header("Content-Length", "0")
            return self.end_headers()
        if file.is_dir():
            file = file / "index.html"
        if ".." in Path(path).parts or not file.is_file():
            return self._send(404, self.site_dir / "404.html")
        return self._send(200, file)

    def _send(self, status: int, file: Path) -> None:
        body = file.read_bytes()
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        self.send_response(status)
        if content_type.startswith(COMPRESSED_TYPES) and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, mtime=0)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Type", content_type + ("; charset=utf-8" if content_type.startswith("text/") else ""))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=600")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def served_site(site):
    """Base URL of the built site served on 127.0.0.1 under the sub-path of its site_url."""
    base_path = urlsplit(SITE_URL).path or "/"
    handler = partial(PagesHandler, site_dir=site, base_path=base_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{base_path}"
    server.shutdown()
    server.server_close()
