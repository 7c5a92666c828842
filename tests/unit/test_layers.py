"""The package's layers: which part of pytest_nfv may import which, and no import cycles.

Every module is read with ``ast``, so an import counts wherever it stands: at the top, inside a
function (the lazy imports that keep start-up light) or under ``TYPE_CHECKING``. A lazy import
still ties the importer to the imported, and a type-only one ties their designs, so both are
held to the same rules as any other.

    cli       -> analysis, backends, host, leaf       the commands around the suites
    plugin    -> harness, analysis, backends, native, host, vnf, leaf
    analysis  -> leaf                                 saved runs only: never a backend
    harness   -> backends, native, host, vnf, leaf
    backends  -> native, host, vnf, leaf
    native    -> host, leaf                           the C sources and their one build path
    host      -> leaf
    vnf       -> leaf                                 VNF processes import it: it stays light
    leaf      -> leaf                                 errors, model, record, units, resources

A layer may always import its own modules. ``pytest_nfv/__init__.py`` is the public facade
and may name anything; nothing inside the package may import it.

Inside ``backends``, each backend is a package of its own (``netns/``, ``coreos/``, ...) and
imports no other backend's: what two of them use lives in ``backends/shared/``, which imports
no backend package either. Only the registry (``backends/__init__.py``) names them all.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import pytest_nfv

PACKAGE = "pytest_nfv"
ROOT = Path(pytest_nfv.__file__).parent
FACADE = PACKAGE
LEAF = frozenset({"errors", "model", "record", "units", "resources"})
#: what a wheel carries inside the package as data (see ``resources``): users' code, not ours.
SHIPPED_DATA = frozenset({"suites", "fixtures", "proxy_vnf"})

#: layer -> the layers it may import besides itself.
ALLOWED: dict[str, frozenset[str]] = {
    "leaf": frozenset(),
    "vnf": frozenset({"leaf"}),
    "host": frozenset({"leaf"}),
    "native": frozenset({"host", "leaf"}),
    "backends": frozenset({"native", "host", "vnf", "leaf"}),
    "harness": frozenset({"backends", "native", "host", "vnf", "leaf"}),
    "analysis": frozenset({"leaf"}),
    "plugin": frozenset({"harness", "analysis", "backends", "native", "host", "vnf", "leaf"}),
    "cli": frozenset({"analysis", "backends", "host", "leaf"}),
}

#: calls that import the module named by their first (literal) argument.
IMPORTING_CALLS = frozenset({"import_module", "import_plugin", "__import__"})


def _module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {
    _module_name(p): p
    for p in sorted(ROOT.rglob("*.py"))
    if p.relative_to(ROOT).parts[0] not in SHIPPED_DATA
}


def layer_of(module: str) -> str:
    """The layer of a module of the package (``pytest_nfv`` itself is the facade)."""
    if module == FACADE:
        return "facade"
    top = module.split(".")[1]
    return "leaf" if top in LEAF else top


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def where(self) -> str:
        return f"{MODULES[self.importer].relative_to(ROOT.parent)}:{self.line}"


def _resolve(name: str) -> str | None:
    """The package module an import of ``name`` loads: itself, or the nearest package above."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _absolute(importer: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    is_package = MODULES[importer].name == "__init__.py"
    base = importer.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _targets(importer: str, node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        source = _absolute(importer, node)
        for alias in node.names:  # ``from pytest_nfv.plugin import hookspecs`` is a module
            submodule = f"{source}.{alias.name}"
            yield submodule if submodule in MODULES else source
    elif (
        isinstance(node, ast.Call)
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in IMPORTING_CALLS:
            yield node.args[0].value


def imports_of(module: str) -> list[Import]:
    """Every import of a package module by ``module``, wherever in the file it stands."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), str(MODULES[module]))
    found = []
    for node in ast.walk(tree):
        for target in _targets(module, node):
            if target == PACKAGE or target.startswith(f"{PACKAGE}."):
                resolved = _resolve(target)
                assert resolved is not None, f"{module} imports {target}, which does not exist"
                if resolved != module:
                    found.append(Import(module, resolved, getattr(node, "lineno", 0)))
    return found


ALL_IMPORTS = [i for module in MODULES if module != FACADE for i in imports_of(module)]


def test_the_package_is_found() -> None:
    assert {"pytest_nfv.units", "pytest_nfv.cli.main", "pytest_nfv.plugin.hooks"} <= set(MODULES)
    assert any(i.imported == "pytest_nfv.errors" for i in ALL_IMPORTS)


def test_function_level_and_type_checking_imports_are_seen() -> None:
    cli = {i.imported for i in ALL_IMPORTS if i.importer == "pytest_nfv.cli.cleanup"}
    assert "pytest_nfv.backends" in cli  # imported inside the command's function
    state = {i.imported for i in ALL_IMPORTS if i.importer == "pytest_nfv.plugin.state"}
    assert "pytest_nfv.analysis.gate" in state  # imported under TYPE_CHECKING


def test_every_module_belongs_to_a_layer() -> None:
    unknown = sorted(m for m in MODULES if m != FACADE and layer_of(m) not in ALLOWED)
    assert unknown == [], "new top-level module or package: give it a layer in test_layers.py"


def test_imports_point_down_the_layers() -> None:
    wrong = [
        f"{i.where()}: {layer_of(i.importer)} imports {layer_of(i.imported)} ({i.imported})"
        for i in ALL_IMPORTS
        if layer_of(i.imported) != layer_of(i.importer)
        and layer_of(i.imported) not in ALLOWED[layer_of(i.importer)]
    ]
    assert wrong == []


def test_analysis_and_cli_never_import_a_backend_engine() -> None:
    """They read saved records; the one exception is ``cleanup``, which reaps every engine."""
    wrong = [
        f"{i.where()}: {i.imported}"
        for i in ALL_IMPORTS
        if layer_of(i.importer) in ("analysis", "cli")
        and layer_of(i.imported) == "backends"
        and i.importer != "pytest_nfv.cli.cleanup"
    ]
    assert wrong == []


BACKENDS = f"{PACKAGE}.backends"
#: the modules of ``backends`` that are no backend: the protocol's and what backends share.
BACKEND_COMMONS = frozenset({"base", "migration", "variant", "shared"})


def backend_package_of(module: str) -> str | None:
    """The backend package ``module`` belongs to (``coreos``), None outside every backend."""
    parts = module.split(".")
    if parts[:2] != BACKENDS.split(".") or len(parts) < 3 or parts[2] in BACKEND_COMMONS:
        return None
    return parts[2]


def crossings(imports: list[Import]) -> list[Import]:
    """The imports from one backend package (or ``shared``) into another backend's package."""
    return [
        i
        for i in imports
        if i.importer != BACKENDS  # the registry names every backend
        and (target := backend_package_of(i.imported)) is not None
        and target != backend_package_of(i.importer)
    ]


def test_every_builtin_backend_is_a_package_of_its_own() -> None:
    from pytest_nfv.backends import BUILTIN_BACKENDS

    direct = {m.rpartition(".")[2] for m in MODULES if m.rpartition(".")[0] == BACKENDS}
    assert direct == {*BUILTIN_BACKENDS, *BACKEND_COMMONS}, (
        "a module directly under backends/ is either part of the protocol (name it in "
        "BACKEND_COMMONS) or belongs inside one backend's package or shared/"
    )
    for name in BUILTIN_BACKENDS:
        assert MODULES[f"{BACKENDS}.{name}"].name == "__init__.py", name


def test_no_backend_package_imports_another_and_shared_imports_none() -> None:
    assert [i.where() + f": {i.imported}" for i in crossings(ALL_IMPORTS)] == []


def test_the_backend_rule_sees_a_crossing() -> None:
    netns, osv = f"{BACKENDS}.netns.backend", f"{BACKENDS}.osv.backend"
    shared, base = f"{BACKENDS}.shared.switch", f"{BACKENDS}.base"
    imports = [
        Import(osv, netns, 1),  # a backend into another: refused
        Import(shared, osv, 1),  # a shared part into a backend: refused
        Import(osv, shared, 1),
        Import(osv, base, 1),
        Import(osv, f"{BACKENDS}.osv.domain", 1),
        Import(BACKENDS, osv, 1),  # the registry
    ]
    assert crossings(imports) == imports[:2]


def test_leaf_modules_import_only_errors_and_each_other() -> None:
    wrong = [
        f"{i.where()}: {i.imported}"
        for i in ALL_IMPORTS
        if layer_of(i.importer) == "leaf" and layer_of(i.imported) != "leaf"
    ]
    assert wrong == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    edges: dict[str, set[str]] = {}
    for i in ALL_IMPORTS:
        edges.setdefault(i.importer, set()).add(i.imported)
    assert _cycles(edges) == []


def test_nothing_inside_imports_the_facade() -> None:
    assert [i.where() for i in ALL_IMPORTS if i.imported == FACADE] == []


@pytest.mark.parametrize(
    ("edges", "cycles"),
    [
        ({"a": {"b"}, "b": {"c"}}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_the_cycle_finder_finds_cycles(edges: dict[str, set[str]], cycles: list[list[str]]) -> None:
    assert _cycles(edges) == cycles
