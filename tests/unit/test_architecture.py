"""The tree's import rules (ARCHITECTURE.md): each layer imports only the layers beneath it.

Every ``import listrank...`` in the package, lazy ones inside functions included, is checked
against ALLOWED; a new layer or a new edge must be added here on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "listrank"

CORE = {"types", "errors", "options"}
LIBRARY = {"types", "errors", "registry", "prompting", "runs", "backends", "methods"}
LIBRARY |= {"strategies", "pipeline", "evaluation"}
ALLOWED: dict[str, set[str]] = {
    "types": set(),
    "options": {"errors"},
    "errors": set(),
    "registry": CORE,
    "prompting": CORE,
    "runs": CORE,
    "backends": CORE | {"prompting"},
    "methods": CORE | {"prompting", "backends.base", "runs"},
    "strategies": CORE,
    "pipeline": CORE | {"registry", "prompting", "runs", "backends", "methods", "strategies"},
    "evaluation": CORE | {"pipeline", "runs", "strategies"},
    "integrations": LIBRARY,
    "server": LIBRARY | {"integrations"},
    "batch": LIBRARY,
    "testing": CORE | {"backends"},
    "cli": LIBRARY | {"server", "batch", "integrations"},
    "__main__": {"cli"},
    "__init__": LIBRARY,
}
"""Layer -> what it may import. An entry with a dot allows only that module of a layer."""

TOP_LEVEL_MODULES = {"__init__", "__main__", "types", "errors", "options", "registry"}


def layer_of(module: str) -> str:
    """`listrank.strategies.window` -> `strategies`; `listrank` itself -> `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def violation(source_module: str, imported: str) -> str | None:
    """Why `source_module` may not import `imported`, or None when the rule allows it."""
    source, target = layer_of(source_module), layer_of(imported)
    if source == target:
        return None
    allowed = ALLOWED.get(source)
    if allowed is None:
        return f"{source_module}: layer {source!r} has no import rule"
    dotted = ".".join(imported.split(".")[1:3])
    if target in allowed or dotted in allowed:
        return None
    return f"{source_module} imports {imported}: {source!r} may import only {sorted(allowed)}"


def module_name(path: Path) -> str:
    parts = ["listrank", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def is_module(dotted: str) -> bool:
    """Whether ``listrank.a.b`` names a module or package of the tree (not an attribute)."""
    rel = Path(*dotted.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").exists() or (PACKAGE / rel / "__init__.py").exists()


def imports_of(path: Path) -> list[str]:
    return imports_in(path.read_text(encoding="utf-8"))


def imports_in(source: str) -> list[str]:
    """Every listrank module ``source`` imports; ``from listrank.runs import formats`` is an
    edge to ``listrank.runs.formats`` (the module), not only to the package."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "listrank":
                found += [f"listrank.{alias.name}" for alias in node.names]
            elif node.module.startswith("listrank."):
                found.append(node.module)
                found += [
                    f"{node.module}.{a.name}"
                    for a in node.names
                    if is_module(f"{node.module}.{a.name}")
                ]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("listrank.")]
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_import_follows_the_layer_rules(path: Path) -> None:
    source = module_name(path)
    if source == "listrank":
        source = "listrank.__init__"
    problems = [v for v in (violation(source, i) for i in imports_of(path)) if v]
    assert not problems, "\n".join(problems)


def test_no_module_left_loose_at_the_top() -> None:
    loose = {p.stem for p in PACKAGE.glob("*.py")} - TOP_LEVEL_MODULES
    assert not loose, f"modules outside any layer: {sorted(loose)}"


def test_every_folder_is_a_known_layer() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert folders <= set(ALLOWED), sorted(folders - set(ALLOWED))


@pytest.mark.parametrize(
    ("source", "imported"),
    [
        ("listrank.strategies.window", "listrank.methods.first"),
        ("listrank.strategies.window", "listrank.backends.hf"),
        ("listrank.backends.hf", "listrank.strategies.window"),
        ("listrank.backends.openai", "listrank.pipeline.reranker"),
        ("listrank.backends.hf", "listrank.cli.common"),
        ("listrank.types", "listrank.errors"),
        ("listrank.errors", "listrank.types"),
        ("listrank.methods.first", "listrank.backends.hf"),
        ("listrank.prompting.templates", "listrank.backends.base"),
        ("listrank.pipeline.reranker", "listrank.server.app"),
    ],
)
def test_the_rule_rejects_forbidden_imports(source: str, imported: str) -> None:
    assert violation(source, imported) is not None


@pytest.mark.parametrize(
    ("source", "imported"),
    [
        ("listrank.methods.first", "listrank.backends.base"),
        ("listrank.pipeline.reranker", "listrank.strategies.base"),
        ("listrank.cli.serve", "listrank.server.app"),
        ("listrank.strategies.jointrank", "listrank.strategies.aggregate"),
    ],
)
def test_the_rule_allows_the_layering(source: str, imported: str) -> None:
    assert violation(source, imported) is None


def test_no_import_cycle_between_modules() -> None:
    graph: dict[str, set[str]] = {}
    for path in SOURCES:
        name = module_name(path)
        graph[name] = {i for i in imports_of(path) if i != name}
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        if node in done:
            return
        assert node not in visiting, "import cycle: " + " -> ".join([*stack, node])
        visiting.add(node)
        for nxt in graph.get(node, ()):
            if nxt in graph:
                visit(nxt, [*stack, node])
        visiting.discard(node)
        done.add(node)

    for module in graph:
        if module != "listrank":
            visit(module, [])


def test_importing_a_module_from_its_package_is_an_edge_to_that_module() -> None:
    # the cycle runs/io <-> runs/formats went unseen: "from listrank.runs import formats"
    # counted only as an import of the package
    found = imports_in(
        "from listrank.runs import formats, safe_json\nfrom listrank.types import Query"
    )
    assert "listrank.runs.formats" in found and "listrank.runs.safe_json" in found
    assert "listrank.types.Query" not in found  # a name, not a module
