"""The packages show the layers, and imports only go down (docs/design.md, "Layers").

Read from the source (``ast``), not from ``sys.modules``: an import anywhere in a module —
at the top, inside a function, under ``TYPE_CHECKING`` — counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: The library's floors, lowest first; a module may import its own floor and those below.
LAYERS: dict[str, int] = {
    "errors": 0,
    "params": 0,
    "envelope": 0,
    "identity": 0,
    "durable": 0,
    "randomness": 0,
    "sealed_record": 0,
    "hazmat": 1,
    "scoring": 2,
    "threshold": 3,
    "protocol": 4,
    "transparency": 5,
    "trustee": 6,
    "verify": 6,
    "local": 7,
    "__init__": 7,
}

#: What the ``[server]`` and ``[demo]`` extras add: never imported by the library or the CLI.
WEB_STACK = (
    "flask",
    "sqlalchemy",
    "alembic",
    "rq",
    "redis",
    "waitress",
    "marshmallow",
    "apispec",
    "psycopg",
    "sklearn",
)


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}:{node.lineno}: relative import")
            found.append((node.lineno, node.module or ""))
    return found


def _floor(path: Path) -> int:
    top = path.relative_to(ROOT / "cryptoscore").parts[0].removesuffix(".py")
    return LAYERS[top]


def test_every_library_module_has_a_floor() -> None:
    for path in _modules("cryptoscore"):
        _floor(path)  # KeyError names a module outside the layers


def test_library_imports_only_go_down() -> None:
    upward = []
    for path in _modules("cryptoscore"):
        floor = _floor(path)
        for line, name in _imports(path):
            parts = name.split(".")
            if parts[0] != "cryptoscore":
                continue
            if len(parts) == 1:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports the recipe layer")
                continue
            if LAYERS[parts[1]] > floor:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert upward == []


@pytest.mark.parametrize("package", ["cryptoscore", "cryptoscore_cli"])
def test_library_and_command_line_hold_no_web_stack(package: str) -> None:
    """A trustee or participant installs the library and the command line only."""
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _modules(package)
        for line, name in _imports(path)
        if name.split(".")[0] in (*WEB_STACK, "cryptoscore_server")
        and not (path.name == "demo.py" and name.startswith("sklearn"))
    ]
    assert found == []


def test_the_server_holds_no_cryptography_of_its_own() -> None:
    """The service calls the library; it never reaches below the protocol into ring
    arithmetic or the SEAL bridge."""
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _modules("cryptoscore_server")
        for line, name in _imports(path)
        if name.startswith("cryptoscore.hazmat")
    ]
    assert found == []
