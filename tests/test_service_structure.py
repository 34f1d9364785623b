"""The service's shape: no import circle among its modules (counting imports inside functions),
no SQL in the route handlers, and the job-kind table as the one place that knows the kinds."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import brushwork.service

HERE = Path(brushwork.service.__file__).parent


def service_imports(source: str) -> dict[str, set[str]]:
    """module -> the service modules it imports (at any depth of the file: functions too)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(Path(source).glob("*.py")):
        graph[path.stem] = imports_of(path.read_text(), {p.stem for p in Path(source).glob("*.py")})
    return graph


def imports_of(code: str, modules: set[str]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:              # from .x import y / from . import x
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(a.name for a in node.names)
            elif node.level == 0 and (node.module or "").startswith("brushwork.service."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[2] for a in node.names if a.name.startswith("brushwork.service."))
    return found & modules


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as a path that ends where it starts, or None."""
    state: dict[str, int] = {}      # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_cycle_finder_sees_function_level_imports():
    mods = {"jobs", "queue", "notify"}
    graph = {"jobs": imports_of("from .queue import make_celery\n", mods),
             "queue": imports_of("def task():\n    from .jobs import run_job\n", mods),
             "notify": imports_of("import brushwork.service.jobs\n", mods)}
    assert cycle(graph) == ["jobs", "queue", "jobs"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_in_the_service():
    graph = service_imports(HERE.as_posix())
    assert {"jobs", "queue", "notify", "api", "pages", "kinds"} <= set(graph)
    assert cycle(graph) is None, " -> ".join(cycle(graph))
    assert "jobs" not in graph["queue"] and "notify" not in graph["queue"]   # the wiring is injected


@pytest.mark.parametrize("module", ["api", "pages"])
def test_route_handlers_hold_no_sql(module):
    tree = ast.parse((HERE / f"{module}.py").read_text())
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not [n for n in names if n.split(".")[0] == "sqlalchemy"]
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not attrs & {"Session", "session", "execute", "scalars", "scalar", "__table__"}


def test_every_kind_is_a_row():
    from brushwork.service import kinds
    from brushwork.translate.run import shipped_models
    names = [k.name for k in kinds.KINDS]
    assert names == ["image-fast", "image-best", "video", "qr", "fashion-fast", "fashion-best", "photo-fast", "photo-best",
                     "audio", *(f"translate-{n}" for n in shipped_models())] and \
        len(set(names)) == len(names)
    assert kinds.select("image").name == "image-fast" and kinds.select("image", "best").name == "image-best"
    assert kinds.select("video").main.field == "video"
    assert [u.field for u in kinds.select("audio").uploads] == ["content", "style"]
    for row in kinds.KINDS:
        assert row.queue in ("fast", "slow") and row.uploads[0].required and callable(row.producer)
    # nothing outside the table branches on a kind or a quality
    for path in HERE.glob("*.py"):
        if path.stem == "kinds":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                kinds_named = [s for s in sides if isinstance(s, ast.Constant) and s.value in ("image", "video", "audio", "best")]
                fields = [s for s in sides if isinstance(s, ast.Attribute) and s.attr in ("kind", "quality")]
                assert not kinds_named and not fields, f"{path.name}: {ast.unparse(node)}"
