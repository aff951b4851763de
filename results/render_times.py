"""Render a results folder's "machine and times" from the manifest.json files below it.

    python results/render_times.py RESULTS_DIR

prints one Markdown table row per manifest segment (tagger_ref/manifest.py documents the fields):
the run folder, command, start and end (UTC), wall minutes, CPU seconds, steps, how it ended, the
commit (with "+changes" for a tree with uncommitted changes), CPU and cores, BLAS and its threads,
NumPy, and the data file with the start of its fingerprint. A folder without any manifest says so:
its facts were written by hand. Standard library only.
"""
import json
import os
import sys

HEADER = ("| run | command | started | ended | wall (min) | CPU s | steps | ended as | commit | CPU | BLAS | NumPy | data |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def cell(value):
    return "" if value is None else str(value).replace("|", "/")


def rows(folder):
    for top, _, names in sorted(os.walk(folder)):
        if "manifest.json" not in names:
            continue
        path = os.path.join(top, "manifest.json")
        try:
            with open(path) as f:
                segments = json.load(f)["segments"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SystemExit(f"error: cannot read {path}: {e}")
        run = os.path.relpath(top, folder)
        for s in segments:
            software, machine, data = s.get("software") or {}, s.get("machine") or {}, s.get("data") or {}
            commit = (software.get("commit") or "")[:12] + ("+changes" if software.get("dirty") else "")
            blas = ", ".join(f"{b.get('library')} {b.get('threads')}" for b in machine.get("blas") or [])
            wall = s.get("wall_seconds")
            yield "| " + " | ".join(cell(v) for v in (
                run, s.get("command"), s.get("started"), s.get("ended"), None if wall is None else f"{wall / 60:.1f}",
                s.get("cpu_seconds"), s.get("steps"), s.get("status"), commit,
                machine and f"{machine.get('cpu')}, {machine.get('cores')} cores", blas, software.get("numpy"),
                data and f"{data.get('file')} {str(data.get('sha256_ends'))[:12]}")) + " |"


def render(folder):
    if not os.path.isdir(folder):
        raise SystemExit(f"error: {folder} is not a folder")
    found = list(rows(folder))
    lines = ["## Machine and times (from the manifests)", ""]
    if not found:
        lines.append("No run folder here has a manifest.json: the facts below were written by hand at the time "
                     "and are not machine-recorded.")
    else:
        lines += [HEADER] + found
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python results/render_times.py RESULTS_DIR")
    sys.stdout.write(render(sys.argv[1]))
