"""``manifest.json``: what produced a run folder.

Every command that writes a run folder (train, baseline, evaluate, sweep, demo) opens a *segment*
of the folder's manifest when it starts and completes it when it ends, however it ends (done, the
time limit, a signal, an error). A resumed run, or an evaluation of a trained run, appends a
segment; earlier segments are never rewritten. A segment holds:

- ``command``: the subcommand, and ``argv``: the whole command line as given (the program by its
  file name only);
- ``software``: the tagger-ref version and, when the package is imported from a git checkout, its
  ``commit`` and whether the tree had uncommitted changes (``dirty``); Python, NumPy, autograd,
  SciPy, scikit-learn and CuPy versions (None where not installed);
- ``machine``: the CPU model, the core count, the platform, and the BLAS libraries loaded with
  their thread counts (threadpoolctl), read when the segment ends, after the work has loaded them;
- ``data``: for a data file, its name, size in bytes and ``sha256_ends``, a SHA-256 of its size and
  of its first and last MiB (cheap on a 500 MiB file; a changed file almost surely changes it);
- ``started`` and ``ended`` (UTC, ISO 8601), ``wall_seconds`` and ``cpu_seconds`` (this process,
  all threads), ``steps`` (training steps done at the end, for trainings), and ``status``: "running"
  while it runs, then "done", "time limit", "SIGINT", "SIGTERM" or "error: <message>".

A process killed without warning (SIGKILL, power) leaves its segment "running": the next segment
follows it, so the record shows the kill. The file is replaced atomically (fileio.write_json).
"""

import contextlib
import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time

from ..errors import OutputError
from ..files.fileio import write_json

MANIFEST = "manifest.json"
FORMAT = 1
PACKAGES = ("numpy", "autograd", "scipy", "scikit-learn", "cupy")
ENDS = 1 << 20  # bytes read at each end of a data file for its fingerprint


# The command line of the tagger-ref command running now (cli.main sets it, also for the commands
# the demo runs inside its own process); None outside the command line, where sys.argv is taken.
command_line = None


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _version(distribution):
    for name in (distribution,) + (("cupy-cuda12x", "cupy-cuda11x") if distribution == "cupy" else ()):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version(name)
    return None


