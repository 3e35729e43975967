"""The import graph of ``cpa_ops``, read with ``ast`` (nothing is imported): no cycle, no
submodule importing its own package's face, and ``cpa_ops.core`` never importing the CLI or the
FastAPI kit.

What counts as importing a module, as Python runs it:

- every ``import``/``from ... import`` in the module, lazy ones inside functions included;
  those under ``if TYPE_CHECKING:`` never run and do not count (its ``else:`` does);
- relative imports are resolved against the importing module's package;
- ``from pkg import name`` imports ``pkg.name`` when that is a submodule, else takes ``name``
  from ``pkg``'s face (its ``__init__``);
- importing ``a.b.c`` also runs ``a`` and ``a.b``: an edge to each, except to a package that
  contains the importer (its ``__init__`` is already running by then).

Before issue 11 the tree had two cycles (cpa_ops.core.redis <-> redis_topology <-> latency,
cpa_ops.cli.ping <-> cli.topology); this test named both, and keeps them from coming back.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import cpa_ops

PACKAGE_ROOT = Path(cpa_ops.__file__).parent
#: layers inside cpa_ops that must never import the ones after the arrow
ONE_WAY = {"cpa_ops.core": ("cpa_ops.cli", "cpa_ops.fastapi")}


@dataclass(frozen=True)
class Import:
    """One edge of the graph: ``importer`` runs ``target`` at ``line``."""

    importer: str
    target: str
    line: int
    #: the statement names ``target`` itself (not a parent package run on the way)
    explicit: bool
    #: ``from target import name`` with ``name`` not a submodule: a name from the face
    from_face: bool = False


class ImportGraph:
    """The modules of one package tree and who imports whom."""

    def __init__(self, root: Path, package: str) -> None:
        self.files: dict[str, Path] = {}
        self.packages: set[str] = set()
        for path in sorted(root.rglob("*.py")):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
                self.packages.add(".".join(parts))
            self.files[".".join(parts)] = path
        self.imports: list[Import] = []
        for module, path in self.files.items():
            self.imports.extend(self._imports_of(module, path))

    def edges(self) -> dict[str, dict[str, Import]]:
        """importer -> {target: the first import of it}."""
        graph: dict[str, dict[str, Import]] = {module: {} for module in self.files}
        for edge in sorted(self.imports, key=lambda e: e.line):
            graph[edge.importer].setdefault(edge.target, edge)
        return graph

    def _imports_of(self, module: str, path: Path) -> Iterator[Import]:
        tree = ast.parse(path.read_text(), filename=str(path))
        own_package = module if module in self.packages else module.rpartition(".")[0]
        for node in _running_nodes(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield from self._edges(module, alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(own_package, node.module, node.level)
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    if submodule in self.files:
                        yield from self._edges(module, submodule, node.lineno)
                    else:
                        yield from self._edges(module, source, node.lineno, from_face=True)

    def _edges(
        self, importer: str, target: str, line: int, from_face: bool = False
    ) -> Iterator[Import]:
        parts = target.split(".")
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            explicit = depth == len(parts)
            if name not in self.files or name == importer:
                continue
            if not explicit and importer.startswith(name + "."):
                continue  # a package containing the importer: already running
            yield Import(importer, name, line, explicit, from_face and explicit)


def _running_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node that can run: the bodies of ``if TYPE_CHECKING:`` are left out."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _resolve(package: str, module: str | None, level: int) -> str:
    if level == 0:
        assert module is not None
        return module
    base = package.split(".")
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def cycles(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a
    sorted list of module names."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def chain(graph: dict[str, dict[str, Import]], component: list[str]) -> str:
    """A readable loop through ``component``, every module once: ``a (a.py:12) -> b ... -> a``,
    each step naming the line that imports the next."""
    members = set(component)
    start = component[0]

    def longest(path: list[str]) -> list[str] | None:
        best = None
        for target in graph[path[-1]]:
            if target == start and (best is None or len(path) > len(best)):
                best = path
            elif target in members and target not in path:
                longer = longest([*path, target])
                if longer is not None and (best is None or len(longer) > len(best)):
                    best = longer
        return best

    loop = longest([start])
    assert loop is not None
    pairs = zip(loop, [*loop[1:], start], strict=True)
    steps = [f"{a} (line {graph[a][b].line})" for a, b in pairs]
    return " -> ".join([*steps, start])


def describe(graph: dict[str, dict[str, Import]]) -> list[str]:
    return [chain(graph, component) for component in cycles(graph)]


def face_imports(graph: ImportGraph) -> list[str]:
    """Submodules importing a package that contains them (its face), the root package's own
    face (``__version__``, ``STARTED_AT``) excepted."""
    root = min(graph.packages, key=len)
    return [
        f"{edge.importer} (line {edge.line}) imports its package's face {edge.target}"
        for edge in graph.imports
        if edge.explicit and edge.target != root and edge.importer.startswith(edge.target + ".")
    ]


def backward_imports(
    graph: ImportGraph, one_way: dict[str, tuple[str, ...]] = ONE_WAY
) -> list[str]:
    """Imports against the flow: a module of a layer importing one it must not."""
    return [
        f"{edge.importer} (line {edge.line}) imports {edge.target}"
        for edge in graph.imports
        for layer, forbidden in one_way.items()
        if (edge.importer == layer or edge.importer.startswith(layer + "."))
        and any(edge.target == f or edge.target.startswith(f + ".") for f in forbidden)
    ]


# --------------------------------------------------------------------------------------------
# cpa_ops itself


@pytest.fixture(scope="module")
def cpa_ops_graph() -> ImportGraph:
    return ImportGraph(PACKAGE_ROOT, "cpa_ops")


def test_no_import_cycle(cpa_ops_graph: ImportGraph) -> None:
    """No cycle among cpa_ops's modules, lazy imports included. Expected to fail until issue
    11's branches are merged (see the module docstring): not an xfail, on purpose."""
    found = describe(cpa_ops_graph.edges())
    header = "import cycles in cpa_ops (each module with the line that imports the next):"
    assert not found, "\n  ".join([header, *found])


