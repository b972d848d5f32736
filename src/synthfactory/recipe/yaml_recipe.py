"""Recipes written in YAML: the same :class:`Recipe` a user can write in Python, with no code.

Loading is two passes over one parse. pydantic checks the shape (required fields, unknown
fields, types); then the builder checks the meaning (sampler arguments, Jinja templates,
JSON schemas, ``module:function`` references, built-in checks, seed files) and builds the
``Recipe``. Every problem becomes one ``RecipeError`` paragraph that names the file, the
line and the field path, e.g.::

    recipe.yaml, line 12, steps[1].model.params.temprature: unknown sampling parameter ...

Line numbers come from the composed YAML node tree: a map from key path (a tuple of
mapping keys and list indices) to the line the key or item starts on.

A ``python:`` reference is imported as it is written; the module must be importable
(installed, or on ``PYTHONPATH``). The loader never changes ``sys.path``.

The parts: :mod:`.yaml_source` reads the file, maps lines and says shape errors;
:mod:`.yaml_specs` holds the shape; :mod:`.yaml_build` checks the meaning and builds.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from synthfactory.recipe.model import Recipe
from synthfactory.recipe.yaml_build import Builder
from synthfactory.recipe.yaml_source import (
    Source,
    kind_of,
    line_map,
    parse_yaml,
    read_text,
    shape_error,
)
from synthfactory.recipe.yaml_specs import RecipeSpec


def load_yaml_recipe(path: str | Path) -> Recipe:
    """Load, validate and build the recipe in the YAML file at ``path``.

    Raises ``RecipeError`` with a one-paragraph message naming the file, the line and the
    field for anything wrong: I/O, encoding, YAML syntax, shape, and meaning.
    """
    file = str(path)
    text = read_text(Path(path), file)
    root, data = parse_yaml(text, file)
    source = Source(file, line_map(root, file))
    if not isinstance(data, dict):
        raise source.error(
            (),
            "the top level must be a mapping with at least 'name' and 'steps', "
            f"got {kind_of(data)}",
        )
    try:
        spec = RecipeSpec.model_validate(data)
    except ValidationError as err:
        raise shape_error(err, source) from None
    return Builder(source, Path(path).parent).build(spec)


__all__ = ["load_yaml_recipe"]