def _git(folder, *args):
    """The stripped output of ``git args`` in ``folder``, or None when git or the checkout is absent."""
    try:
        out = subprocess.run(("git", "-C", folder) + args, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def software():
    """Versions of tagger-ref (with the git commit of its checkout, if any) and of its dependencies."""
    from .. import __version__

    package = os.path.dirname(os.path.abspath(__file__))
    record = {"tagger_ref": __version__, "commit": None, "dirty": None, "python": platform.python_version()}
    top = _git(package, "rev-parse", "--show-toplevel")
    if top and os.path.isfile(os.path.join(top, "tagger_ref", "__init__.py")):
        record["commit"] = _git(top, "rev-parse", "HEAD")
        status = _git(top, "status", "--porcelain", "--untracked-files=no")
        record["dirty"] = None if status is None else bool(status)
    record.update({name: _version(name) for name in PACKAGES})
    return record


def cpu_model():
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or None


def machine():
    """CPU model, cores, platform and the BLAS libraries this process has loaded (threadpoolctl)."""
    from threadpoolctl import threadpool_info

    blas = [
        {
            "library": i.get("internal_api"),
            "version": i.get("version"),
            "threads": i.get("num_threads"),
            "architecture": i.get("architecture"),
        }
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(), "blas": blas}


def data_fingerprint(path):
    """Name, size and a SHA-256 of the size and both ends of a data file (module doc); None if unreadable."""
    try:
        size = os.path.getsize(path)
        digest = hashlib.sha256(str(size).encode())
        with open(path, "rb") as f:
            digest.update(f.read(ENDS))
            if size > ENDS:
                f.seek(max(ENDS, size - ENDS))
                digest.update(f.read(ENDS))
    except OSError:
        return None
    return {"file": os.path.basename(os.fspath(path)), "bytes": size, "sha256_ends": digest.hexdigest()}


def read_manifest(folder):
    """The manifest of ``folder`` ({"format", "segments": [...]}); an empty one if there is none.
    OutputError if the file exists but is not a manifest (nothing is then written over it)."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.exists(path):
        return {"format": FORMAT, "segments": []}
    try:
        with open(path) as f:
            record = json.load(f)
        if not isinstance(record, dict) or not isinstance(record.get("segments"), list):
            raise ValueError("no list of segments")
    except (OSError, ValueError) as e:
        raise OutputError(f"{path} is not a readable manifest ({e}); move it away to continue") from None
    return record


class Segment:
    """One command's segment of a folder's manifest. Used as a context manager: entering appends it
    ("running"), leaving completes it with ``status`` (default "done"; an exception gives
    ``"error: <message>"``, KeyboardInterrupt "interrupted", and propagates) and ``steps`` (set by
    the block, or ``steps_fn()`` when given). Each writes the whole file atomically. A command
    creates the segment early and enters it once its checks have passed, so a refused command
    leaves no trace in the folder."""

    def __init__(self, folder, command, argv=None, data=None, steps_fn=None):
        self.folder, self.path = os.fspath(folder), os.path.join(folder, MANIFEST)
        argv = list((command_line or sys.argv) if argv is None else argv)
        if argv:  # the program by its name, not by where it is installed
            argv[0] = os.path.basename(argv[0])
        self.record = {
            "command": command,
            "argv": argv,
            "software": software(),
            "machine": None,
            "data": None if data is None else data_fingerprint(data),
            "started": None,
            "ended": None,
            "wall_seconds": None,
            "cpu_seconds": None,
            "steps": None,
            "status": "running",
        }
        self.status, self.steps, self.steps_fn, self.index = "done", None, steps_fn, None

    def __enter__(self):
        os.makedirs(self.folder, exist_ok=True)
        manifest = read_manifest(self.folder)
        self._clock, self._cpu = time.monotonic(), time.process_time()
        self.record["started"] = _now()
        self.index = len(manifest["segments"])
        manifest["segments"].append(self.record)
        write_json(self.path, manifest)
        return self

    def __exit__(self, kind, error, tb):
        if kind is KeyboardInterrupt:
            status = "interrupted"
        elif error is not None:
            status = f"error: {error}"
        else:
            status = self.status
        steps = self.steps_fn() if self.steps_fn is not None else self.steps
        try:
            self.end(status, steps)
        except Exception:  # noqa: BLE001 -- a failing manifest write must not hide the block's error
            if error is None:
                raise
        return False

    def end(self, status, steps=None):
        manifest = read_manifest(self.folder)
        self.record.update(
            ended=_now(),
            wall_seconds=round(time.monotonic() - self._clock, 1),
            cpu_seconds=round(time.process_time() - self._cpu, 1),
            steps=steps,
            status=status,
            machine=machine(),
        )
        segments = manifest["segments"]
        if self.index < len(segments) and segments[self.index].get("started") == self.record["started"]:
            segments[self.index] = self.record
        else:  # the file was replaced meanwhile: keep ours at the end
            segments.append(self.record)
        write_json(self.path, manifest)


def optional(segment):
    """``segment``, or a context that does nothing when it is None (a library call without a manifest)."""
    return contextlib.nullcontext() if segment is None else segment


def manifest_reference(folder, relative_to=None):
    """How a table names the run it scored: the manifest's path (relative to the folder
    ``relative_to`` when given, so that the record names no machine's paths) and the run's last
    training segment (its index, commit and steps), or None when the folder has no manifest."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        return None
    with contextlib.suppress(OutputError):
        segments = read_manifest(folder)["segments"]
        training = [i for i, s in enumerate(segments) if s.get("command") in ("train", "baseline", "sweep", "demo")]
        last = training[-1] if training else None
        where = os.path.abspath(path) if relative_to is None else os.path.relpath(path, relative_to)
        return {
            "manifest": where,
            "training_segment": last,
            "commit": None if last is None else segments[last]["software"].get("commit"),
            "steps": None if last is None else segments[last].get("steps"),
        }
    return None
