"""References into docs/spec.md hold: every "docs/spec.md section N" (or "sections N, M", or
"spec section N") in a .py or .md file of the repository names a section that docs/spec.md has,
and every erratum id (E1, E2, ...) used anywhere is a row of the table in its section 7."""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(ROOT, "docs", "spec.md")
SKIPPED_DIRS = {".git", ".venv", "build", "dist", "__pycache__", "node_modules"}

# "docs/spec.md section 4", "docs/spec.md sections 3, 4 and 8", "spec section 9.1", "docs/spec.md
# section 4 steps 1-8" (the steps are not sections); the numbers after "sections" run up to the
# first word that is not a number, a comma, "and" or a dash.
_NUMBER = r"\d+(?:\.\d+)*"
_REFERENCE = re.compile(
    rf"(?:docs/spec\.md|\bspec) (section|sections) "
    rf"({_NUMBER}(?:(?:,? and|,|-| to) ?{_NUMBER})*)"
)
# E1..E99 as erratum ids; the paper's Figure 5 calls two hand-picked images "E1" and "E2", which
# the text always introduces as "example(s)".
_ERRATUM = re.compile(r"(?<!example )(?<!examples )\bE([1-9]\d?)\b")
_HEADING = re.compile(rf"^#{{2,}} ({_NUMBER})\.? ", re.MULTILINE)


def spec_sections(text):
    """The section numbers of a spec text: "1", "2", ... from "## 1. ...", "9.1" from "### 9.1 ..."."""
    return {m.group(1) for m in _HEADING.finditer(text)}


def errata_ids(text):
    """The ids in the first column of the table of section 7 of a spec text."""
    match = re.search(r"^## 7\. .*?(?=^## \d|\Z)", text, re.MULTILINE | re.DOTALL)
    section = match.group(0) if match else ""
    return {m.group(1) for m in re.finditer(r"^\| (E\d+) \|", section, re.MULTILINE)}


def section_references(text):
    """(line number, section number) for every reference to a section of docs/spec.md in ``text``."""
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for m in _REFERENCE.finditer(line):
            for number in re.findall(_NUMBER, m.group(2)):
                found.append((lineno, number))
    return found


def erratum_references(text):
    """(line number, "E<n>") for every erratum id mentioned in ``text``."""
    return [
        (lineno, f"E{m.group(1)}") for lineno, line in enumerate(text.splitlines(), 1) for m in _ERRATUM.finditer(line)
    ]


def problems(name, text, sections, errata):
    """Lines "name:line: ..." for each reference in ``text`` that the spec cannot satisfy."""
    out = [
        f"{name}:{lineno}: refers to docs/spec.md section {number}, which docs/spec.md does not have"
        for lineno, number in section_references(text)
        if number not in sections
    ]
    out += [
        f"{name}:{lineno}: mentions erratum {eid}, which is not in the table of docs/spec.md section 7"
        for lineno, eid in erratum_references(text)
        if eid not in errata
    ]
    return out


def repository_files():
    """Every .py and .md file of the repository, outside virtual environments and build output,
    except this module (its made-up texts are wrong on purpose)."""
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(
            d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info") and not d.startswith(".venv")
        )
        for f in sorted(files):
            path = os.path.join(folder, f)
            if f.endswith((".py", ".md")) and os.path.abspath(path) != os.path.abspath(__file__):
                yield path


@pytest.fixture(scope="module")
def spec():
    with open(SPEC, encoding="utf-8") as f:
        text = f.read()
    return spec_sections(text), errata_ids(text)


def test_spec_has_the_numbered_sections_and_the_errata_table(spec):
    sections, errata = spec
    assert {str(n) for n in range(1, 10)} <= sections
    assert {f"E{n}" for n in range(1, 15)} <= errata


def test_every_reference_names_an_existing_section_and_erratum(spec):
    sections, errata = spec
    found, checked = [], 0
    for path in repository_files():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        checked += len(section_references(text))
        found += problems(os.path.relpath(path, ROOT), text, sections, errata)
    assert not found, "\n".join(found)
    assert checked > 50  # the scan sees the references the code makes


