"""Entry point of every command: `uv run python main.py --help`."""

from shared.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
