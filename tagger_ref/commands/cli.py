"""The ``tagger-ref`` command line.

Each subcommand lives in its own module under ``tagger_ref.commands`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function taking the parsed
arguments and returning the exit status. Exit codes: 0 success, 1 a check found a mismatch,
2 bad usage or bad input (one ``error: ...`` line on stderr, the traceback only with ``--debug``).
"""

# The standard library only at the top: everything else is imported inside main, so that a Ctrl-C
# while it loads (numpy alone takes a while) meets main's handler instead of printing a traceback.
import argparse
import errno
import importlib
import os
import sys

# Subcommand modules, in the order ``--help`` lists them.
COMMANDS = [
    "trace",
    "gradcheck",
    "data",
    "compare",
    "golden",
    "train",
    "baseline",
    "evaluate",
    "figure",
    "sweep",
    "demo",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}\n")


def build_parser():
    parser = _Parser(prog="tagger-ref", description="Reference implementation of Tagger (Greff et al., NIPS 2016).")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"tagger_ref.commands.{name}").register(sub)
    return parser


def main(argv=None):
    """Run ``tagger-ref ARGV`` and return its exit status (module doc)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C before the command took over, e.g. while its modules are imported
        print("error: interrupted", file=sys.stderr)
        return 130


def _main(argv=None):
    from data_gen.errors import DataGenError

    from ..errors import TaggerError
    from ..experiments import manifest
    from ..experiments.memory import keep_freed_memory
    from .stdout import stdout_that_may_close

    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv  # accepted anywhere on the line, not only before the subcommand
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(argv)
    keep_freed_memory()  # fresh pages for every temporary cost about a fifth of a training step
    outer, manifest.command_line = manifest.command_line, ["tagger-ref"] + argv  # what manifest.json records
    try:
        with stdout_that_may_close(args.command):  # `| head` does not stop a run (commands/stdout.py)
            return args.func(args)
    except (TaggerError, DataGenError) as e:  # data_gen stands alone, with its own error type
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # a pipe closed under a write that bypassed sys.stdout (stdout.py catches the others): stop
        # quietly, pointing stdout at /dev/null so that the interpreter's final flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # BrokenPipeError, an OSError too, is handled above
        if debug or e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # a writer outside fileio.atomic_path (which says so itself): a full disk, in one line
        where = (os.path.dirname(os.fspath(e.filename)) or ".") if e.filename else "the disk"
        print(f"error: no space left on {where}", file=sys.stderr)
        return 2
    except MemoryError:  # what the checks before allocating (memory.check_fits) did not foresee
        if debug:
            raise
        print(f"error: out of memory running tagger-ref {args.command}: use smaller sizes", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    finally:
        manifest.command_line = outer


if __name__ == "__main__":
    sys.exit(main())
