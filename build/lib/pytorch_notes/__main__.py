"""``python -m pytorch_notes``: print versions, devices and a tiny op per device.

``python -m pytorch_notes data [--root DIR] [--only NAME ...]`` downloads the
book's full datasets and weights (see :mod:`pytorch_notes.download`).
"""

from __future__ import annotations

import argparse
import sys

from pytorch_notes import download
from pytorch_notes.datasets import data_root
from pytorch_notes.env import environment_report


def main(argv: list[str] | None = None) -> int:
    """Print the environment report, one ``name: value`` line each; ``data`` downloads the data.

    Returns the exit status: 0, or 1 when ``data`` could not fetch every item.
    """
    parser = argparse.ArgumentParser(prog="python -m pytorch_notes",
                                     description="Print versions, devices and a tiny op on each.")
    commands = parser.add_subparsers(dest="command")
    data = commands.add_parser("data", help="download the book's full datasets and weights",
                               description="Download the book's full datasets and weights; "
                                           "run it again to resume or finish.")
    data.add_argument("--root", metavar="DIR",
                      help="where they go (default: $PYTORCH_NOTES_DATA, else data/)")
    data.add_argument("--only", nargs="+", metavar="NAME",
                      help="only the items whose name contains NAME (any case), "
                           "e.g. mnist, cifar, hymenoptera, vgg16")
    args = parser.parse_args(argv)
    if args.command == "data":
        return _data(parser, args.root, args.only)
    report = environment_report()
    width = max(map(len, report))
    for name, value in report.items():
        print(f"{name:<{width}} : {value}")
    return 0


def _data(parser: argparse.ArgumentParser, root: str | None, only: list[str] | None) -> int:
    items = download.MANIFEST
    if only:
        for name in only:
            if not any(name.lower() in item.name.lower() for item in items):
                parser.error(f"no item is named like {name!r}; the items are: "
                             + ", ".join(item.name for item in items))
        items = [item for item in items if any(name.lower() in item.name.lower() for name in only)]
    failures = download.fetch(items, root)
    for line in failures:
        print(line, file=sys.stderr)
    print(f"{len(items) - len(failures)} of {len(items)} items ready in {data_root(root)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
