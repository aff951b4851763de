"""The library's layout: wings stacked in one order, every import pointing down or sideways within a
wing, and no import cycle (README "Map of the code").

The import graph is read from the source with ``ast`` (every ``import`` statement, also those inside
functions), not by importing, so a cycle that Python happens to resolve still fails here.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "tagger_ref"

# Bottom to top: a module may import from its own wing or from a wing listed before it.
WINGS = ("errors", "config", "device", "maths", "files", "baselines", "oracle", "experiments", "report", "commands")


def module_name(path, package=PACKAGE):
    parts = path.relative_to(package).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def wing(module):
    return module.split(".")[0] if module else ""


def import_graph(package=PACKAGE):
    """{module: set of the package's modules it imports}, module names relative to the package."""
    paths = {module_name(p, package): p for p in package.rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        is_package = path.name == "__init__.py"
        here = name.split(".") if name else []
        if not is_package:
            here = here[:-1]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - (node.level - 1)] if node.level > 1 else list(here)
                    base = ".".join(base + (node.module.split(".") if node.module else []))
                elif node.module == "tagger_ref" or (node.module or "").startswith("tagger_ref."):
                    base = node.module[len("tagger_ref.") :] if node.module != "tagger_ref" else ""
                else:
                    continue
                for alias in node.names:
                    full = f"{base}.{alias.name}" if base else alias.name
                    targets.add(full if full in paths else base)
            elif isinstance(node, ast.Import):
                targets.update(a.name[len("tagger_ref.") :] for a in node.names if a.name.startswith("tagger_ref."))
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


def upward_imports(graph):
    rank = {w: i for i, w in enumerate(WINGS)}
    found = []
    for module, targets in graph.items():
        if module == "":  # tagger_ref/__init__.py re-exports public names from every wing
            continue
        for target in targets:
            if target == "":
                continue
            if rank[wing(target)] > rank[wing(module)]:
                found.append(f"{module} -> {target}")
    return sorted(found)


def find_cycle(graph):
    """One import cycle as a list of modules (first repeated at the end), or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state:
                cycle = visit(target, stack)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


def test_every_module_lies_in_a_known_wing():
    strays = [m for m in import_graph() if m and wing(m) not in WINGS]
    assert not strays, f"modules outside the wings {WINGS}: {strays}"


def test_no_import_points_up_the_wings():
    found = upward_imports(import_graph())
    assert not found, "imports that point up the wings " + " < ".join(WINGS) + ":\n" + "\n".join(found)


def test_the_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_maths_import_graph_has_no_cycle():
    """The maths alone (functions <- fused <- ops, the choice of path an argument, not a switch)."""
    graph = {m: {t for t in ts if wing(t) == "maths"} for m, ts in import_graph().items() if wing(m) == "maths"}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_maths_imports_only_the_device_and_errors():
    graph = import_graph()
    outside = sorted(
        f"{m} -> {t}"
        for m, ts in graph.items()
        if wing(m) == "maths"
        for t in ts
        if wing(t) not in ("maths", "device", "errors")
    )
    assert not outside, "\n".join(outside)


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"a.py": "from . import b\n", "b.py": "def f():\n    from .a import x\n"}, ["a", "b", "a"]),
        ({"a.py": "from . import b\n", "b.py": "import os\n"}, None),
    ],
)
def test_the_cycle_finder_sees_a_cycle_inside_a_function(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "__init__.py").write_text("")
    assert find_cycle(import_graph(tmp_path)) == expected


def test_the_upward_check_names_an_import_from_a_higher_wing():
    graph = {"maths.model": {"experiments.training", "device.backend"}, "commands.train": {"maths.model"}}
    assert upward_imports(graph) == ["maths.model -> experiments.training"]


# A function's length: its lines without its docstring. Longer ones should be split into named steps;
# a table (a dict or list literal that reads as data) may be listed here with its reason.
MAX_FUNCTION_LINES = 80
LONG_TABLES = {}  # "module.function": why it is a table


def long_functions(package=PACKAGE, limit=MAX_FUNCTION_LINES):
    """["module.function (lines)"] for every function of the package longer than ``limit`` lines."""
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            lines = node.end_lineno - node.lineno + 1
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                lines -= first.end_lineno - first.lineno + 1
            name = f"{module_name(path, package)}.{node.name}"
            if lines > limit and name not in LONG_TABLES:
                found.append(f"{name} ({lines})")
    return found


def test_no_function_is_longer_than_a_screen():
    found = long_functions()
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines (split them, or list a table in LONG_TABLES): {found}"


def test_the_length_check_counts_the_body_without_the_docstring(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(5))
    (tmp_path / "m.py").write_text(f'def short():\n    """doc\n\n    more"""\n{body}\n\ndef long():\n{body}{body}')
    (tmp_path / "__init__.py").write_text("")
    assert long_functions(tmp_path, limit=6) == ["m.long (11)"]
