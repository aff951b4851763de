"""The golden cases shipped with the package: list, load and export them.

Each case is a folder ``tagger_ref/golden/<name>/`` with ``config.json``, ``params.npz``,
``inputs.npz`` and ``trace.npz`` (spec section 8), made by ``python -m tagger_ref.golden_gen``.
To check another implementation: export a case, run your code on its config, params and inputs,
write your trace, and ``tagger-ref compare trace.npz your_trace.npz``.
"""
import os
import shutil

from .config import load_config
from .errors import OutputError, TaggerError
from .fileio import atomic_path
from .golden_gen import CASES, FILES, GOLDEN_DIR
from .inputs import load_inputs
from .params import load_params
from .trace import load_trace


def list_cases():
    """Names of the shipped cases, in the generator's order."""
    return [name for name in CASES if all(os.path.isfile(os.path.join(GOLDEN_DIR, name, f)) for f in FILES)]


def case_dir(name):
    """The folder of a shipped case; TaggerError naming the known cases for an unknown name."""
    if name not in list_cases():
        raise TaggerError(f"no golden case {name!r}; shipped cases: {', '.join(list_cases()) or 'none'}")
    return os.path.join(GOLDEN_DIR, name)


def describe(name):
    """One line about a case: what it covers."""
    return CASES[name].description


def load_case(name):
    """(config, params, inputs, trace) of a shipped case, read and checked like any user's files."""
    folder = case_dir(name)
    config = load_config(os.path.join(folder, "config.json"))
    return (config, load_params(os.path.join(folder, "params.npz"), config),
            load_inputs(os.path.join(folder, "inputs.npz"), config), load_trace(os.path.join(folder, "trace.npz")))


def export_case(name, dest, force=False):
    """Copy the four files of case ``name`` into folder ``dest`` (created if its parent exists).
    Existing files are replaced only with ``force``. Returns the written paths."""
    source = case_dir(name)
    dest = os.fspath(dest)
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise OutputError(f"cannot export to {dest}: it is a file, not a folder")
    parent = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(parent):
        raise OutputError(f"cannot export to {dest}: folder {parent} does not exist")
    targets = [os.path.join(dest, f) for f in FILES]
    existing = [t for t in targets if os.path.exists(t)]
    if existing and not force:
        raise OutputError(f"{', '.join(existing)} already exist(s); use --force to replace")
    try:
        os.makedirs(dest, exist_ok=True)
        for f, target in zip(FILES, targets):
            with atomic_path(target) as tmp:
                shutil.copyfile(os.path.join(source, f), tmp)
    except OSError as e:
        raise OutputError(f"cannot export to {dest}: {e.strerror or e}") from None
    return targets
