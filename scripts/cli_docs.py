"""Write docs/cli.md, the command-line reference, from the parser itself (`interp COMMAND --help`
for every command, `interp train TASK --help` for every task), so it cannot drift from the code.
tests/test_docs.py checks the file is what this script writes.

Usage: python scripts/cli_docs.py [--check]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
HEADER = """# Command line

`interp COMMAND --help` prints each command's options; this page is that text for every
command, written by `scripts/cli_docs.py` (a test keeps it equal to the parser's). Bad input is
one line on stderr naming the bad value and what is allowed, exit status 2; an interrupt exits
with 130. `interp --version` names the library and the run format version.
"""


def _help(argv: list[str]) -> str:
    from interp.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(argv)
    return out.getvalue().rstrip()


def render() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix it
    from interp.cli import COMMANDS, TRAIN_TASKS

    parts = [HEADER, "```", _help(["--help"]), "```", ""]
    for name in COMMANDS:
        parts += [f"## `interp {name}`", "", "```", _help([name, "--help"]), "```", ""]
        if name == "train":
            for task in TRAIN_TASKS:
                parts += [f"### `interp train {task}`", "", "```"]
                parts += [_help(["train", task, "--help"]), "```", ""]
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not PAGE.exists() or PAGE.read_text() != text:
            print(f"{PAGE} is stale: run python scripts/cli_docs.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
