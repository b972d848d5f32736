"""Taxonomy trees: sample a path from a tree of categories, and count coverage per leaf.

A tree is nested mappings and lists, as written in YAML::

    science:
      physics: [optics, mechanics]
      biology: {genetics: null, ecology: null}
    arts: [painting, music]

Leaves are the category paths (``"science/physics/optics"``). Drawing picks a leaf
uniformly by default, so every leaf is equally likely however deep or bushy its branch;
``by="level"`` picks a child uniformly at each level instead (shallow branches then get
more items each). Weights at a node (``{"science": {"_weight": 3, ...}}``) bias either mode.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

_WEIGHT = "_weight"


@dataclass(frozen=True)
class Taxonomy:
    """A sampler over a category tree's leaves; draws the leaf's path, ``sep``-joined."""

    leaves: tuple[str, ...]
    weights: tuple[float, ...]
    by: Literal["leaf", "level"] = "leaf"
    sep: str = "/"
    # The tree itself, for ``by="level"`` and the digest; not compared (leaves say it all).
    tree: Any = field(default=None, compare=False, repr=False)

    def __call__(self, rng: random.Random) -> str:
        if self.by == "leaf":
            return rng.choices(self.leaves, weights=self.weights, k=1)[0]
        node, path = self.tree, list[str]()
        while True:
            children = _children(node)
            if not children:
                return self.sep.join(path)
            names = [name for name, _ in children]
            weights = [_weight_of(child) for _, child in children]
            pick = rng.choices(range(len(names)), weights=weights, k=1)[0]
            path.append(names[pick])
            node = children[pick][1]

    def categories(self) -> tuple[str, ...]:
        """Every leaf path (what coverage targets count)."""
        return self.leaves

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for the recipe digest."""
        return {"taxonomy": {"tree": self.tree, "by": self.by, "sep": self.sep}}


def taxonomy(
    tree: Mapping[str, Any] | list[Any] | str | Path,
    *,
    by: Literal["leaf", "level"] = "leaf",
    sep: str = "/",
) -> Taxonomy:
    """A :class:`Taxonomy` sampler from a nested tree, or from a YAML file holding one."""
    if by not in ("leaf", "level"):
        raise ValueError(f"taxonomy(): by must be 'leaf' or 'level', not {by!r}")
    if not isinstance(tree, str | Path):
        return _build(tree, by, sep)
    path = Path(tree)
    try:
        return _build(load_tree(path), by, sep)
    except ValueError as err:
        # Say which file: a recipe may name several.
        text = str(err)
        raise ValueError(
            text if str(path) in text else f"taxonomy file {str(path)!r}: {text}"
        ) from None


def _build(tree: Any, by: Literal["leaf", "level"], sep: str) -> Taxonomy:
    leaves: list[str] = []
    weights: list[float] = []
    _walk(tree, [], 1.0, out=(leaves, weights), sep=sep)
    if not leaves:
        raise ValueError("taxonomy(): the tree has no leaves")
    if len(set(leaves)) != len(leaves):
        dupes = sorted({leaf for leaf in leaves if leaves.count(leaf) > 1})
        raise ValueError(f"taxonomy(): leaf path(s) {dupes[:5]} appear more than once")
    return Taxonomy(tuple(leaves), tuple(weights), by, sep, tree)


def load_tree(path: Path) -> Any:
    """Read a taxonomy tree from a YAML (or JSON) file."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"cannot read taxonomy file {str(path)!r}: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ValueError(
            f"taxonomy file {str(path)!r} is not UTF-8 text (byte at offset {err.start})"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"taxonomy file {str(path)!r} is not valid YAML: {err}") from None
    except RecursionError:
        raise ValueError(f"taxonomy file {str(path)!r} is nested too deeply to read") from None


def _children(node: Any) -> list[tuple[str, Any]]:
    if isinstance(node, Mapping):
        return [(str(k), v) for k, v in node.items() if k != _WEIGHT]
    if isinstance(node, list):
        out: list[tuple[str, Any]] = []
        for entry in node:
            if isinstance(entry, Mapping):
                out.extend(_children(entry))
            else:
                out.append((str(entry), None))
        return out
    return []


def _weight_of(node: Any) -> float:
    if isinstance(node, Mapping) and _WEIGHT in node:
        weight = node[_WEIGHT]
        if not isinstance(weight, int | float) or isinstance(weight, bool):
            raise ValueError(f"taxonomy(): a {_WEIGHT} must be a number, got {weight!r:.40}")
        return float(weight)
    return 1.0


def _walk(
    node: Any,
    path: list[str],
    weight: float,
    *,
    out: tuple[list[str], list[float]],
    sep: str,
) -> None:
    leaves, weights = out
    if node is not None and not isinstance(node, Mapping | list):
        raise ValueError(
            f"taxonomy(): {sep.join(path) or 'the root'} holds {type(node).__name__} "
            f"{node!r}; a node is a mapping, a list, or empty"
        )
    children = _children(node)
    if not children:
        if not path:
            return
        leaves.append(sep.join(path))
        weights.append(weight)
        return
    for name, child in children:
        if sep in name:
            raise ValueError(f"taxonomy(): category name {name!r} contains the separator {sep!r}")
        child_weight = _weight_of(child)
        if child_weight < 0:
            raise ValueError(f"taxonomy(): {name!r} has a negative weight")
        _walk(child, [*path, name], weight * child_weight, out=out, sep=sep)


__all__ = ["Taxonomy", "load_tree", "taxonomy"]