def test_no_submodule_imports_its_own_face(cpa_ops_graph: ImportGraph) -> None:
    """A package's __init__ is its public face: its parts never import it (they import each
    other), so the face can import them all without a cycle."""
    found = face_imports(cpa_ops_graph)
    assert not found, "\n".join(found)


def test_core_never_imports_the_cli_or_the_fastapi_kit(cpa_ops_graph: ImportGraph) -> None:
    """Data flows one way: cli -> core and fastapi -> core, never back."""
    found = backward_imports(cpa_ops_graph)
    assert not found, "\n".join(found)


def test_the_graph_sees_every_module(cpa_ops_graph: ImportGraph) -> None:
    """A sanity check of the reader: the CLI's root imports something, and every module
    found is a file of the package."""
    assert {"cpa_ops", "cpa_ops.core", "cpa_ops.cli"} <= cpa_ops_graph.packages
    assert cpa_ops_graph.edges()["cpa_ops.cli"]
    assert all(path.is_file() for path in cpa_ops_graph.files.values())


# --------------------------------------------------------------------------------------------
# The checker itself, on synthetic packages


def _package(root: Path, files: dict[str, str]) -> ImportGraph:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return ImportGraph(root / "pkg", "pkg")


def test_checker_finds_a_cycle_through_a_lazy_import(tmp_path: Path) -> None:
    graph = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg import b\n",
            "b.py": "def later():\n    from pkg.c import thing\n    return thing\n",
            "c.py": "import pkg.a\nthing = 1\n",
        },
    )
    assert describe(graph.edges()) == [
        "pkg.a (line 1) -> pkg.b (line 2) -> pkg.c (line 1) -> pkg.a"
    ]


def test_checker_ignores_type_checking_imports(tmp_path: Path) -> None:
    graph = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "import pkg.b\n",
            "b.py": (
                "import typing\nfrom typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.a import x\n"
                "if typing.TYPE_CHECKING:\n    import pkg.a\nelse:\n    import pkg.c\n"
            ),
            "c.py": "",
        },
    )
    assert describe(graph.edges()) == []
    assert set(graph.edges()["pkg.b"]) == {"pkg.c"}


def test_checker_resolves_relative_imports_and_runs_parent_faces(tmp_path: Path) -> None:
    """``from . import x`` and ``from ..y import z`` resolve; importing ``pkg.sub.deep`` from
    outside ``pkg.sub`` runs ``pkg.sub``'s face, whose import of the importer closes a cycle."""
    graph = _package(
        tmp_path,
        {
            "__init__.py": "",
            "top.py": "def f():\n    import pkg.sub.deep\n",
            "sub/__init__.py": "from .deep import name\nfrom ..top import f\n",
            "sub/deep.py": "from . import sibling\nname = 1\n",
            "sub/sibling.py": "",
        },
    )
    edges = graph.edges()
    assert set(edges["pkg.sub.deep"]) == {"pkg.sub.sibling"}  # its own face is not re-run
    assert set(edges["pkg.top"]) == {"pkg.sub", "pkg.sub.deep"}
    assert describe(edges) == ["pkg.sub (line 2) -> pkg.top (line 2) -> pkg.sub"]


def test_checker_flags_a_submodule_importing_its_face(tmp_path: Path) -> None:
    graph = _package(
        tmp_path,
        {
            "__init__.py": "__version__ = '1'\n",
            "core/__init__.py": "from pkg.core.parts import thing\n",
            "core/parts.py": "from pkg import __version__\nthing = 1\n",
            "core/other.py": "from pkg.core import thing\nfrom pkg.core import parts\n",
            "cli.py": "from pkg.core import thing\n",
        },
    )
    assert face_imports(graph) == ["pkg.core.other (line 1) imports its package's face pkg.core"]


def test_checker_flags_core_importing_the_cli(tmp_path: Path) -> None:
    graph = _package(
        tmp_path,
        {
            "__init__.py": "",
            "core/__init__.py": "",
            "core/report.py": "def render():\n    from pkg.cli.render import table\n",
            "cli/__init__.py": "from pkg.core import report\n",
            "cli/render.py": "table = 1\n",
        },
    )
    assert backward_imports(graph, {"pkg.core": ("pkg.cli", "pkg.fastapi")}) == [
        "pkg.core.report (line 2) imports pkg.cli",
        "pkg.core.report (line 2) imports pkg.cli.render",
    ]


def test_core_and_cli_at_run_time_leave_the_web_stack_unimported() -> None:
    """Importing the CLI and every core module (and loading settings) never loads fastapi,
    starlette or uvicorn, even with the extra installed."""
    import subprocess
    import sys

    modules = sorted(
        "cpa_ops." + ".".join(p.relative_to(Path(cpa_ops.__file__).parent).with_suffix("").parts)
        for p in Path(cpa_ops.__file__).parent.rglob("*.py")
        if "fastapi" not in p.parts and p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for name in {[m.removesuffix('.__init__') for m in modules]!r}:\n"
        "    importlib.import_module(name)\n"
        "from cpa_ops.core.settings import load_settings; load_settings()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('fastapi', 'starlette', 'uvicorn')))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:1/0"}
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"
