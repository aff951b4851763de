"""Advisory locks on run folders, so that two processes never write one folder at once.

A process that writes a run folder (``train``, ``baseline``, a seed of ``sweep``) holds an
exclusive ``fcntl.flock`` on ``FOLDER/.lock`` for the run's life. The kernel releases it when the
process ends, however it ends (``kill -9`` included), so a lock never outlives its holder and
nothing has to be cleaned up by hand. A second process is refused in one line naming the folder
(or, for a sweep's seed, waits a while for the first to finish its last write).

Holding the lock, a process removes the hidden ``*.part`` files that a killed writer left
(``fileio.atomic_path`` keeps a lock on each while it is written, so a file still being written,
e.g. by an ``evaluate`` of the same folder, is left alone). Where ``flock`` does not exist
(Windows) the folder is used unlocked.
"""

import contextlib
import os
import shutil
import time

from ..errors import OutputError, TaggerError
from .fileio import fcntl, remove_stale_parts  # fcntl is None where flock does not exist

LOCK = ".lock"


@contextlib.contextmanager
def locked(folder, wait=0.0, busy=None):
    """Hold an exclusive lock on FOLDER/.lock (the folder must exist); TaggerError(``busy``) if another
    process holds it for longer than ``wait`` seconds. Stale ``*.part`` files are removed once it is held."""
    if fcntl is None:
        yield
        return
    try:
        f = open(os.path.join(folder, LOCK), "a")
    except OSError as e:
        raise OutputError(f"cannot lock {folder}: {e.strerror}") from None
    with f:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TaggerError(busy or f"{folder} is in use by another process") from None
                time.sleep(0.2)
        try:
            remove_stale_parts(folder)
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def run_folder(folder, worth_keeping=None):
    """A run folder for the run's life: created if missing, locked (``locked``; a second process gets
    one line naming the folder). If the block fails, what it added to the folder is removed again,
    and the folder if it made it, so that a failed command leaves the folder as it found it: after
    an error unless ``worth_keeping(folder)`` says that the run got somewhere worth continuing; after
    an interruption (KeyboardInterrupt: a second Ctrl-C) only when it added nothing but the lock."""
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputError(f"cannot use {folder} as a run folder: it is a file")
    created = not os.path.exists(folder)
    try:
        os.makedirs(folder, exist_ok=True)
        before = set(os.listdir(folder))
    except OSError as e:
        raise OutputError(f"cannot create run folder {folder}: {e.strerror}") from None
    with locked(
        folder,
        busy=f"run folder {folder} is in use by another process (a train or baseline still "
        f"running there?); wait for it or choose another folder",
    ):
        try:
            yield folder
        except BaseException as e:
            with contextlib.suppress(OSError):
                added = set(os.listdir(folder)) - before - {LOCK}
                if not added or (isinstance(e, Exception) and not (worth_keeping and worth_keeping(folder))):
                    _remove(folder, added | ({LOCK} - before), created)
            raise


def _remove(folder, names, and_folder):
    """Remove the entries ``names`` of ``folder`` (files or folders), then ``folder`` itself if asked and empty."""
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)
    if and_folder:
        with contextlib.suppress(OSError):
            os.rmdir(folder)
