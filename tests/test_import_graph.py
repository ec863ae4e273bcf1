"""No import circle in gateway/: every ``import`` of a gateway module (at the top, under ``TYPE_CHECKING`` or
inside a function) is an edge, and the graph has no cycle. A circle is how ``app`` and ``instrument`` once knew
each other; this test names any new one with its modules."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "gateway"


def module_files() -> dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports(path: Path, package: str) -> set[str]:
    """Every module name ``path`` imports (a ``from x import y`` names both ``x`` and ``x.y``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, one level up per extra dot
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = module_files()

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = {known(imported) for imported in imports(path, package)}
        graph[name] = {t for t in targets if t is not None and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_the_cycle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_type_checking_and_function_imports() -> None:
    graph = import_graph()
    assert "gateway.instrument" in graph["gateway.app"]  # a top-level import
    assert "gateway.app" in graph["gateway.demo"]
    assert "gateway.policies.loader" in graph["gateway.instrument"]  # under TYPE_CHECKING


def test_no_import_circle_in_gateway() -> None:
    assert cycles(import_graph()) == []


# What a layer may not import (the arrows of README's "Architecture in five minutes" only point down).
FORBIDDEN = {
    "gateway.faces": ("gateway.upstreams", "gateway.providers", "gateway.jobs"),
    "gateway.jobs": ("gateway.pipeline", "gateway.faces"),
    "gateway.upstreams": ("gateway.providers", "gateway.pipeline", "gateway.faces", "gateway.jobs"),
    "gateway.providers": ("gateway.pipeline", "gateway.faces", "gateway.jobs", "gateway.quota", "gateway.policies"),
    "gateway.core": ("gateway.faces", "gateway.pipeline", "gateway.jobs", "gateway.upstreams", "gateway.providers"),
}
WEB_FRAMEWORKS = ("starlette", "uvicorn", "httpx")


def back_arrows(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted(
        (source, target)
        for source, targets in graph.items()
        for layer, banned in FORBIDDEN.items()
        if source == layer or source.startswith(layer + ".")
        for target in targets
        if any(target == b or target.startswith(b + ".") for b in banned)
    )


def test_the_layers_only_import_downwards() -> None:
    assert back_arrows({"gateway.faces.x": {"gateway.upstreams.base"}}) == [
        ("gateway.faces.x", "gateway.upstreams.base")
    ]
    assert back_arrows(import_graph()) == []


def test_the_core_imports_no_web_framework() -> None:
    offenders = []
    for name, path in module_files().items():
        if name == "gateway.core" or name.startswith("gateway.core."):
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            offenders += [(name, i) for i in imports(path, package) if i.split(".")[0] in WEB_FRAMEWORKS]
    assert offenders == []
