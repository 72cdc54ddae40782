"""The grading package keeps the shape that lets a newcomer hold it in their head (issue 24):
no import circle, nothing imported from scripts/ or tests/, no sys.path edits, a short batch
loop, short functions, and a first docstring line that says each module's one job."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "grading"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
LONGEST_FUNCTION = 60   # lines, outside checks/ (whose checks are declarative tables)
LONGEST_BATCH = 350     # lines of batch.py: the loop, nothing else


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The grading modules `path` imports (absolute names)."""
    package = _name(path).split(".") if path.name == "__init__.py" else _name(path).split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out |= {module} | {f"{module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    known = {_name(p) for p in MODULES}
    return {m for m in out if m in known and m != _name(path)}


GRAPH = {_name(p): _imports(p) for p in MODULES}


def test_no_import_circle():
    def reaches(start, goal, seen=()):
        return any(m == goal or (m not in seen and reaches(m, goal, (*seen, m))) for m in GRAPH[start])
    circles = sorted(m for m in GRAPH if reaches(m, m))
    assert not circles, f"modules in an import circle: {circles}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_reach_into_scripts_tests_or_sys_path(path):
    text = path.read_text()
    tree = ast.parse(text)
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
    assert not imported & {"scripts", "tests", "conftest", "helpers", "kernel_env"}
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "path"
                and isinstance(n.value, ast.Name) and n.value.id == "sys"], "sys.path is edited or read"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_first_docstring_line_says_the_modules_job(path):
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc, f"{path.name} has no docstring"
    first = doc.splitlines()[0]
    assert 20 <= len(first) <= 110 and first.rstrip().endswith((".", ":")), first


@pytest.mark.parametrize("path", [p for p in MODULES if "checks" not in p.relative_to(PACKAGE).parts],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_functions_are_short(path):
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > LONGEST_FUNCTION]
    assert not long, f"functions over {LONGEST_FUNCTION} lines: {long}"


def test_batch_is_only_the_loop():
    assert len((PACKAGE / "batch.py").read_text().splitlines()) <= LONGEST_BATCH
