"""The ``newsarchive`` command line.

Each verb lives in its own module under :mod:`newsarchive.commands` and exposes
``register(subparsers)``, which adds a parser whose ``func(args) -> int`` runs it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from newsarchive import __version__, commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsarchive",
        description="Crawl news outlets into WARC files, extract articles, query them in DuckDB.",
    )
    parser.add_argument("--version", action="version", version=f"newsarchive {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def _stdout_gone() -> int:
    """The reader of our output went away (``| head``): stop quietly, like coreutils.

    Python would print a BrokenPipeError traceback, and again when it flushes stdout at
    exit; pointing stdout at /dev/null first silences that second one.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 128 + 13  # what a shell reports for a process killed by SIGPIPE


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _stdout_gone()
    except Exception as exc:  # noqa: BLE001 - last resort: one line, never a traceback
        if os.environ.get("NEWSARCHIVE_DEBUG"):
            raise
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        return 1


def describe_error(exc: BaseException) -> str:
    """One line for an exception no verb handled itself."""
    from newsarchive.registry import RegistryError, registry_path

    if isinstance(exc, RegistryError):
        return f"outlet registry {registry_path()}: {exc}"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = str(exc).strip().splitlines()
    return (
        f"{type(exc).__name__}: {text[0] if text else 'unexpected failure'} "
        "(set NEWSARCHIVE_DEBUG=1 for the traceback)"
    )


if __name__ == "__main__":
    sys.exit(main())
