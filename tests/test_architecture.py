"""The layers: core/ imports no user interface, its packages import each other without a cycle, and no
model is named as a string outside core/models/ (pages and core ask ``core.models.family`` instead)."""

from __future__ import annotations

import ast
from pathlib import Path

from core import models

ROOT = Path(__file__).resolve().parents[1]
UI_PACKAGES = ("streamlit", "ui", "views")


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at module level and inside functions (``ast.walk`` sees both)."""
    names: set[str] = set()
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package upwards
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # "from core import jobs"
    return names


def _unit(module: str) -> str | None:
    """The package-level unit of a core module: core.jobs.worker -> core.jobs, core.sweep -> core.sweep."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "core" and len(parts) > 1 else None


def core_graph() -> dict[str, set[str]]:
    """core.X -> the core.Y it imports (X != Y), from every module of core/."""
    units = {_unit(_module_name(p)) for p in _modules(ROOT / "core")} - {None}
    graph: dict[str, set[str]] = {unit: set() for unit in units}
    for path in _modules(ROOT / "core"):
        source = _unit(_module_name(path))
        if source is None:
            continue
        for name in _imported(path):
            target = _unit(name)
            if target in units and target != source:
                graph[source].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that starts and ends at the same node, or None."""
    colour: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        path.append(node)
        for successor in sorted(graph.get(node, ())):
            if colour.get(successor) == 1:
                return path[path.index(successor):] + [successor]
            if successor not in colour and (cycle := visit(successor)):
                return cycle
        path.pop()
        colour[node] = 2
        return None

    for node in sorted(graph):
        if node not in colour and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_passes_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_the_packages_of_core():
    graph = core_graph()
    assert "core.jobs" in graph and "core.analysis" in graph  # the walk found core's packages
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_core_never_imports_the_user_interface():
    offenders = [f"{path.relative_to(ROOT)} imports {name}" for path in _modules(ROOT / "core")
                 for name in _imported(path) if name.split(".")[0] in UI_PACKAGES]
    assert offenders == []


def test_core_analysis_starts_no_threads_and_imports_no_jobs():
    """core.analysis is the math behind the pages: background work lives in core.jobs."""
    offenders = [f"{path.relative_to(ROOT)} imports {name}" for path in _modules(ROOT / "core" / "analysis")
                 for name in _imported(path) if name.split(".")[0] in ("threading", "multiprocessing")
                 or _unit(name) == "core.jobs"]
    assert offenders == []


def _model_name_comparisons(path: Path, names: set[str]) -> list[str]:
    """``x == "sae-topk"``, ``x in ("pca", "nmf")`` and the like: a model named by a string."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops):
            continue
        for operand in [node.left, *node.comparators]:
            constants = operand.elts if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) else [operand]
            for constant in constants:
                if isinstance(constant, ast.Constant) and constant.value in names:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} compares with {constant.value!r}")
    return found


def test_no_model_is_compared_by_name_outside_core_models():
    names = set(models.available())
    files = [p for p in _modules(ROOT / "core") if "models" not in p.relative_to(ROOT / "core").parts[:1]]
    files += _modules(ROOT / "ui") + _modules(ROOT / "views") + [ROOT / "app.py"]
    found = [hit for path in files for hit in _model_name_comparisons(path, names)]
    assert found == []


def test_the_model_families_answer_what_pages_and_budgets_asked_by_name():
    """What the places that compared names now ask: PCA is closed form, NMF a factorisation, the linear
    autoencoder is one of the autoencoders, and every SAE is an autoencoder."""
    family = {name: models.family(name) for name in models.available()}
    assert [n for n, f in family.items() if not f.iterative] == ["pca"]
    assert [n for n, f in family.items() if f.factorisation] == ["nmf"]
    assert [n for n, f in family.items() if f.linear_autoencoder] == ["linear-ae"]
    assert {n for n, f in family.items() if f.autoencoder} == set(models.available()) - {"pca", "nmf"}
    assert all(f.autoencoder for f in family.values() if f.sae)
