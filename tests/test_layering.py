"""The shape of the packages, read from their source with ``ast``: no import cycles, no private names across
modules, imports only downwards.

Every import counts, including those under ``if TYPE_CHECKING:`` and inside functions: a cycle hidden
from the interpreter is still two modules that cannot be understood or replaced apart. A module may use
its own ``_private`` names freely (``self``/``cls`` access, or another class of the same module); no
module imports another's ``_name`` or reads ``obj._attr`` where ``_attr`` belongs to a class of another
module. A module over 400 lines says why in a ``# over 400 lines: ...`` comment near its top. ``memory/`` and
``envs/`` import nothing of the agent, and the agent's sub-packages import only from their own layer or below
(:data:`AGENT_LAYERS`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("memory", "envs", "agent")
AGENT_LAYERS = (
    ("agent", "agent.errors", "agent.jsonl", "agent.text", "agent.llm", "agent.prompts"),
    ("agent.core",),
    ("agent.policies",),
    ("agent.learning",),
    ("agent.families",),
    ("agent.bench", "agent.chat", "agent.evals", "agent.ui", "agent.doctor"),
    ("agent.cli",),
)
"""The agent's layers, lowest first: a module imports only from its own layer or a lower one. Family plug-ins sit
above the general agent (core, policies, learning), which reaches them only through the hooks the caller passes."""
MAX_LINES = 400
LONG_REASON = "# over 400 lines:"


@dataclass
class Module:
    """One parsed module of the package."""

    name: str
    path: Path
    tree: ast.Module
    imports: list[tuple[str, int]] = field(default_factory=list)
    """(imported module of the package, line), every import wherever it stands."""
    private_members: set[str] = field(default_factory=set)
    """``_names`` the module's classes define (methods, ``self._x`` assignments, class attributes)."""


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def load(package_dir: Path, package: str) -> dict[str, Module]:
    """Parse every module of a package (``pkg/__init__.py`` is the module ``pkg``)."""
    modules: dict[str, Module] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = Module(".".join(parts), path, ast.parse(path.read_text(encoding="utf-8")))
    for module in modules.values():
        module.imports = list(_imports(module, modules))
        module.private_members = _private_members(module.tree)
    return modules


def _imports(module: Module, modules: dict[str, Module]) -> Iterator[tuple[str, int]]:
    is_package = module.path.name == "__init__.py"
    for node in ast.walk(module.tree):  # walks function bodies and `if TYPE_CHECKING:` blocks too
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = module.name.split(".") if is_package else module.name.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join([*here, *([node.module] if node.module else [])])
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:  # `from memory import lifecycle`
                    yield f"{base}.{alias.name}", node.lineno
                elif base in modules:
                    yield base, node.lineno


def _private_members(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        for node in ast.walk(cls):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):  # fmt: skip
                names.add(node.attr)
        for stmt in cls.body:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(
                stmt, ast.AnnAssign) else []  # fmt: skip
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return {n for n in names if _is_private(n)}


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Every import cycle, each as the list of modules along it (found by depth-first search)."""
    graph = {m.name: sorted({dst for dst, _ in m.imports if dst != m.name}) for m in modules.values()}
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    for start in sorted(graph):
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, []):
                if nxt == start and frozenset(path) not in seen:
                    seen.add(frozenset(path))
                    found.append([*path, start])
                elif nxt > start and nxt not in path:  # each cycle once, from its smallest module
                    stack.append((nxt, [*path, nxt]))
    return found


def private_imports(modules: dict[str, Module]) -> list[str]:
    """``from x import _name`` of another module, and ``module._name`` through an imported module."""
    out: list[str] = []
    for module in modules.values():
        imported_modules: set[str] = set()
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if _is_private(alias.name):
                        out.append(f"{module.path.name}:{node.lineno} imports {alias.name} from {node.module}")
                    if f"{node.module}.{alias.name}" in modules:
                        imported_modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                imported_modules.update(a.asname or a.name for a in node.names if a.name in modules)
        for node in ast.walk(module.tree):
            if (isinstance(node, ast.Attribute) and _is_private(node.attr)
                    and ast.unparse(node.value) in imported_modules):  # fmt: skip
                out.append(f"{module.path.name}:{node.lineno} reads {ast.unparse(node)}")
    return out


def private_attribute_access(modules: dict[str, Module]) -> list[str]:
    """``obj._attr`` (``obj`` not ``self``/``cls``) where ``_attr`` belongs to a class of another module only;
    and ``self._attr`` in a subclass where ``_attr`` comes from a base class of another module."""
    owners: dict[str, set[str]] = {}
    for module in modules.values():
        for name in module.private_members:
            owners.setdefault(name, set()).add(module.name)
    class_modules = {
        cls.name: module.name for module in modules.values() for cls in ast.walk(module.tree)
        if isinstance(cls, ast.ClassDef)
    }  # fmt: skip
    out: list[str] = []
    for module in modules.values():
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Attribute) or not _is_private(node.attr):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            others = owners.get(node.attr, set()) - {module.name}
            if others and node.attr not in module.private_members:
                out.append(f"{module.path.name}:{node.lineno} reads {ast.unparse(node)} "
                           f"(private to {', '.join(sorted(others))})")  # fmt: skip
        for cls in (n for n in ast.walk(module.tree) if isinstance(n, ast.ClassDef)):
            foreign = {class_modules[b.id] for b in cls.bases if isinstance(b, ast.Name)
                       and class_modules.get(b.id, module.name) != module.name}  # fmt: skip
            own = _private_members(ast.Module(body=[cls], type_ignores=[]))
            for node in ast.walk(cls):
                if (isinstance(node, ast.Attribute) and _is_private(node.attr) and node.attr not in own
                        and isinstance(node.value, ast.Name) and node.value.id == "self"
                        and any(node.attr in modules[m].private_members for m in foreign)):  # fmt: skip
                    out.append(f"{module.path.name}:{node.lineno} class {cls.name} reads inherited self.{node.attr}")
    return out


def long_modules(modules: dict[str, Module]) -> list[str]:
    """Modules over :data:`MAX_LINES` lines without a ``# over 400 lines: <reason>`` comment in their first 40."""
    out = []
    for module in modules.values():
        lines = module.path.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_LINES and not any(line.startswith(LONG_REASON) for line in lines[:40]):
            out.append(f"{module.path.name} has {len(lines)} lines and no '{LONG_REASON} <reason>' line")
    return out


