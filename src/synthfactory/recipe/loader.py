"""Find a recipe from what a user typed: a built-in name, a .py or .yaml path, or ``module:attr``.

The result carries a :class:`RecipeSource`, a small picklable reference that worker
processes (local pool or Ray actors) use to load the very same recipe themselves.
"""

from __future__ import annotations

import hashlib
import importlib.util
import pickle
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from synthfactory.errors import RecipeError
from synthfactory.recipe.model import Recipe
from synthfactory.recipe.user_code import failure, import_module

#: Built-in example recipes, by name. The one place names are resolved.
BUILTIN_RECIPES = MappingProxyType(
    {
        "hello": "synthfactory.examples.hello:recipe",
        "pyfunc": "synthfactory.examples.pyfunc:recipe",
        "sql": "synthfactory.examples.sql:recipe",
        "quiz": "examples/quiz.yaml",
    }
)


@dataclass(frozen=True)
class RecipeSource:
    """How to load a recipe again, in another process."""

    kind: Literal["builtin", "path", "module", "pickle"]
    ref: str
    blob: bytes | None = None

    def describe(self) -> dict[str, Any]:
        """A JSON-ready form for the ledger (a pickled recipe is named, not stored)."""
        return {"kind": self.kind, "ref": self.ref}


def resolve_recipe(spec: str | Path | Recipe) -> tuple[Recipe, RecipeSource]:
    """Load the recipe ``spec`` names and return it with its source."""
    if isinstance(spec, Recipe):
        try:
            blob = pickle.dumps(spec)
        except (pickle.PicklingError, AttributeError, TypeError) as err:
            raise RecipeError(
                f"recipe {spec.name!r} cannot be sent to worker processes ({err}); define its "
                "step functions at module level, or load it from a file"
            ) from None
        source = RecipeSource("pickle", spec.name, blob)
        return spec, source
    text = str(spec)
    if text in BUILTIN_RECIPES:
        source = RecipeSource("builtin", text)
    elif text.endswith((".py", ".yaml", ".yml")):
        try:
            path = Path(text).expanduser().resolve()
        except (RuntimeError, OSError, ValueError) as err:  # ~unknown_user, a NUL byte
            raise RecipeError(f"recipe file {text}: cannot resolve the path ({err})") from None
        if path.is_dir():
            raise RecipeError(f"recipe file {text} is a directory")
        if not path.is_file():
            raise RecipeError(f"recipe file {text} does not exist")
        source = RecipeSource("path", str(path))
    elif ":" in text:
        source = RecipeSource("module", text)
    else:
        raise RecipeError(
            f"unknown recipe {text!r}: give a .py or .yaml path, a module:attribute, "
            f"or a built-in name ({', '.join(sorted(BUILTIN_RECIPES))})"
        )
    return load_recipe(source), source


def load_recipe(source: RecipeSource) -> Recipe:
    """Load the recipe a :class:`RecipeSource` points at."""
    return _load_cached(source)


@lru_cache(maxsize=16)
def _load_cached(source: RecipeSource) -> Recipe:
    # Workers load the same recipe for every batch; loading once per process is the point.
    if source.kind == "pickle":
        assert source.blob is not None
        recipe = pickle.loads(source.blob)
    elif source.kind == "builtin" and BUILTIN_RECIPES[source.ref].endswith(".yaml"):
        from synthfactory.recipe.yaml_recipe import load_yaml_recipe

        # A built-in YAML recipe ships inside the package, beside the files it names.
        recipe = load_yaml_recipe(Path(__file__).parents[1] / BUILTIN_RECIPES[source.ref])
    elif source.kind == "builtin":
        recipe = _from_module_ref(BUILTIN_RECIPES[source.ref])
    elif source.kind == "module":
        recipe = _from_module_ref(source.ref)
    elif source.ref.endswith((".yaml", ".yml")):
        from synthfactory.recipe.yaml_recipe import load_yaml_recipe

        recipe = load_yaml_recipe(source.ref)
    else:
        recipe = _from_python_file(Path(source.ref))
    if not isinstance(recipe, Recipe):
        raise RecipeError(f"{source.ref} did not give a Recipe (got {type(recipe).__name__})")
    return recipe


def _from_module_ref(ref: str) -> Any:
    module_name, _, attr = ref.partition(":")
    if attr and not attr.isidentifier():
        raise RecipeError(f"recipe {ref!r}: {attr!r} is not an attribute name")
    module = import_module(module_name, ref)
    return _recipe_from_namespace(vars(module), repr(ref), attr or "recipe")


def _from_python_file(path: Path) -> Any:
    # A stable module name per file, so pickled references to its functions resolve in the
    # same process, and two recipe files never collide.
    name = "synthfactory_recipe_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RecipeError(f"cannot load recipe file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as err:
        # Anything a user's file does at import, exit() included, is said, not shown.
        sys.modules.pop(name, None)
        raise failure(err, f"recipe file {path}", (str(path),)) from None
    return _recipe_from_namespace(vars(module), str(path), "recipe")


def _recipe_from_namespace(namespace: dict[str, Any], where: str, attr: str) -> Any:
    if attr in namespace:
        return namespace[attr]
    build = namespace.get("build_recipe")
    if callable(build):
        try:
            return build()
        except (Exception, SystemExit) as err:
            raise failure(err, f"{where}: build_recipe()") from None
    raise RecipeError(f"{where} defines neither `{attr}` (a Recipe) nor `build_recipe()`")
