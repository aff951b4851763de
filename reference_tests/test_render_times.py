"""results/render_times.py: the "machine and times" section of a results README, from manifests.

The expected rows are written here by hand from a hand-made manifest, so a renderer that drops a
segment, mislabels a column or rewrites the README outside its markers fails.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "results", "render_times.py")

SEGMENT = {
    "command": "train",
    "started": "2026-01-01T10:00:00+00:00",
    "ended": "2026-01-01T11:30:00+00:00",
    "wall_seconds": 5400.0,
    "cpu_seconds": 10123.4,
    "steps": 27781,
    "status": "done",
    "software": {"commit": "0123456789abcdef0123", "dirty": True, "numpy": "2.0.1"},
    "machine": {"cpu": "Some CPU", "cores": 2, "blas": [{"library": "openblas", "version": "0.3.30", "threads": 2}]},
    "data": {"file": "shapes.npz", "sha256_ends": "abcdef0123456789ffff"},
}


def render(folder, *extra):
    return subprocess.run([sys.executable, SCRIPT, str(folder), *extra], capture_output=True, text=True)


def test_rows_from_manifest_segments_and_readme_block(tmp_path):
    run = tmp_path / "run-a"
    run.mkdir()
    resumed = dict(
        SEGMENT, started="2026-01-01T12:00:00+00:00", ended=None, wall_seconds=None, status="SIGTERM", steps=None
    )
    (run / "manifest.json").write_text(json.dumps({"format": 1, "segments": [SEGMENT, resumed]}))
    readme = tmp_path / "README.md"
    readme.write_text("# title\n\nbefore\n\n## Machine and times\n\nby hand\n")
    done = render(tmp_path, "--write")
    assert done.returncode == 0, done.stderr
    first = (
        "| `run-a` | train | 2026-01-01T10:00:00+00:00 | 2026-01-01T11:30:00+00:00 | 90.0 | 10123 | 27781 | done "
        "| 0123456789ab+changes | Some CPU, 2 cores | openblas 0.3.30/2 | 2.0.1 | shapes.npz abcdef012345 |"
    )
    second = (
        "| `run-a` | train | 2026-01-01T12:00:00+00:00 | - | - | 10123 | - | SIGTERM "
        "| 0123456789ab+changes | Some CPU, 2 cores | openblas 0.3.30/2 | 2.0.1 | shapes.npz abcdef012345 |"
    )
    lines = done.stdout.splitlines()
    assert first in lines and second in lines
    text = readme.read_text()
    # the block goes just before the hand-written heading, which stays, with everything else
    assert text.startswith("# title\n\nbefore\n\n<!-- manifest:begin -->\n## Machine and times (from the manifests)")
    assert text.endswith("<!-- manifest:end -->\n\n## Machine and times\n\nby hand\n")
    assert first in text.splitlines()
    # a second write with nothing new leaves the README as it was
    again = render(tmp_path, "--write")
    assert again.returncode == 0 and "unchanged" in again.stderr and readme.read_text() == text


def test_folder_without_manifest_says_so_and_bad_manifest_is_named(tmp_path):
    done = render(tmp_path)
    assert done.returncode == 0 and "No run folder here has a manifest.json" in done.stdout
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "manifest.json").write_text("[1]")
    bad = render(tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "manifest.json" in bad.stderr and "not a manifest" in bad.stderr
