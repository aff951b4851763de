"""The command line starts at once: building the parser, and ``compare``, import no maths, no
scikit-learn, no matplotlib (issue 40: every command used to spend seconds importing them).

Structural checks, not timings: a fresh interpreter builds the parser (or runs compare) and the
test reads its ``sys.modules``. Each subcommand imports its machinery inside its ``run``; these
tests fail when an import at the top of a subcommand's module brings a heavy library back.
"""

import glob
import os
import subprocess
import sys

import pytest

from tagger_ref.commands import cli

HERE = os.path.dirname(os.path.abspath(__file__))
HEAVY = ("autograd", "scipy", "sklearn", "matplotlib")
GOLDEN = os.path.join(os.path.dirname(HERE), "tagger_ref", "oracle", "golden")


def modules_after(code):
    """The heavy top-level packages in ``sys.modules`` of a fresh interpreter after ``code``."""
    heavy = f"sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})"
    probe = f"import sys\n{code}\nprint()\nprint(' '.join({heavy}))"  # the last line, after code's output
    r = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.path.dirname(HERE)),
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()[-1].split()


def test_the_probe_sees_a_heavy_import():
    """The check itself: importing the maths must show autograd (else the tests below prove nothing)."""
    assert "autograd" in modules_after("import tagger_ref.maths.model")


def test_building_the_parser_imports_no_heavy_library():
    assert modules_after("from tagger_ref.commands import cli\ncli.build_parser()") == []


def test_importing_the_package_imports_no_heavy_library():
    """``tagger_ref/__init__.py`` re-exports the maths lazily (every ``tagger_ref.*`` import runs it)."""
    assert modules_after("import tagger_ref") == []


def test_compare_runs_without_a_heavy_library():
    trace = sorted(glob.glob(os.path.join(GOLDEN, "*", "trace.npz")))[0]
    code = f"from tagger_ref.commands import cli\nassert cli.main(['compare', {trace!r}, {trace!r}]) == 0"
    assert modules_after(code) == []


def test_running_a_command_still_imports_what_it_needs(tmp_path):
    """The other side: the machinery moved into ``run`` is imported when the command runs."""
    argv = ["trace", "--config", "tiny-binary", "--out", str(tmp_path / "t.npz")]
    code = f"from tagger_ref.commands import cli\ncli.main({argv!r})"
    assert "autograd" in modules_after(code)
    assert (tmp_path / "t.npz").is_file()


@pytest.mark.parametrize("name", cli.COMMANDS)
def test_every_subcommand_has_its_help(name, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.build_parser().parse_args([name, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tagger-ref {name}") and "options:" in out


def test_the_top_level_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--help"])
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith("    ")]
    assert [name for name in listed if name in cli.COMMANDS] == cli.COMMANDS


def test_train_help_names_the_training_defaults(capsys):
    """train's --help writes out two constants of experiments.training (importing it is the cost avoided)."""
    from tagger_ref.experiments import training

    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the help text
    assert f"(default {training.VALID_AMI_IMAGES};" in out
    assert f"RUN_DIR/{training.KEPT_DIR}/" in out


def test_the_package_exports_resolve_to_their_modules():
    import importlib

    import tagger_ref

    for module, names in tagger_ref._EXPORTS.items():
        for name in names:
            assert getattr(tagger_ref, name) is getattr(importlib.import_module(f"tagger_ref.{module}"), name)
    assert set(tagger_ref.__all__) <= set(dir(tagger_ref))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        tagger_ref.no_such_name


def test_importing_the_entry_point_loads_nothing_outside_the_standard_library():
    """The console script imports ``cli`` before ``main`` runs: if that import loaded numpy (most of
    a second), a Ctrl-C then would print a traceback instead of main's one line (issue 41, cause 9).
    The probe's own check: ``import numpy`` shows up (else this test proves nothing)."""
    new_packages = "sorted({{m.split('.')[0] for m in set(sys.modules) - before}})"
    code = "import sys\nbefore = set(sys.modules)\n{}\nprint(' '.join(" + new_packages + "))"
    loaded = {}
    for name, line in (("cli", "import tagger_ref.commands.cli"), ("numpy", "import numpy")):
        r = subprocess.run(
            [sys.executable, "-c", code.format(line)],
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONPATH=os.path.dirname(HERE)),
        )
        assert r.returncode == 0, r.stderr
        loaded[name] = set(r.stdout.split())
    assert "numpy" in loaded["numpy"]
    outside = sorted(m for m in loaded["cli"] - {"tagger_ref", "data_gen"} if m not in sys.stdlib_module_names)
    assert outside == [], outside
