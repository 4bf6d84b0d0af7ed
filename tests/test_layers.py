"""The package's layers, enforced: every import (lazy ones inside functions included) points
down or stays in its own layer. From the bottom: the shared core (mapper.core, errors,
markup), the language (text to a checked plan), the compiler (a checked plan to Python),
the runtime (Ruleset, load, the compile cache, what a gateway imports), the products
(review tools, Okta, whole exports, sync) and the command line on top."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mapper"

#: Each layer's modules, bottom first (a module belongs to the first prefix it starts with).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("mapper.core", "mapper.errors", "mapper.markup")),
    ("language", ("mapper.language",)),
    ("compiler", ("mapper.compiler",)),
    ("runtime", ("mapper.runtime",)),
    ("command line", ("mapper.cli",)),
    ("products", ("mapper.tools", "mapper.okta", "mapper.sync", "mapper.probe", "mapper.serve")),
]
ORDER = ["core", "language", "compiler", "runtime", "products", "command line"]


def _layer(module: str) -> str | None:
    for name, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name
    return None  # mapper/__init__.py: the public API, above everything it re-exports lazily


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every mapper module PATH imports at run time, anywhere in it (in functions too), with
    the line; imports for type checkers only (``if TYPE_CHECKING:``) create no dependency."""
    found = []
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            node.body = []  # ast.walk has not entered it yet
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("mapper")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mapper"):
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def test_every_import_points_down() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = _layer(_module_name(path))
        if here is None:
            continue
        for line, imported in _imports(path):
            # "from mapper.x import y": y may be a module or a name; the longest known prefix decides.
            there = _layer(imported) or _layer(imported.rsplit(".", 1)[0])
            if there is not None and ORDER.index(there) > ORDER.index(here):
                upward.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}: {here} imports {imported} ({there})"
                )
    assert upward == []


def test_rendering_from_the_cache_imports_no_parser_http_client_or_pydantic() -> None:
    code = (
        "import sys, mapper\n"
        "mapper.load('okta-default')\n"  # the second load in a process: from the compile cache
        "r = mapper.load('okta-default')\n"
        "r.render({'login': 'a@example.com'})\n"
        "heavy = [m for m in ('lark', 'httpx2', 'pydantic', 'scim2_client', 'scim2_models') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    warm = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert again.stdout.strip() == "", (warm.stdout, again.stdout)


def test_the_readme_diagram_draws_the_imports_there_are() -> None:
    """The README's Mermaid diagram of the layers: one arrow per package that imports
    another, no more and no fewer (mapper/__init__.py re-exports lazily and is left out)."""
    import re

    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```mermaid layers\n(.*?)```", readme, re.S)
    assert block is not None, "the README has no layers diagram"
    drawn = set(re.findall(r"^\s*(\w+) --> (\w+)\s*$", block.group(1), re.M))

    def package(module: str) -> str | None:
        parts = module.split(".")
        if len(parts) < 2 or parts[1] == "__version__":
            return None
        return "core" if parts[1] in ("errors", "markup") else parts[1]

    found = set()
    for path in PACKAGE.rglob("*.py"):
        here = package(_module_name(path))
        for _, imported in _imports(path):
            there = package(imported)
            if here and there and here != there:
                found.add((here, there))
    assert drawn == found
