"""Render a results folder's "machine and times" facts from the manifest.json files below it.

    python results/render_times.py RESULTS_FOLDER [--write]

Searches RESULTS_FOLDER recursively for ``manifest.json`` files (tagger_ref/experiments/manifest.py documents
their fields) and prints a Markdown section, "## Machine and times (from the manifests)", with one
table row per segment of each manifest: the run folder (relative to RESULTS_FOLDER), the command,
start and end (UTC), wall minutes, CPU seconds, steps, how it ended, the commit (12 characters,
"+changes" for a tree with uncommitted changes), the CPU model and cores, the BLAS libraries and
their threads, the NumPy version, and the data file with the first 12 characters of its
fingerprint. A folder without any manifest says so: its facts were written by hand.

With --write, the section also replaces the block between the lines ``<!-- manifest:begin -->`` and
``<!-- manifest:end -->`` of RESULTS_FOLDER/README.md; where the markers are absent, both markers
and the block go just before the README's "## Machine and time(s)" heading, or at its end if it has
none. The README is replaced atomically (a temporary file in the same folder, then os.replace) and
left untouched when nothing changes.

Exit status 2, with a one-line message, for a missing folder, an unreadable manifest (named), a
missing README.md or misplaced markers (with --write). Standard library only, Python 3.10+.
"""
import argparse
import json
import os
import stat
import sys
import tempfile

HEADING = "## Machine and times (from the manifests)"
NO_MANIFEST = ("No run folder here has a manifest.json: the facts below were written by hand at the time "
               "and are not machine-recorded.")
BEGIN, END = "<!-- manifest:begin -->", "<!-- manifest:end -->"
INSERT_BEFORE = ("## Machine and time", "## Machine and times")
COLUMNS = ("run", "command", "started (UTC)", "ended (UTC)", "wall (min)", "CPU s", "steps", "status",
           "commit", "CPU, cores", "BLAS, threads", "NumPy", "data, sha256_ends")


class Failure(Exception):
    """A condition reported as one line on stderr with exit status 2."""


def cell(value):
    """A table cell: '-' for nothing, no pipes or line breaks inside."""
    if value is None or value == "":
        return "-"
    return " ".join(str(value).replace("|", "/").split())


def find_manifests(folder):
    """The manifest.json paths below ``folder``, in a stable (sorted) order."""
    found = []
    for top, dirs, names in os.walk(folder):
        dirs.sort()
        if "manifest.json" in names:
            found.append(os.path.join(top, "manifest.json"))
    return sorted(found, key=lambda p: os.path.relpath(os.path.dirname(p), folder).split(os.sep))


def read_segments(path):
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError) as e:
        raise Failure(f"cannot read manifest {path}: {e}") from None
    if not isinstance(record, dict) or not isinstance(record.get("segments"), list):
        raise Failure(f"cannot read manifest {path}: not a manifest (no list of segments)")
    if record.get("format") != 1:
        raise Failure(f"cannot read manifest {path}: format {record.get('format')!r}, this script reads format 1")
    if not all(isinstance(s, dict) for s in record["segments"]):
        raise Failure(f"cannot read manifest {path}: a segment is not an object")
    return record["segments"]


def number(value, scale=1.0, digits=0):
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None if value is None else value
    return f"{value / scale:.{digits}f}"


def row(run, segment):
    software = segment.get("software") or {}
    machine = segment.get("machine") or {}
    data = segment.get("data") or {}
    commit = software.get("commit")
    if commit:
        commit = str(commit)[:12] + ("+changes" if software.get("dirty") else "")
    cpu = None
    if machine:
        cpu = f"{machine.get('cpu') or 'unknown CPU'}, {machine.get('cores')} cores"
    blas = ", ".join(sorted(f"{b.get('library')} {b.get('version')}/{b.get('threads')}"
                            for b in machine.get("blas") or [] if isinstance(b, dict))) or None
    fingerprint = None
    if data:
        fingerprint = f"{data.get('file')} {str(data.get('sha256_ends') or '')[:12]}".strip()
    steps = segment.get("steps")
    cells = (run, segment.get("command"), segment.get("started"), segment.get("ended"),
             number(segment.get("wall_seconds"), 60.0, 1), number(segment.get("cpu_seconds")),
             steps, segment.get("status"), commit, cpu, blas, software.get("numpy"), fingerprint)
    return "| " + " | ".join(cell(c) for c in cells) + " |"


def render(folder):
    """The Markdown section for ``folder`` (ending with a newline)."""
    if not os.path.isdir(folder):
        raise Failure(f"{folder} is not a folder")
    lines = [HEADING, ""]
    rows, paths = [], find_manifests(folder)
    for path in paths:
        run = os.path.relpath(os.path.dirname(path), folder)
        run = "(this folder)" if run == "." else f"`{run.replace(os.sep, '/')}`"
        rows += [row(run, s) for s in read_segments(path)]
    if rows:
        lines += ["One row per segment of each run folder's `manifest.json`, rendered by",
                  "`results/render_times.py` (wall in minutes, CPU in seconds of the process, BLAS as",
                  "library version/threads).", "",
                  "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)] + rows
    elif paths:
        names = ", ".join(f"`{os.path.relpath(p, folder).replace(os.sep, '/')}`" for p in paths)
        lines.append(f"The manifests here ({names}) hold no segments yet.")
    else:
        lines.append(NO_MANIFEST)
    return "\n".join(lines) + "\n"


def updated_readme(text, section):
    """``text`` with the manifest block set to ``section`` (see the module docstring)."""
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    block = [BEGIN + newline] + [line + newline for line in section.rstrip("\n").split("\n")] + [END + newline]
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if begins or ends:
        if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
            raise Failure(f"needs exactly one {BEGIN} line followed by one {END} line, found "
                          f"{len(begins)} begin and {len(ends)} end line(s)"
                          + (", the end first" if len(begins) == len(ends) == 1 else ""))
        return "".join(lines[:begins[0]] + block + lines[ends[0] + 1:])
    for i, line in enumerate(lines):
        if line.strip() in INSERT_BEFORE:
            return "".join(lines[:i] + block + [newline] + lines[i:])
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += newline
    return "".join(lines + ([newline] if lines and lines[-1].strip() else []) + block)


def write_readme(folder, section):
    """Set the block in folder/README.md, atomically; True if the file changed."""
    readme = os.path.join(folder, "README.md")
    try:
        with open(readme, encoding="utf-8", newline="") as f:
            text = f.read()
        mode = stat.S_IMODE(os.stat(readme).st_mode)
    except (OSError, ValueError) as e:
        raise Failure(f"cannot read {readme}: {e}") from None
    try:
        new = updated_readme(text, section)
    except Failure as e:
        raise Failure(f"{readme}: {e}") from None
    if new == text:
        return False
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".README.md.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, readme)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise Failure(f"cannot write {readme}: {e}") from None
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="render_times.py",
        description="Print a results folder's machine and times from its run folders' manifest.json files.")
    parser.add_argument("folder", metavar="RESULTS_FOLDER")
    parser.add_argument("--write", action="store_true",
                        help="also replace the block between the manifest markers in RESULTS_FOLDER/README.md")
    args = parser.parse_args(argv)
    try:
        section = render(args.folder)
        sys.stdout.write(section)
        if args.write:
            changed = write_readme(args.folder, section)
            print(f"{os.path.join(args.folder, 'README.md')}: {'updated' if changed else 'unchanged'}",
                  file=sys.stderr)
    except Failure as e:
        print(f"render_times.py: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
