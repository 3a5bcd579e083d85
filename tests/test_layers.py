"""The upper layers of README's Architecture section: app.py and views/ (the pages) -> ui/ (their shared
parts) -> core/ (test_architecture.py checks that core imports no user interface). ui/ never imports a page,
and no folder named pages/ sits next to app.py, where it would start Streamlit's old multipage mode (a fresh
server's first visitor of /train got the page without the app's navigation and sidebar)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _imported_packages(path: Path) -> set[str]:
    """The top-level names a file imports (``from ui import x`` -> 'ui')."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _imports_by_file(folder: str) -> dict[str, set[str]]:
    return {str(path.relative_to(REPO)): _imported_packages(path) for path in sorted((REPO / folder).rglob("*.py"))}


def test_the_ui_parts_never_import_the_pages():
    wrong = {path: sorted(names & {"views", "pages", "app"}) for path, names in _imports_by_file("ui").items()}
    assert not {path: names for path, names in wrong.items() if names}


def test_every_page_of_the_navigation_is_a_script_in_views_and_no_pages_folder_is_next_to_app_py():
    assert not (REPO / "pages").exists()
    listed = {node.args[0].value for node in ast.walk(ast.parse((REPO / "app.py").read_text(encoding="utf-8")))
              if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page"}
    assert listed == {f"views/{path.name}" for path in (REPO / "views").glob("*.py")}
    assert len(listed) == 6