@pytest.fixture(scope="module", params=PACKAGES)
def package(request: pytest.FixtureRequest) -> dict[str, Module]:
    return load(ROOT / request.param, request.param)


def test_no_import_cycles(package: dict[str, Module]) -> None:
    assert any(m.imports for m in package.values())
    assert [" -> ".join(c) for c in cycles(package)] == []


def test_no_private_name_is_imported_across_modules(package: dict[str, Module]) -> None:
    assert private_imports(package) == []


def test_no_module_reads_another_modules_private_attributes(package: dict[str, Module]) -> None:
    assert private_attribute_access(package) == []


def test_long_modules_say_why(package: dict[str, Module]) -> None:
    assert long_modules(package) == []


def layer_of(module: str) -> int:
    """The index in :data:`AGENT_LAYERS` of the longest prefix that names ``module``'s package."""
    best, found = -1, -1
    for index, names in enumerate(AGENT_LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, found = len(name), index
    return found


def foreign_imports(package: str) -> list[str]:
    """Imports of the project's packages that a package must not make, with file and line."""
    allowed = {"memory": {"memory"}, "envs": {"envs"}, "agent": {"agent", "memory", "envs"}}[package]
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                names = [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                top = name.split(".")[0]
                if top in PACKAGES and top not in allowed:
                    out.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    return out


@pytest.mark.parametrize("name", PACKAGES)
def test_memory_and_envs_know_nothing_of_the_agent(name: str) -> None:
    assert foreign_imports(name) == []


def test_agent_imports_run_downwards() -> None:
    modules = load(ROOT / "agent", "agent")
    upward = [f"{m.name}:{line} imports {dst}" for m in modules.values() for dst, line in m.imports
              if layer_of(dst) > layer_of(m.name)]  # fmt: skip
    assert all(layer_of(m) >= 0 for m in modules), [m for m in modules if layer_of(m) < 0]
    assert upward == []


def test_the_checks_catch_what_they_forbid(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg.b import B\n"
        "class A:\n    def __init__(self):\n        self._state = {}\n"
        "    def _helper(self):\n        return self._state\n"
    )
    (pkg / "b.py").write_text(
        "from pkg import a\nfrom pkg.c import _SECRET\n"
        "class B:\n    def run(self, other):\n        other._state.clear()\n        return a._x\n"
    )
    (pkg / "c.py").write_text(
        "_SECRET = 1\n"
        "def later():\n    from pkg.a import A\n    class Sub(A):\n        def go(self):\n"
        "            return self._helper()\n    return Sub\n"
        + "# filler\n" * MAX_LINES
    )
    modules = load(pkg, "pkg")
    assert [" -> ".join(c) for c in cycles(modules)] == ["pkg.a -> pkg.b -> pkg.a", "pkg.a -> pkg.b -> pkg.c -> pkg.a"]
    assert private_imports(modules) == ["b.py:2 imports _SECRET from pkg.c", "b.py:6 reads a._x"]
    assert private_attribute_access(modules) == [
        "b.py:5 reads other._state (private to pkg.a)",
        "c.py:6 class Sub reads inherited self._helper",
    ]
    assert long_modules(modules) == [f"c.py has {MAX_LINES + 7} lines and no '{LONG_REASON} <reason>' line"]
