"""The package's shape: no import cycles, layering rules, a cheap `import textsift`, every import declared."""

from __future__ import annotations

import ast
import graphlib
import importlib
import importlib.metadata
import inspect
import pkgutil
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

import textsift

SRC = Path(textsift.__file__).parent
ROOT = SRC.parents[1]
# Modules behind the commands that write files or print; none may lean on another (shared code lives in the core
# modules). `explain` returns an Explanation and writes nothing, so report may call it like any library function.
VERB_MODULES = {
    "textsift.training.train", "textsift.training.distill", "textsift.training.update", "textsift.evaluation.evaluate",
    "textsift.evaluation.report", "textsift.inference.predict", "textsift.exporting.onnx", "textsift.serving.app",
    "textsift.data.catalogue", "textsift.inference.rank", "textsift.monitor.ingest", "textsift.monitor.dashboard",
    "textsift.monitor.report", "textsift.training.pretrain", "textsift.training.tune", "textsift.inference.merge",
}
# Composite verbs, each allowed exactly the verbs it is made of: a tune trial is one train run (its after_epoch hook
# reports to the pruner), so tune calls train itself rather than a copy of it.
COMPOSITE_VERBS = {("textsift.training.tune", "textsift.training.train")}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(module, imported names) of every import statement, also inside functions, except `if TYPE_CHECKING:`."""

    def walk(node: ast.AST) -> Iterator[ast.AST]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from (n for stmt in child.orelse for n in [stmt, *walk(stmt)])
                continue
            yield child
            yield from walk(child)

    for node in walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]


def internal_edges() -> dict[str, set[str]]:
    """Module -> the textsift modules it imports (a `from package import submodule` counts as the submodule)."""
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for module, names in imports(path):
            if module.split(".")[0] == "textsift":
                edges[name] |= {f"{module}.{n}" if f"{module}.{n}" in MODULES else module for n in names} or {module}
    return edges


def test_there_are_no_import_cycles() -> None:
    try:
        graphlib.TopologicalSorter(internal_edges()).prepare()
    except graphlib.CycleError as e:
        pytest.fail(f"import cycle: {' -> '.join(e.args[1])}")


def test_no_module_imports_private_names_of_another() -> None:
    found = [f"{name} imports {module}.{n}" for name, path in MODULES.items() for module, names in imports(path)
             if module.startswith("textsift") and module != name
             for n in names if n.startswith("_") and n != "__version__"]
    assert found == []


def test_verb_modules_do_not_import_each_other() -> None:
    edges = internal_edges()
    assert {(verb, other) for verb in VERB_MODULES for other in edges[verb] & VERB_MODULES} == COMPOSITE_VERBS


def test_every_subpackage_says_what_it_holds_in_one_line() -> None:
    for init in SRC.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.splitlines()) == 1, init


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_textsift_loads_no_torch_transformers_or_numpy() -> None:
    done = run_python("import sys, textsift; textsift.TrainConfig; textsift.ModelSettings; "
                      "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'numpy'}))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [["--help"], ["data", "list"], ["train", "--help"], ["serve", "--help"]])
def test_the_cli_starts_without_torch(args: list[str]) -> None:
    block = "import sys; sys.modules.update(torch=None, transformers=None, numpy=None); "
    done = run_python(block + f"sys.argv = ['textsift', *{args!r}]; from textsift.cli.app import main; main()")
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout or "movie-snippets" in done.stdout


def test_public_verbs_stay_functions_once_every_module_is_imported() -> None:
    for info in pkgutil.walk_packages(textsift.__path__, "textsift."):
        if info.name != "textsift.__main__":  # that one runs the CLI
            importlib.import_module(info.name)  # binds each subpackage as an attribute of its parent
    for name in textsift.__all__:
        assert getattr(textsift, name) is not None
    for verb in ("train", "distill", "evaluate", "predict", "rank", "export", "explain", "report", "serve", "load"):
        assert inspect.isfunction(getattr(textsift, verb)), verb


def declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {_normalise(re.match(r"[A-Za-z0-9_.\-]+", r)[0]) for r in requirements}  # type: ignore[index]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_declared() -> None:
    roots = {module.split(".")[0] for path in MODULES.values() for module, _ in imports(path)}
    third_party = roots - set(sys.stdlib_module_names) - {"textsift", "__future__"}
    providers = importlib.metadata.packages_distributions()
    missing = {root for root in third_party
               if not {_normalise(d) for d in providers.get(root, [root])} & declared_distributions()}
    assert missing == set()
