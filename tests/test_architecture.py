"""The layering, enforced: ``api -> edms -> {signing, storage}``, nothing pointing back, no
import cycle, and no module too large to read.

The import graph is read from the source (AST), so it counts every import wherever it is
written: at module level, inside a function (a lazy import is still a dependency), and
under ``if TYPE_CHECKING:``. The contracts:

* ``storage`` and ``signing`` import nothing of ``edms`` or ``api``;
* ``edms`` never imports ``api``;
* ``api`` (REST and web adapters) never imports SQLAlchemy or ``edms.models``: every query
  it needs is a domain service.

No cycle among the modules of ``edms``, ``api``, ``signing`` and ``storage`` (Tarjan's
strongly connected components over the graph, function-local imports included; imports
under ``if TYPE_CHECKING:`` are left out of this one, since they never run). Importing a
package is an edge to its ``__init__``, and ``from pkg import name`` is an edge to the
submodule ``pkg.name`` when there is one (and to ``pkg``'s ``__init__``, which runs first).
The packages a module sits in are not edges of its own: Python has them loaded already.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("edms", "api", "signing", "storage")
MAX_LINES = 600


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module or name, absolute ("edms.models", "sqlalchemy.orm")
    line: int
    type_checking: bool  # written under `if TYPE_CHECKING:`


def modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``: dotted name -> file (a package is its
    ``__init__``)."""
    found: dict[str, Path] = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path) -> Iterator[Import]:
    """Every import statement of the module, anywhere in it, made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, guarded: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from visit_stmt(stmt, True)
                for stmt in child.orelse:
                    yield from visit_stmt(stmt, guarded)
                continue
            yield from visit_stmt(child, guarded)

    def visit_stmt(node: ast.AST, guarded: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno, guarded)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                drop = node.level - 1 if is_package else node.level
                base = base[: len(base) - drop] if drop else base
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                target = f"{prefix}.{alias.name}" if alias.name != "*" else prefix
                yield Import(name, target, node.lineno, guarded)
                # `from pkg import name` runs pkg's __init__ first
                yield Import(name, prefix, node.lineno, guarded)
        yield from visit(node, guarded)

    yield from visit(tree, False)


def _ancestors(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def graph(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports at run time."""
    mods = modules(root, packages)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        own = _ancestors(name) | {name}
        for imp in imports_of(name, path):
            if imp.type_checking:
                continue
            target = imp.target
            while target and target not in mods:  # `from pkg.mod import function`
                target = target.rpartition(".")[0]
            if not target:
                continue
            for hit in (target, *_ancestors(target)):
                if hit in mods and hit not in own:
                    edges[name].add(hit)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), and the
    modules that import themselves."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strongconnect(v)
    return sorted(found)


FORBIDDEN: dict[str, tuple[str, ...]] = {
    "storage": ("edms", "api"),
    "signing": ("edms", "api"),
    "edms": ("api",),
    "api": ("sqlalchemy", "edms.models"),
}


def violations(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """Every import that breaks a layering contract, as ``file:line: module imports X``."""
    found = []
    for name, path in modules(root, packages).items():
        banned = FORBIDDEN.get(name.split(".")[0], ())
        for imp in imports_of(name, path):
            if any(imp.target == b or imp.target.startswith(b + ".") for b in banned):
                rel = path.relative_to(root)
                found.append(f"{rel}:{imp.line}: {name} imports {imp.target}")
    return sorted(set(found))


# -- the project -------------------------------------------------------------------------


def test_layering_contracts() -> None:
    found = violations(ROOT)
    assert not found, "imports that break the layering:\n" + "\n".join(found)


def test_no_import_cycle() -> None:
    found = cycles(graph(ROOT))
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_module_is_too_large() -> None:
    large = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "migrations" in path.relative_to(ROOT).parts:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                large.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not large, f"modules over {MAX_LINES} lines:\n" + "\n".join(large)


# -- the checks themselves catch what they must ---------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_errors_are_raised_by_kind() -> None:
    """edms.errors: code raises a kind (ClientError, NotFound, Conflict, UpstreamUnavailable,
    InternalError, ...), never the root EdmsError, so a server-side failure is never a 400."""
    found = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Raise) or node.exc is None:
                    continue
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = exc.attr if isinstance(exc, ast.Attribute) else getattr(exc, "id", "")
                if name == "EdmsError":
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, "raise EdmsError (raise its kind instead):\n" + "\n".join(found)


def test_checks_see_function_local_imports_and_packages(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "edms/__init__.py": "",
            "edms/a.py": "def f():\n    from . import b\n    return b\n",
            "edms/b.py": "from edms import pkg\n",
            "edms/pkg/__init__.py": "from .inner import x\n",
            "edms/pkg/inner.py": "def g():\n    from edms.a import f\n    x = 1\n",
            "edms/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from .d import D\n",
            "edms/d.py": "from .c import TYPE_CHECKING\n",
            "edms/lazy.py": "def h():\n    import api.web\n",
            "api/__init__.py": "",
            "api/web.py": "def v():\n    from sqlalchemy import select\n"
            "    from edms import models\n",
            "signing/__init__.py": "",
            "signing/s.py": "from edms.a import f\n",
            "storage/__init__.py": "",
        },
    )
    found = cycles(graph(tmp_path))
    # a -> b (function-local) -> pkg (__init__) -> pkg.inner -> a (function-local)
    assert found == [["edms.a", "edms.b", "edms.pkg", "edms.pkg.inner"]]
    broken = violations(tmp_path)
    assert sorted(b.split(": ", 1)[1] for b in broken) == [
        "api.web imports edms.models",
        "api.web imports sqlalchemy",
        "api.web imports sqlalchemy.select",
        "edms.lazy imports api.web",
        "signing.s imports edms.a",
        "signing.s imports edms.a.f",
    ]


@pytest.mark.parametrize("name", ["edms.documents", "api.web"])
def test_a_package_import_is_an_edge_to_its_init(name: str) -> None:
    mods = modules(ROOT)
    assert name in mods and mods[name].name == "__init__.py"
