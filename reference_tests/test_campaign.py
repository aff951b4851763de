"""results/shapes-table1-paper/campaign.sh, the Table 1 campaign, in a sandbox: a first start of a
row, a clean stop that collects, a resume, and the refusal to splice a new run onto a committed log.

The sandbox is a clone of this repository (so that `collect` writes into the clone's results, never
into this checkout) with the working tree's campaign files copied in, and a campaign folder whose
virtual environment is a stand-in: its `tagger-ref` is this test's Python running the package under
test, its `pip` does nothing. The row trains the real preset on a few Shapes images, so a step is the
paper's model's step; the test stops it after an epoch, resumes it and stops it after the next.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAMPAIGN_FILES = (
    "results/shapes-table1-paper/campaign.sh",
    "results/shapes-table1-paper/progress.py",
    "results/render_times.py",
)

pytestmark = pytest.mark.skipif(
    not os.path.isdir(os.path.join(ROOT, ".git")) or shutil.which("git") is None, reason="needs a git checkout"
)


def _sandbox(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "--quiet", ROOT, str(repo)], check=True)
    for name in CAMPAIGN_FILES:
        shutil.copy(os.path.join(ROOT, name), repo / name)
    work = tmp_path / "campaign"
    (work / "venv" / "bin").mkdir(parents=True)
    entry = work / "venv" / "bin" / "tagger-ref"
    entry.write_text(f"#!{sys.executable}\nimport sys\nfrom tagger_ref.commands.cli import main\nsys.exit(main())\n")
    pip = work / "venv" / "bin" / "pip"
    pip.write_text("#!/bin/sh\nexit 0\n")
    for f in (entry, pip):
        f.chmod(0o755)
    env = dict(os.environ, TAGGER_CAMPAIGN=str(work))
    data = ["--train", "100", "--valid", "1000", "--test", "10", "--single", "10"]
    subprocess.run([str(entry), "data", "shapes", "--out", str(work / "shapes.npz"), *data], check=True, env=env)
    return repo, work, env


def _campaign(repo, env, *args):
    script = repo / "results" / "shapes-table1-paper" / "campaign.sh"
    return subprocess.run(["bash", str(script), *args], env=env, capture_output=True, text=True, timeout=600)


def _wait_for_log_lines(run_dir, lines, pid_file):
    """Until log.csv has more than ``lines`` lines (its header, then a line an epoch), the row's
    process alive meanwhile; the caller's ``finally`` kills the process if this fails."""
    deadline = time.time() + 600
    while time.time() < deadline:
        log = run_dir / "log.csv"
        if log.exists() and len(log.read_text().splitlines()) > lines:
            return
        pid = int(pid_file.read_text())
        assert os.path.exists(f"/proc/{pid}"), "the row's training process ended before its epochs"
        time.sleep(1)
    raise AssertionError(f"log.csv has no more than {lines} line(s) after 600 s")


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="campaign.sh finds its run through /proc")
def test_a_row_starts_stops_resumes_and_is_collected(tmp_path):
    repo, work, env = _sandbox(tmp_path)
    here = repo / "results" / "shapes-table1-paper"
    run_dir, pid_file, out = work / "shapes-ln-seed3", work / "shapes-ln-seed3.pid", work / "shapes-ln-seed3.out"
    try:
        started = _campaign(repo, env, "start", "ln-seed3")
        assert started.returncode == 0, started.stdout + started.stderr
        assert "starting row ln-seed3 (preset shapes-layernorm, seed 3, float32)" in started.stdout
        again = _campaign(repo, env, "start", "ln-seed3")  # idempotent: a running row is left alone
        assert again.returncode == 0 and "already running" in again.stdout
        _wait_for_log_lines(run_dir, 1, pid_file)  # the first epoch
        stopped = _campaign(repo, env, "stop", "ln-seed3")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert (run_dir / "checkpoint.npz").exists()
        config = json.loads((run_dir / "config.json").read_text())
        assert config["seed"] == 3 and config["norm"] == "layer" and config["dtype"] == "float32"

        resumed = _campaign(repo, env, "start", "ln-seed3")
        assert resumed.returncode == 0 and "resuming row ln-seed3" in resumed.stdout, resumed.stderr
        _wait_for_log_lines(run_dir, len((run_dir / "log.csv").read_text().splitlines()), pid_file)  # one more
        assert _campaign(repo, env, "stop", "ln-seed3").returncode == 0
    finally:
        if pid_file.exists():
            subprocess.run(["kill", "-KILL", pid_file.read_text().strip()], capture_output=True)

    # the output beside the run folder holds both starts' command lines; collect copied it and the rest
    starts = [line for line in out.read_text().splitlines() if "campaign.sh start: tagger-ref train" in line]
    assert len(starts) == 2 and "--resume" not in starts[0] and "--resume" in starts[1]
    collected = here / "ln-seed3"
    assert (collected / "train.out").read_text() == out.read_text()
    for name in ("log.csv", "manifest.json", "config.json", "curves.png", "curves-vs-cpu-recipes.png", "progress.md"):
        assert (collected / name).exists(), name
    segments = json.loads((collected / "manifest.json").read_text())["segments"]
    assert [s["status"] for s in segments] == ["SIGTERM", "SIGTERM"]
    assert (collected / "log.csv").read_text() == (run_dir / "log.csv").read_text()

    # a lost run folder with a committed log: start refuses instead of splicing a new run onto it
    shutil.rmtree(run_dir)
    refused = _campaign(repo, env, "start", "ln-seed3")
    assert refused.returncode == 1 and "must not be spliced" in refused.stderr
    assert not run_dir.exists() and (collected / "log.csv").exists()


def test_refusals_are_named_and_write_nothing(tmp_path):
    script = os.path.join(ROOT, "results", "shapes-table1-paper", "campaign.sh")
    env = dict(os.environ, TAGGER_CAMPAIGN=str(tmp_path))  # an empty campaign folder
    cases = [
        (["status", "tagger"], 2, "unknown row 'tagger'"),
        (["status", "bn-seedx"], 2, "row 'bn-seedx': the seed must be digits"),
        (["evaluate", "x1", "ln-seed7"], 2, "the epoch must be digits"),
        (["evaluate", "95", "ln-seed7"], 1, "row ln-seed7 keeps no parameters of epoch 95"),
    ]
    for args, code, message in cases:
        done = subprocess.run(["bash", script, *args], capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == code and message in done.stderr, (args, done.stderr)
    assert not os.path.exists(os.path.join(ROOT, "results", "shapes-table1-paper", "ln-seed7"))
    assert os.listdir(tmp_path) == []
