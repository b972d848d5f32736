"""Every import points down the layers (DESIGN.md): a module imports only modules of its
own layer or of layers below it, whether the import is at the top, inside a function, or
only for type checking.

The order is declared here, bottom first, with the reason each layer sits where it does.
A module belongs to the layer of the longest prefix that names it (so ``verify.qa`` can
sit above the rest of ``verify``); a new package must be given a layer before it passes.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import synthfactory

SRC = Path(synthfactory.__file__).resolve().parent

LAYERS: list[tuple[str, tuple[str, ...], str]] = [
    (
        "foundation",
        ("errors", "verdict", "seeds", "version"),
        "what everything shares: the error tree, a verifier's answer, seed derivation, the "
        "version; they import nothing else of synthfactory",
    ),
    (
        "backends",
        (
            "models",
            "cache",
            "sandbox",
            "dedup",
            "store",
            "workspace",
            "sqlite_files",
            "provenance",
            "local",
            "testing",
        ),
        "one concept each, knowing nothing of recipes or runs: model clients (and the "
        "response cache keyed on their requests), the sandbox, dedup indexes, the dataset "
        "store, the workspace layout, the audit log, the embedded model, the public fakes",
    ),
    (
        "steps",
        ("recipe.steps",),
        "the step vocabulary (Payload, ModelStep, PythonStep, DedupStep) that verifiers "
        "are written against and recipes are made of",
    ),
    (
        "verify",
        ("verify",),
        "verifier steps, checks, tiers, policy and canaries: what a recipe declares to "
        "decide 'verified'; they work on payloads, not on recipes",
    ),
    (
        "recipe",
        ("recipe",),
        "a recipe composes steps and verifiers, and is loaded from Python or YAML",
    ),
    (
        "ledger",
        ("ledger", "ledger_records", "verify.quality"),
        "run state: runs, items, attempts, canary and qa checks, as the recipe defines them; "
        "and a run's measured quality, which is read straight from its qa checks",
    ),
    (
        "runtime",
        ("runtime",),
        "drives runs: executors, the driver, the journal (ledger + audit log), the store",
    ),
    (
        "reports",
        ("reports", "verify.qa", "verify.qa_verifiers", "provenance.exports", "doctor"),
        "read what runs left in a workspace (ledger, store, audit log) and report on it: "
        "status and export, acceptance sampling (qa), in-toto/OpenLineage/Croissant exports, "
        "the workspace's health check and its repairs (doctor)",
    ),
    (
        "faces",
        (
            "cli",
            "cli_endpoints",
            "cli_exits",
            "cli_tables",
            "dedup.cli",
            "sandbox.cli",
            "provenance.cli",
            "doctor.cli",
            "examples",
            "",
        ),
        "what users run or import: the command line (and each package's subcommands), the "
        "built-in example recipes, and the package root, which names the public API",
    ),
]
RANK = {
    ("synthfactory." + prefix).rstrip("."): rank
    for rank, (_, prefixes, _) in enumerate(LAYERS)
    for prefix in prefixes
}


@functools.cache
def _layer(module: str) -> int:
    """The rank of ``module``'s layer: its longest declared prefix (the root only as itself)."""
    best = ""
    for prefix in RANK:
        if module == prefix or (prefix != "synthfactory" and module.startswith(prefix + ".")):
            best = max(best, prefix, key=len)
    assert best, f"{module} is in no declared layer: add it to LAYERS"
    return RANK[best]


def _module_name(path: Path) -> str:
    parts = ("synthfactory", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    """Every synthfactory module ``path`` imports, anywhere in it, with its line."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            # `from pkg import sub` imports the submodule when there is one.
            subs = [f"{target}.{alias.name}" for alias in node.names]
            found += [(node.lineno, sub if _is_module(sub) else target) for sub in subs]
    return [(line, name) for line, name in found if name.split(".")[0] == "synthfactory"]


@functools.cache
def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    # A package may be a namespace package (``recipe`` has no ``__init__.py``).
    return (SRC / relative).with_suffix(".py").is_file() or (SRC / relative).is_dir()


def _upward_imports() -> list[str]:
    upward = []
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        rank = _layer(module)
        for line, target in _imports(path, module):
            if _layer(target) > rank:
                upward.append(
                    f"{path.relative_to(SRC.parent)}:{line}: {module} "
                    f"({LAYERS[rank][0]}) imports {target} ({LAYERS[_layer(target)][0]})"
                )
    return upward


def test_every_import_points_down_the_layers() -> None:
    assert _upward_imports() == []


def test_every_declared_prefix_names_a_module() -> None:
    missing = [prefix for prefix in RANK if not _is_module(prefix)]
    assert missing == []


def test_an_upward_import_is_found_even_inside_a_function(tmp_path: Path) -> None:
    source = "def f():\n    from synthfactory.runtime.runs import resume_run\n"
    path = tmp_path / "x.py"
    path.write_text(source)
    ((_, target),) = _imports(path, "synthfactory.models.x")
    assert _layer(target) > _layer("synthfactory.models.x")
