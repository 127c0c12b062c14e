"""Lighthouse (mobile: a slow 4G network, a 4x slower CPU) on the heaviest pages of the built site.

    python tools/lighthouse.py [SITE_DIR]      # default site/; `make lighthouse` builds it first

The heaviest pages are the five with the most HTML elements, each in both languages. The site
is served on 127.0.0.1, gzip-compressed as GitHub Pages sends it; Lighthouse 12 comes
from npm through npx, and Chromium is Debian's (or CHROMIUM=/path/to/chrome). Writes
test-results/lighthouse.md and .json, and exits with 1 when a page scores under 0.95 for
performance or under 1 for accessibility. Scores are measurements, not tests: they move by a
few points from run to run, and with the load on the machine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("PYTORCH_NOTES_RESULTS", ROOT / "test-results"))
LIGHTHOUSE = "lighthouse@12.8.2"
BARS = {"performance": 0.95, "accessibility": 1.0}
METRICS = {"first-contentful-paint": "FCP (ms)", "largest-contentful-paint": "LCP (ms)",
           "total-blocking-time": "TBT (ms)", "cumulative-layout-shift": "CLS", "speed-index": "SI (ms)"}


def heaviest_pages(site: Path, count: int = 5) -> list[str]:
    """The `count` English pages (paths under the site) with the most HTML elements."""
    def elements(page: Path) -> int:
        return len(re.findall(r"<[a-zA-Z]", page.read_text(encoding="utf-8")))

    pages = [page for page in site.rglob("index.html") if page.relative_to(site).parts[0] != "zh"]
    pages.sort(key=elements, reverse=True)
    return [str(page.parent.relative_to(site)) + "/" for page in pages[:count]]


def serve(site: Path) -> str:
    """Serves the site in a background thread with the browser tests' server."""
    spec = importlib.util.spec_from_file_location("site_conftest", ROOT / "tests" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(conftest.PagesHandler, site_dir=site, base_path="/"))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def lighthouse(url: str, chromium: str) -> dict:
    """One Lighthouse run (its default: mobile) of performance and accessibility."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        subprocess.run(["npx", "--yes", LIGHTHOUSE, url, f"--chrome-path={chromium}",
                        "--chrome-flags=--headless=new --no-sandbox --disable-dev-shm-usage",
                        "--only-categories=performance,accessibility", "--output=json",
                        f"--output-path={report}", "--quiet"], check=True)
        found = json.loads(report.read_text(encoding="utf-8"))
    row = {category: found["categories"][category]["score"] for category in BARS}
    row |= {name: found["audits"][audit]["numericValue"] for audit, name in METRICS.items()}
    row["DOM elements"] = found["audits"]["dom-size"]["numericValue"]
    return row


def main(site: Path) -> int:
    if not (site / "index.html").is_file():
        sys.exit(f"no built site at {site}: run `make build` first")
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("google-chrome")
    if chromium is None:
        sys.exit("no Chromium found: apt-get install chromium, or set CHROMIUM=/path/to/chrome")
    base, rows = serve(site), []
    for path in heaviest_pages(site):
        for language in ("en", "zh"):
            page = path if language == "en" else f"zh/{path}"
            rows.append({"page": "/" + page, **lighthouse(base + page, chromium)})
            print(rows[-1], flush=True)
    columns = ["page", *BARS, *METRICS.values(), "DOM elements"]
    lines = ["| " + " | ".join(columns) + " |", "| --- |" + " ---: |" * (len(columns) - 1)]
    digits = {"page": None, "CLS": 3, **{category: 2 for category in BARS}}  # else whole numbers

    def cell(row: dict, column: str) -> str:
        places = digits.get(column, 0)
        return row[column] if places is None else f"{row[column]:.{places}f}"

    lines += ["| " + " | ".join(cell(row, column) for column in columns) + " |" for row in rows]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "lighthouse.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / "lighthouse.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))
    below = [f"{row['page']} {category} {row[category]}" for row in rows
             for category, bar in BARS.items() if row[category] < bar]
    print("under the bar: " + "; ".join(below) if below else "every page meets the bars", file=sys.stderr)
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "site")))
