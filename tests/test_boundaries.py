"""Domain packages never import the MCP SDK; only server/ does."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "oumi_mcp_server"
HEAVY = ("oumi", "torch", "transformers", "sky", "huggingface_hub")


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, at_top_level) for every import in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno, id(node) in top_level))
    return found


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_only_the_server_package_imports_mcp() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line} imports {module}"
        for path in _sources()
        if "server" not in path.relative_to(PACKAGE).parts[:1]
        for module, line, _ in _imports(path)
        if module == "mcp" or module.startswith("mcp.")
    ]
    assert offenders == []


def test_no_heavy_module_is_imported_at_module_level() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line} imports {module}"
        for path in _sources()
        for module, line, top_level in _imports(path)
        if top_level and module.split(".")[0] in HEAVY
    ]
    assert offenders == []


def test_the_check_can_fail() -> None:
    source = "import torch\nfrom mcp.server import x\n"
    tmp = PACKAGE.parent / "__boundary_probe__.py"
    tmp.write_text(source)
    try:
        modules = [module for module, _, _ in _imports(tmp)]
    finally:
        tmp.unlink()
    assert modules == ["torch", "mcp.server"]