# The checker itself, on made-up text: it must find what is wrong and only that.

MADE_UP_SPEC = """# A spec
## 1. Notation
## 2. Configuration
### 2.1 Presets
## 7. Paper versus code
| id | what |
|---|---|
| E1 | one |
| E3 | three |
## 8. Trace
| E9 | not in section 7 |
"""


def test_checker_reads_sections_and_errata():
    assert spec_sections(MADE_UP_SPEC) == {"1", "2", "2.1", "7", "8"}
    assert errata_ids(MADE_UP_SPEC) == {"E1", "E3"}


def test_checker_names_file_and_line_of_a_bad_reference():
    text = (
        "ok: docs/spec.md section 2\n"
        "bad: see docs/spec.md section 5 for this\n"
        "docs/spec.md sections 1, 2.1 and 6\n"
        "spec section 8, and `docs/spec.md section 4 step 2`\n"
    )
    sections, errata = spec_sections(MADE_UP_SPEC), errata_ids(MADE_UP_SPEC)
    assert problems("x.py", text, sections, errata) == [
        "x.py:2: refers to docs/spec.md section 5, which docs/spec.md does not have",
        "x.py:3: refers to docs/spec.md section 6, which docs/spec.md does not have",
        "x.py:4: refers to docs/spec.md section 4, which docs/spec.md does not have",
    ]


def test_checker_names_an_erratum_missing_from_section_7():
    text = (
        "errata E1 and E3 are fine; (E1/E3) too\n"
        "E2 is not in the table\n"
        "Figure 5's example E2 is an image, not an erratum; E9 is outside section 7\n"
        "E12-E14 and E10 are ranges of ids\n"
    )
    sections, errata = spec_sections(MADE_UP_SPEC), errata_ids(MADE_UP_SPEC)
    assert problems("doc.md", text, sections, errata) == [
        "doc.md:2: mentions erratum E2, which is not in the table of docs/spec.md section 7",
        "doc.md:3: mentions erratum E9, which is not in the table of docs/spec.md section 7",
        "doc.md:4: mentions erratum E12, which is not in the table of docs/spec.md section 7",
        "doc.md:4: mentions erratum E14, which is not in the table of docs/spec.md section 7",
        "doc.md:4: mentions erratum E10, which is not in the table of docs/spec.md section 7",
    ]


MAINTAINING = os.path.join(ROOT, "docs", "maintaining.md")


def test_where_a_change_goes_names_files_that_exist():
    """docs/maintaining.md: every file it names (``<name>`` placeholders aside) is in the repository."""
    with open(MAINTAINING) as f:
        text = f.read()
    paths = set(re.findall(r"`((?:tagger_ref|data_gen|reference_tests|docs)/[\w/.<>-]+\.(?:py|md))`", text))
    assert len(paths) > 10, paths  # the pattern still finds them
    missing = sorted(p for p in paths if "<" not in p and not os.path.isfile(os.path.join(ROOT, p)))
    assert missing == [], f"docs/maintaining.md names files that do not exist: {missing}"


def test_where_a_change_goes_names_the_tables_the_code_reads():
    """The one table per change that docs/maintaining.md points to is the one the code reads."""
    from tagger_ref import config
    from tagger_ref.commands import cli
    from tagger_ref.experiments import optimizers
    from tagger_ref.files import datasets
    from tagger_ref.maths import functions

    assert tuple(functions.NORM_AXES) == config.NORMS
    assert datasets.NAMES == tuple(datasets.KINDS)
    assert tuple(optimizers.OPTIMIZERS) == config.OPTIMIZERS
    assert "train" in cli.COMMANDS
    with open(MAINTAINING) as f:
        text = f.read()
    for name in ("NORM_AXES", "NORMS", "KINDS", "COMMANDS", "OPTIMIZERS"):
        assert f"`{name}`" in text, name
