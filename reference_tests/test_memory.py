"""keep_freed_memory: after it, a loop that makes and drops arrays of a few megabytes (as a
training step does) touches no fresh pages; with the C library's defaults it does."""

import subprocess
import sys
import textwrap

import pytest

from tagger_ref.experiments.memory import _glibc

PROGRAM = textwrap.dedent("""
    import resource, sys
    import numpy
    if sys.argv[1] == "keep":
        from tagger_ref.experiments.memory import keep_freed_memory
        assert keep_freed_memory()

    def step():  # arrays of 1.6 to 24 MB, made and dropped in a mixed order
        a = [numpy.ones(n) for n in (800_000, 400_000, 1_600_000, 200_000, 800_000, 3_000_000)]
        b = a[4] * 2
        del a[2]
        c = a[0] + b
        del a
        return (c * c).sum()

    for _ in range(5):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        step()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def minor_faults(setting):
    out = subprocess.run([sys.executable, "-c", PROGRAM, setting], capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(_glibc() is None, reason="keep_freed_memory acts on glibc's allocator only")
def test_kept_memory_reuses_warm_pages():
    default = minor_faults("default")
    if default < 10_000:
        pytest.skip(f"this allocator reuses the pages of this pattern by itself ({default} faults)")
    kept = minor_faults("keep")
    assert kept < 500, (default, kept)  # each loop makes ~70 MB of new arrays: ~17,000 pages


def test_keep_freed_memory_is_harmless_elsewhere(monkeypatch):
    from tagger_ref.experiments import memory

    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert memory.keep_freed_memory() is False
