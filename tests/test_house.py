"""The house rules, read from the package's own source: one import package, no import
cycle between modules, no private name taken from another module, and the layers
(nodes, then the engine core, then the workflows, then the front ends) importing only
downwards.  Every import counts, also those inside functions; only imports under
``if TYPE_CHECKING:`` are left out (they never run)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

import mixgraph
import mixgraph.editor
import mixgraph.nodes

OLD_TOP = {"graph", "nodes", "editor"}      # the folders' names, never import names


def package_modules() -> dict[str, Path]:
    """Every module of the installed package, by dotted name, found from the folders
    the subpackages live in (they are separate folders: see pyproject.toml)."""
    roots = {"mixgraph": Path(mixgraph.__file__).parent,
             "mixgraph.nodes": Path(mixgraph.nodes.__file__).parent,
             "mixgraph.editor": Path(mixgraph.editor.__file__).parent}
    found = {}
    for prefix, root in roots.items():
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([prefix, *parts])] = path
    return found


MODULES = package_modules()


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(module: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for each import that can run."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, [], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [alias.name for alias in node.names]
            # `from package import module` imports the module
            submodules = [n for n in names if f"{target}.{n}" in MODULES]
            for n in submodules:
                found.append((f"{target}.{n}", [], node.lineno))
            rest = [n for n in names if n not in submodules]
            if rest or not submodules:
                found.append((target, rest, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(MODULES)
    for module in MODULES:
        for target, _, line in imports_of(module):
            if target in MODULES and target != module:
                g.add_edge(module, target, line=line)
    return g


def test_one_import_package_and_no_old_names():
    wrong = [f"{m} line {line} imports {target!r}" for m in MODULES
             for target, _, line in imports_of(m) if target.split(".")[0] in OLD_TOP]
    assert not wrong, "imports by the folders' names instead of mixgraph's:\n" + "\n".join(wrong)


def test_no_import_cycles():
    cycles = list(nx.simple_cycles(import_graph()))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c + [c[0]]) for c in cycles)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_private_names_imported_across_modules():
    wrong = []
    for module in MODULES:
        for target, names, line in imports_of(module):
            if target.split(".")[0] != "mixgraph" or target == module:
                continue
            wrong += [f"{module} line {line}: {target}.{n}" for n in names if _private(n)]
            if _private(target.rsplit(".", 1)[-1]):
                wrong.append(f"{module} line {line}: private module {target}")
    assert not wrong, "private names imported from another module:\n" + "\n".join(wrong)


def test_no_private_attributes_of_imported_modules():
    """``renderer._gather`` through ``import ... as renderer`` is a private import too."""
    wrong = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        aliases = set()                  # names bound to modules of the package
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                aliases |= {a.asname or a.name.split(".")[0] for a in node.names
                            if a.name.startswith("mixgraph")}
        aliases |= {target.rsplit(".", 1)[-1] for target, _, _ in imports_of(module)
                    if target in MODULES}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in aliases and _private(node.attr):
                wrong.append(f"{module} line {node.lineno}: {node.value.id}.{node.attr}")
    assert not wrong, "private attributes of other modules:\n" + "\n".join(wrong)


# what each layer may import from the package (besides itself and mixgraph.errors)
LAYERS = {
    "mixgraph.nodes": ("mixgraph.nodes",),
    "mixgraph.core": ("mixgraph.nodes", "mixgraph.core"),
    "mixgraph.workflows": ("mixgraph.nodes", "mixgraph.core", "mixgraph.workflows"),
    "mixgraph.editor": ("mixgraph.nodes", "mixgraph.core", "mixgraph.workflows",
                        "mixgraph.editor"),
    "mixgraph.cli": ("mixgraph.nodes", "mixgraph.core", "mixgraph.workflows",
                     "mixgraph.editor", "mixgraph.cli"),
}
ALWAYS = ("mixgraph.errors",)
FRONT_ENDS = ("mixgraph.cli", "mixgraph.editor")    # they use the public API as users do


def _within(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layers_import_only_downwards(layer):
    allowed = LAYERS[layer] + ALWAYS
    wrong = []
    for module in MODULES:
        if not _within(module, (layer,)):
            continue
        for target, names, line in imports_of(module):
            if target == "mixgraph":            # the package's face: its version, and
                if set(names) - {"__version__"} and layer not in FRONT_ENDS:   # the API
                    wrong.append(f"{module} line {line}: from mixgraph import {names}")
            elif target.startswith("mixgraph.") and not _within(target, allowed):
                wrong.append(f"{module} line {line}: {target}")
    assert not wrong, f"{layer} imports from a layer above it:\n" + "\n".join(wrong)


def test_only_the_editor_imports_dearpygui():
    wrong = [f"{m} line {line}" for m in MODULES for target, _, line in imports_of(m)
             if target.startswith("dearpygui") and not _within(m, ("mixgraph.editor",))]
    assert not wrong, "dearpygui imported outside the editor:\n" + "\n".join(wrong)
    headless = "mixgraph.editor.layout"
    assert not any(t.startswith("dearpygui") for t, _, _ in imports_of(headless)), \
        f"{headless} is used by benchmarks and tests without a display: it stays headless"


def test_the_checks_see_imports():
    """The checks above read something: the core's renderer imports its plan."""
    assert ("mixgraph.core.renderer", "mixgraph.core.schedule") in import_graph().edges
    assert len(MODULES) > 40


def test_the_public_api_is_one_import_away():
    import mixgraph

    for name in ("Graph", "load", "save", "render", "preview", "batch", "validate",
                 "Report", "MixgraphError", "GraphError", "ParameterError",
                 "ProjectFileError", "AudioFileError", "RenderCancelled", "ValidationError"):
        assert name in mixgraph.__all__, name
        assert getattr(mixgraph, name) is not None
    from mixgraph.errors import MixgraphError
    assert issubclass(mixgraph.ParameterError, MixgraphError)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mixgraph.nope


def _private_members() -> dict[str, set[str]]:
    """Private methods and attributes the package's classes define: name -> modules."""
    found: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for item in ast.walk(node):
                    name = None
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        name = item.name
                    elif isinstance(item, ast.Attribute) and isinstance(item.ctx, ast.Store) \
                            and isinstance(item.value, ast.Name) and item.value.id == "self":
                        name = item.attr
                    if name and _private(name):
                        found.setdefault(name, set()).add(module)
    return found


def test_no_private_members_of_other_objects():
    """``graph._port_problem(...)`` from validation reaches into the model: a private
    method or attribute is used only on ``self`` (or ``cls``), or inside a class that
    defines a member of that name itself."""
    members = _private_members()
    wrong = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        own: dict[ast.AST, set[str]] = {}
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            names = {n.name for n in ast.walk(cls) if isinstance(n, ast.FunctionDef)} | {
                n.attr for n in ast.walk(cls) if isinstance(n, ast.Attribute)
                and isinstance(n.value, ast.Name) and n.value.id == "self"}
            for n in ast.walk(cls):
                own.setdefault(n, set()).update(names)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in members \
                    and not (isinstance(node.value, ast.Name)
                             and node.value.id in ("self", "cls")) \
                    and node.attr not in own.get(node, set()):
                wrong.append(f"{module} line {node.lineno}: .{node.attr} "
                             f"(defined in {', '.join(sorted(members[node.attr]))})")
    assert not wrong, "private members used from outside their class:\n" + "\n".join(wrong)
