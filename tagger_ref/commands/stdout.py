"""Standard output that its reader may close: ``tagger-ref train ... | head -1``.

What a command prints (epoch lines, progress, "wrote ...") is for a reader; its results are its
files and its exit status. So a reader that goes away must not stop a run or change what it
writes: while a command runs, ``sys.stdout`` is a :class:`_Stdout` that, the first time a write
finds the pipe closed (``BrokenPipeError``), points the stream at ``os.devnull`` (the interpreter's
own final flush then succeeds too), says so once on stderr, and lets the command carry on.
"""

import contextlib
import io
import os
import sys


class _Stdout:
    """``stream`` whose ``write`` and ``flush`` survive a closed pipe (module doc)."""

    def __init__(self, stream, command):
        self._stream, self._command, self.reader_gone = stream, command, False

    def write(self, text):
        if not self.reader_gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._went_away()
        return len(text)

    def flush(self):
        if not self.reader_gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._went_away()

    def __getattr__(self, name):  # fileno, isatty, encoding, ...: the stream's own
        return getattr(self._stream, name)

    def _went_away(self):
        self.reader_gone = True
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):  # a stream without a file
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
        print(
            f"note: the reader of standard output went away; tagger-ref {self._command} carries on without printing",
            file=sys.stderr,
            flush=True,
        )


@contextlib.contextmanager
def stdout_that_may_close(command):
    """While active, ``sys.stdout`` carries on past a closed pipe (module doc); flushed on the way out."""
    stream = sys.stdout
    if stream is None:  # started with stdout closed (`>&-`): print() already prints nothing
        yield None
        return
    sys.stdout = wrapped = _Stdout(stream, command)
    try:
        yield wrapped
    finally:
        wrapped.flush()
        sys.stdout = stream
