"""`python -m disparo.simulator --host 127.0.0.1 --port 8081`: run the Bot API simulator."""

from __future__ import annotations

import argparse
import sys

from disparo.simulator.server import add_arguments, run_from_args


def main(argv: list[str] | None = None) -> int:
    """Parse the flags and serve until interrupted; the exit status."""
    parser = argparse.ArgumentParser(
        prog="disparo simulator", description="A Telegram Bot API look-alike for Disparo."
    )
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
