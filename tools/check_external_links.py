"""List the links of a built site that leave it, and check them where the network allows.

    .venv/bin/python tools/check_external_links.py site            # list them
    .venv/bin/python tools/check_external_links.py site --check    # and request each (needs internet)

`make linkcheck` builds the site and checks. The test suite only lists them
(tests/test_site.py): CI has no internet, and an outside site being down must
not fail the book's tests.
"""

from __future__ import annotations

import argparse
import re
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

LINK = re.compile(r'<a\s[^>]*href="(https?://[^"#]+)[^"]*"')


def external_links(site: Path) -> dict[str, list[str]]:
    """Each outside address linked from the site's pages -> the pages (site-relative) that link it.

    The site's own address is the first entry of its sitemap.xml (the home page).
    """
    own_url = re.search(r"<loc>([^<]+)</loc>", (site / "sitemap.xml").read_text(encoding="utf-8")).group(1)
    links: dict[str, list[str]] = {}
    for page in sorted(site.rglob("*.html")):
        for address in LINK.findall(page.read_text(encoding="utf-8")):
            if address.startswith(own_url):
                continue
            pages = links.setdefault(address.replace("&amp;", "&"), [])
            if page.relative_to(site).as_posix() not in pages:
                pages.append(page.relative_to(site).as_posix())
    return links


def status(address: str) -> str:
    """'ok', or what went wrong, for one request to address (HEAD, then GET if HEAD is refused)."""
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(address, method=method, headers={"User-Agent": "pytorch-notes-linkcheck"})
        try:
            with urllib.request.urlopen(request, timeout=15):
                return "ok"
        except urllib.error.HTTPError as error:
            if method == "HEAD" and error.code in (403, 405, 429, 501):
                continue
            return f"HTTP {error.code}"
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            return f"unreachable ({getattr(error, 'reason', error)})"
    return "refused"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="a built site folder")
    parser.add_argument("--check", action="store_true", help="request every link (needs internet)")
    arguments = parser.parse_args()
    links = external_links(arguments.site)
    if not arguments.check:
        print("\n".join(links))
        return 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = dict(zip(links, pool.map(status, links)))
    broken = {address: result for address, result in results.items() if result != "ok"}
    for address, result in broken.items():
        print(f"{result}: {address} (linked from {', '.join(links[address][:3])})")
    print(f"{len(links)} outside links, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
