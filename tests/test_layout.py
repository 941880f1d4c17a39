"""The layout of DESIGN §10, read from the source with `ast`: rooms, shells, sizes, no cycles.

Every import counts, at module level or inside a function (it runs all the same,
only later), except those under `if TYPE_CHECKING:` for the cycle check (they
never run). Each check names the module that broke it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "touchpoint"
SHELLS = (
    "touchpoint.cli",
    "touchpoint.cli_privacy",
    "touchpoint.cli_push",
    "touchpoint.console",
    "touchpoint.serve",
    "touchpoint.demo",
)
# Which modules may import a shell: the entry point runs the CLI, the CLI calls the others,
# and the demo's modules import each other (the demo is a room of its own).
MAY_IMPORT_SHELLS = {
    "touchpoint.__main__": ("touchpoint.cli",),
    "touchpoint.cli": (
        "touchpoint.cli_privacy",
        "touchpoint.cli_push",
        "touchpoint.console",
        "touchpoint.serve",
        "touchpoint.demo",
    ),
    "touchpoint.cli_privacy": ("touchpoint.console",),
    "touchpoint.cli_push": ("touchpoint.console",),
    "touchpoint.demo": ("touchpoint.demo",),
}
MAX_LINES = 400
# Over MAX_LINES for now (issue 10): the set only shrinks.
OVER_MAX_LINES_FOR_NOW: set[str] = set()
# What an `__init__.py` may assign besides `__all__` (the vendors' one list lives there).
INIT_NAMES = {
    "touchpoint": {"__version__"},
    "touchpoint.sources.vendors": {"VENDORS"},
    "touchpoint.destinations": {"DESTINATIONS"},
}
MAX_TOP_LEVEL_MODULES = 10


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the module imported (a package's `__init__` is the package)
    line: int
    type_checking: bool  # under `if TYPE_CHECKING:`: never runs


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """The ids of every node under an `if TYPE_CHECKING:`."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith(
            "TYPE_CHECKING"
        ):
            for child in node.body:
                inside.update(id(n) for n in ast.walk(child))
    return inside


def _resolve(source: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = source if MODULES[source].name == "__init__.py" else source.rpartition(".")[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def imports_of(source: str) -> list[Import]:
    """Every import of one of our modules that `source` makes, wherever it makes it."""
    tree = ast.parse(MODULES[source].read_text())
    guarded = _type_checking_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(source, node)
            # `from touchpoint import console` imports a module; `from x import name`, x.
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # `import a.b.c` of a name: its module
                target = target.rpartition(".")[0]
            if target and target != source:
                found.append(Import(source, target, node.lineno, id(node) in guarded))
    return found


IMPORTS = [found for source in MODULES for found in imports_of(source)]


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            component.append(node)
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_cycles():
    edges: dict[str, set[str]] = {}
    for found in IMPORTS:
        if not found.type_checking:
            edges.setdefault(found.source, set()).add(found.target)
    shown = []
    for cycle in _cycles(edges):
        links = {
            f"{f.source}:{f.line} -> {f.target}"
            for f in IMPORTS
            if f.source in cycle and f.target in cycle and not f.type_checking
        }
        shown.append(" | ".join(sorted(links)))
    assert not shown, "import cycles:\n" + "\n".join(shown)


def test_only_the_shells_import_a_shell():
    broken = []
    for found in IMPORTS:
        shell = next((s for s in SHELLS if _in(found.target, s)), None)
        if shell is None:
            continue
        allowed = next((v for k, v in MAY_IMPORT_SHELLS.items() if _in(found.source, k)), ())
        if not any(_in(found.target, a) for a in allowed):
            broken.append(f"{found.source}:{found.line} imports {found.target} (a shell)")
    assert not broken, "\n".join(broken)


def test_init_files_only_re_export():
    broken = []
    for name, path in MODULES.items():
        if path.name != "__init__.py":
            continue
        allowed = {"__all__"} | INIT_NAMES.get(name, set())
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                continue
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # the docstring
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if not names or len(names) < len(targets) or not names <= allowed:
                broken.append(
                    f"{name} ({path.name}:{node.lineno}): {ast.unparse(node).splitlines()[0][:60]}"
                )
    assert not broken, "code in __init__.py, not only imports and __all__:\n" + "\n".join(broken)


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def test_no_module_over_the_limit():
    over = {name: _lines(path) for name, path in MODULES.items() if _lines(path) > MAX_LINES}
    new = [
        f"{name}: {lines} lines"
        for name, lines in over.items()
        if name not in OVER_MAX_LINES_FOR_NOW
    ]
    assert not new, f"modules over {MAX_LINES} lines:\n" + "\n".join(new)


def test_few_modules_at_the_top_level():
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, f"{len(top)} top-level modules: {', '.join(top)}"
