"""One Markdown section of docs/performance.md per benchmark script: replaced in place, or added at the end."""

from __future__ import annotations

import re
from pathlib import Path


def write_section(path: str | Path, text: str) -> None:
    """Replace the section of ``path`` whose ``## title`` line ``text`` starts with, or append ``text``."""
    path = Path(path)
    title = text.splitlines()[0]
    old = path.read_text() if path.exists() else ""
    pattern = re.compile(rf"{re.escape(title)}\n.*?(?=\n## |\Z)", re.S)
    new = pattern.sub(lambda _: text.rstrip("\n"), old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    path.write_text(new.rstrip("\n") + "\n")


def main_of(section, doc: str | None = None) -> None:
    """The command line of a benchmark script: print its section, and with ``--write FILE`` put it there."""
    import argparse

    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--write", help="replace (or add) the section in this Markdown file")
    args = parser.parse_args()
    text = section()
    print(text)
    if args.write:
        write_section(args.write, text)
