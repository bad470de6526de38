"""The import rules that keep the layout readable top-down.

- Only server/ imports the MCP SDK; no heavy engine is imported at module level.
- settings, errors, blocking, engines, call_progress and answer_model are leaves: they
  import none of our modules but each other.
- No cycles, and no upward imports: domain code never imports the composition
  root (services.py) or the MCP layer (server/); only the entry point (cli.py)
  imports server/.
- metrics/, diagnosis/ and slurm/ are leaf packages: each imports only itself and the
  leaf modules (and masking).
- preflight/ checks and never writes: it imports nothing of ours that writes
  (slurm.remote_dirs); and the checks live in preflight/ alone (no engine code
  imports a preflight Slurm check).
- jobs/: the two engine folders (process/, launcher/) never import each other
  nor the service; the shared modules beside them import neither engine nor
  the service. Outside jobs/, only the composition root, the cluster tools and
  the engine worker (worker/, which runs the engines) import an engine folder.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "oumi_mcp_server"
ROOT = "oumi_mcp_server"
HEAVY = ("oumi", "torch", "transformers", "sky", "huggingface_hub")
LEAVES = frozenset(
    f"{ROOT}.{name}"
    for name in (
        "settings",
        "errors",
        "blocking",
        "engines",
        "call_progress",
        "answer_model",
    )
)
ENGINES = (f"{ROOT}.jobs.process", f"{ROOT}.jobs.launcher")
JOB_SERVICE = f"{ROOT}.jobs.service"
ENGINE_USERS = frozenset({f"{ROOT}.services", f"{ROOT}.server.tools_clusters"})
WORKER = f"{ROOT}.worker"  # the engine worker runs the engines (and builds them for tests)
LEAF_PACKAGES = tuple(f"{ROOT}.{name}" for name in ("metrics", "diagnosis", "slurm"))
LEAF_PACKAGE_MAY_IMPORT = LEAVES | {f"{ROOT}.masking"}
WRITERS = frozenset({f"{ROOT}.slurm.remote_dirs"})


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


def _imported_names(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it, and every name it imports from one
    (``from pkg import mod`` imports the module ``pkg.mod``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Our module -> the modules of ours it imports (anywhere in the file)."""
    modules = {_module_name(path): path for path in _sources()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {module for module in _imported_names(path) if module in modules}
        graph[name] = targets - {name, ROOT}  # the package itself holds only __version__
    return graph


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _engine_of(module: str) -> str | None:
    return next((engine for engine in ENGINES if _within(module, engine)), None)


def _broken_rule(source: str, target: str) -> str:
    """Why ``source`` may not import ``target`` ('' if it may)."""
    engine, target_engine = _engine_of(source), _engine_of(target)
    in_jobs = _within(source, f"{ROOT}.jobs")
    if source in LEAVES and target not in LEAVES:
        return "a leaf imports nothing of ours but the other leaves"
    leaf = next((package for package in LEAF_PACKAGES if _within(source, package)), None)
    if leaf and not _within(target, leaf) and target not in LEAF_PACKAGE_MAY_IMPORT:
        return "a leaf package imports only itself and the leaf modules"
    if _within(source, f"{ROOT}.preflight") and target in WRITERS:
        return "preflight/ checks and never writes"
    if _within(target, f"{ROOT}.preflight.slurm_check") and not _within(
        source, f"{ROOT}.preflight"
    ):
        return "the Slurm checks belong to preflight/"
    if target == f"{ROOT}.services" and not _within(source, f"{ROOT}.server"):
        return "only server/ uses the composition root"
    if _within(target, f"{ROOT}.server") and not (
        _within(source, f"{ROOT}.server") or source == f"{ROOT}.cli"
    ):
        return "only cli.py imports the MCP layer"
    if target == JOB_SERVICE and in_jobs:
        return "the service is the top of jobs/"
    if target.startswith(f"{JOB_SERVICE}_") and not source.startswith(JOB_SERVICE):
        return "the service's parts are used through the service"
    if not target_engine or engine == target_engine:
        return ""
    if engine:
        return "one engine imports the other"
    if in_jobs and source != JOB_SERVICE:
        return "a shared jobs/ module imports an engine"
    if not in_jobs and source not in ENGINE_USERS and not _within(source, WORKER):
        return f"outside jobs/, only {sorted(ENGINE_USERS)} import an engine"
    return ""


def layering_violations(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Every import that breaks the rules in this module's docstring."""
    return sorted(
        f"{source} -> {target}: {rule}"
        for source, targets in graph.items()
        for target in targets
        if (rule := _broken_rule(source, target))
    )


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


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


def test_every_import_points_down_the_layers() -> None:
    graph = import_graph()
    assert f"{ROOT}.jobs.launcher.backend" in graph[f"{ROOT}.services"]  # the graph is real
    assert layering_violations(graph) == []


def test_there_are_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_engine_folders_and_their_front_door_exist() -> None:
    graph = import_graph()
    for engine in ENGINES:
        assert any(_within(module, engine) for module in graph), engine
    for gone in (PACKAGE / "launcher", PACKAGE / "jobs" / "backends"):
        assert not list(gone.glob("*.py")), f"{gone} is back: its code belongs in jobs/"


def test_the_layering_rules_can_fail() -> None:
    graph = import_graph()
    process = f"{ROOT}.jobs.process.backend"
    launcher = f"{ROOT}.jobs.launcher.backend"
    shared = f"{ROOT}.jobs.registry"
    broken = {
        **{module: set(targets) for module, targets in graph.items()},
        process: graph[process] | {launcher},  # cross-engine
        shared: graph[shared] | {process},  # a shared module reaching into an engine
        f"{ROOT}.settings": {shared},  # a leaf importing upward
        f"{ROOT}.validation.service": graph[f"{ROOT}.validation.service"] | {launcher},
        f"{ROOT}.slurm.probe": graph[f"{ROOT}.slurm.probe"] | {shared},
        f"{ROOT}.preflight.service": graph[f"{ROOT}.preflight.service"]
        | {f"{ROOT}.slurm.remote_dirs"},
    }
    found = layering_violations(broken)
    assert any("one engine imports the other" in line for line in found), found
    assert any("a shared jobs/ module imports an engine" in line for line in found), found
    assert any("a leaf imports nothing" in line for line in found), found
    assert any("outside jobs/" in line for line in found), found
    assert any("a leaf package imports only itself" in line for line in found), found
    assert any("preflight/ checks and never writes" in line for line in found), found
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_build_child_imports_the_introspection() -> None:
    """apidocs/introspect.py imports all of oumi: only build.py (the child process's
    entry) may import it, so the server process never does."""
    introspect = f"{ROOT}.apidocs.introspect"
    importers = sorted(
        _module_name(path) for path in _sources() if introspect in _imported_names(path)
    )
    assert importers == [f"{ROOT}.apidocs.build"]
    assert "oumi" in {
        name.split(".")[0] for name in _imported_names(PACKAGE / "apidocs" / "introspect.py")
    }


CLOUD_NAMES = ("LOCAL_CLOUD", "SLURM_CLOUD")
SWITCH = ("==", "!=", " in (", " not in (", "<= {")


def test_cloud_kinds_are_asked_of_the_table_not_switched_on_by_name() -> None:
    """Engine code asks jobs/kinds.py what a cloud does; comparing a record's cloud with a
    cloud name is the table's business only (names are still used as values)."""
    offenders = []
    for path in _sources():
        if path.name in ("kinds.py", "catalog.py"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if any(name in code for name in CLOUD_NAMES) and any(op in code for op in SWITCH):
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert offenders == []


def test_each_store_has_one_owner() -> None:
    """SQL on the jobs table lives in jobs/registry.py only; a record's run dir is built
    by RunDir.of; the MCP layer asks the JobService, never the registry itself."""
    import re

    sql = re.compile(r"\b(FROM|INTO|UPDATE|TABLE)\s+jobs\b")
    offenders = []
    for path in _sources():
        text = path.read_text()
        where = path.relative_to(PACKAGE)
        if sql.search(text) and where not in (
            Path("jobs/registry.py"),
            Path("jobs/registry_schema.py"),  # the registry's own schema and migrations
        ):
            offenders.append(f"{where}: SQL on the jobs table")
        if "RunDir(Path(" in text:
            offenders.append(f"{where}: RunDir(Path(...)) instead of RunDir.of(record)")
        if where.parts[0] == "server" and f"{ROOT}.jobs.registry" in _imported_names(path):
            offenders.append(f"{where}: imports the registry")
    assert offenders == []


def test_the_readme_layout_names_every_top_level_module_and_package() -> None:
    """The README's layout map matches the tree: every top-level module and package, and
    every module of jobs/ (named, or covered by a ``service_*.py`` pattern), is on it;
    nothing on it is gone (rooms marked planned excepted)."""
    import re

    readme = (PACKAGE.parents[1] / "README.md").read_text()
    layout = readme[readme.index("### Layout") :]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    named = set(re.findall(r"[\w*]+\.py|[\w]+/", layout))
    top = {path.name for path in PACKAGE.glob("*.py") if path.name != "__init__.py"}
    packages = {f"{path.name}/" for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    jobs = {path.name for path in (PACKAGE / "jobs").glob("*.py") if path.name != "__init__.py"}
    missing = sorted(
        name
        for name in top | packages | jobs
        if name not in named and not (name.startswith("service_") and "service_*.py" in named)
    )
    assert missing == [], f"not on the README's layout map: {missing}"
    planned = {match for match in re.findall(r"([\w]+(?:\.py|/))\s+\(planned\)", layout)}
    on_disk = top | packages | jobs | {f"{path.name}/" for path in (PACKAGE / "jobs").iterdir()}
    gone = sorted(
        name
        for name in named
        if name.endswith(".py")
        and "*" not in name
        and name not in on_disk
        and name not in planned
        and not list(PACKAGE.rglob(name))
    )
    assert gone == [], f"on the README's layout map but not in the tree: {gone}"
