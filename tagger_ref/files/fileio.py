"""Atomic file writing and checked `.npz` reading.

Every file tagger_ref writes goes to a temporary name in the destination folder and is renamed
into place only once it is complete, so a failure or a kill never leaves a partial file under the
final name, and an existing file is replaced only by a complete new one. A full disk is one line,
"no space left on FOLDER", with the temporary file removed. A path that is a symbolic link is
written through: its target gets the new content and the link stays.

While a temporary file is written its writer holds an advisory lock on it (``fcntl.flock``, where
it exists), so that :func:`remove_stale_parts` can tell the leftovers of a killed writer from a
file still being written.
"""

import contextlib
import errno
import hashlib
import json
import os
import tempfile
import zipfile
import zlib

import numpy

from ..errors import NoSpaceError, OutputError, TaggerError

try:
    import fcntl  # advisory locks (flock); absent on Windows, where nothing is locked
except ImportError:
    fcntl = None


def check_output_file(path, inputs=()):
    """Fail early, before any work, when ``path`` cannot be written, or when it is one of the
    command's ``inputs`` (file paths; None and paths that do not exist are skipped): writing it
    would replace what the command reads."""
    path = os.fspath(path)
    if not path:  # realpath would make it the current folder
        raise OutputError("the output file name is empty")
    target = os.path.realpath(path)  # a link is written through (atomic_path)
    folder = os.path.dirname(target) or "."
    if os.path.isdir(path):
        raise OutputError(f"output {path} is a folder")
    if os.fspath(path).endswith(("/", os.sep)):  # the name of a folder, which abspath would hide
        raise OutputError(f"output {path} ends in a slash: name a file, not a folder")
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is not writable")
    name, most = os.path.basename(target), _name_max(folder)
    if len(os.fsencode(name)) > most:
        raise OutputError(
            f"cannot write {path}: the file name has {len(os.fsencode(name))} bytes, more than the "
            f"{most} that folder {folder} allows"
        )
    for source in inputs:
        if source is not None and _same_file(path, source):
            raise OutputError(
                f"output {path} is the input {os.fspath(source)}: writing it would replace what the command "
                f"reads; choose another output name"
            )


def check_outputs(outputs, inputs=()):
    """:func:`check_output_file` for every file a command will write, and that no two of them are
    one file: the one check of every command's outputs against its inputs, before any work."""
    outputs = [os.fspath(o) for o in outputs]
    for i, path in enumerate(outputs):
        check_output_file(path, inputs)
        for other in outputs[:i]:
            if os.path.realpath(other) == os.path.realpath(path):
                raise OutputError(f"{other} and {path} are one file: the command would write both there")


def _same_file(a, b):
    """Whether the paths ``a`` and ``b`` name one existing file (links and other spellings included)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one does not exist (an output not yet written), or a bad name
        return False


def _name_max(folder):
    """The longest file name (bytes) the file system of ``folder`` allows."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows), or no answer
        return 255


def _part_prefix(name):
    """The start of a temporary name beside ``name``: "." + name + ".", or for a name too long to
    take that much more (a legal name of up to the file system's 255 bytes) a hash of it."""
    if len(os.fsencode(name)) > SHORT_NAME:
        name = hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    return "." + name + "."


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside ``path``; on success rename it to ``path``, else delete it.

    ``suffix`` is appended to the temporary name (NumPy's ``savez`` adds ``.npz`` to names
    without it, and matplotlib picks the format from the ending).
    """
    path = os.fspath(path)
    if os.path.islink(path):  # write through to the link's target, keeping the link
        path = os.path.realpath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=_part_prefix(os.path.basename(path)), suffix=PART + suffix, dir=folder)
    except OSError as e:
        raise _write_error(e, path) from None
    if not _lock(fd):  # no flock (Windows): nothing to hold, and an open file cannot be replaced
        os.close(fd)
        fd = None
    try:
        # mkstemp creates the file readable by its owner only; give it the usual mode (0666 less umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _write_error(e, path) from None
        raise
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock held since mkstemp


PART = ".part"  # the temporary files are hidden: "." + name + "." + random + ".part" [+ suffix]
SHORT_NAME = 100  # bytes of a name kept in its temporary name; a longer one is replaced by a hash


def _write_error(e, path):
    """OutputError in one line for an OSError while writing ``path``; a full disk names the folder."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return NoSpaceError(
            f"no space left on {os.path.dirname(path) or '.'} (writing {os.path.basename(path)}): free some space and "
            f"run the command again; nothing already written was changed"
        )
    return OutputError(f"cannot write {path}: {e.strerror}")


def _lock(fd):
    """Lock the open temporary file ``fd`` for as long as it is open (True), where flock exists."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def remove_stale_parts(folder):
    """Remove the hidden temporary files (``.NAME.*.part*``) in ``folder`` and its sub-folders that
    no process is writing: those a killed writer left. Returns their paths."""
    if fcntl is None:
        return []
    removed = []
    for where, _, names in os.walk(folder):
        for name in names:
            if not (name.startswith(".") and PART in name):
                continue
            full = os.path.join(where, name)
            try:
                fd = os.open(full, os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # refused while its writer lives
                os.unlink(full)
                removed.append(full)
            except OSError:
                pass
            finally:
                os.close(fd)
    return removed


def save_npz(path, arrays, compressed=False):
    """Write a dict of arrays to ``path`` (a `.npz`) atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        (numpy.savez_compressed if compressed else numpy.savez)(tmp, **{k: numpy.asarray(v) for k, v in arrays.items()})


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)


def write_json(path, obj):
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=1) + "\n")


def read_head(path, n, error=TaggerError, what="file"):
    """The first ``n`` bytes of the file ``path`` (to tell its format), raising ``error`` with a
    clear message where it does not exist, is a folder or cannot be read."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise error(f"{what} {path} does not exist")
    if os.path.isdir(path):
        raise error(f"{what} {path} is a folder, not a file")
    if not os.path.isfile(path):
        raise error(f"{what} {path} is not a regular file")
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as e:
        raise error(f"{what} {path} cannot be read: {e.strerror}") from None


def load_npz(path, error=TaggerError, what="file"):
    """Read every array of a `.npz` into a dict, raising ``error`` with a clear message on failure."""
    path = os.fspath(path)
    magic = read_head(path, 6, error, what)
    if magic == b"\x93NUMPY":
        raise error(f"{what} {path} is a single .npy array, not a .npz archive of named arrays")
    if not magic.startswith(b"PK"):
        raise error(f"{what} {path} is not a .npz archive (not a zip file)")
    try:
        with numpy.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, KeyError) as e:
        raise error(f"{what} {path} is not a readable .npz archive (truncated or damaged): {e}") from None
