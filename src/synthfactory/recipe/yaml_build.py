"""The meaning of a YAML recipe: from a well-shaped spec to a :class:`Recipe`.

:class:`Builder` checks what pydantic cannot (sampler arguments, Jinja templates, JSON
schemas, ``module:function`` references, built-in checks, seed files) and builds the recipe.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from synthfactory.errors import RecipeError, UserInputError
from synthfactory.recipe.model import (
    SAMPLING_PARAMS,
    Coverage,
    Dataset,
    DedupStep,
    JudgeStep,
    ModelStep,
    PythonStep,
    Recipe,
    SandboxStep,
    Step,
    VerificationPolicy,
    VerifyStep,
)
from synthfactory.recipe.samplers import (
    Constraint,
    choice,
    combine,
    lognormal,
    normal,
    randint,
    uniform,
    weighted,
)
from synthfactory.recipe.seed_data import personas, rows
from synthfactory.recipe.taxonomy import taxonomy
from synthfactory.recipe.templates import compile_template
from synthfactory.recipe.user_code import DOTTED, describe
from synthfactory.recipe.yaml_source import KeyPath, Source, did_you_mean, kind_of, one_line
from synthfactory.recipe.yaml_specs import JudgeSpec, ModelSpec, RecipeSpec, StepSpec
from synthfactory.verify.checks import CHECKS, build_check

_SAMPLER_KINDS = (
    "choice",
    "weighted",
    "randint",
    "uniform",
    "normal",
    "lognormal",
    "taxonomy",
    "personas",
    "rows",
    "combine",
)


class Builder:
    """Checks what pydantic cannot (references, templates, schemas) and builds the Recipe."""

    def __init__(self, source: Source, base_dir: Path) -> None:
        self.source = source
        self.base_dir = base_dir

    def build(self, spec: RecipeSpec) -> Recipe:
        samplers = {key: self._sampler(key, sampler) for key, sampler in spec.samplers.items()}
        seeds = self._seeds(spec.seeds)
        steps = tuple(self._step(index, step) for index, step in enumerate(spec.steps))
        first_line: dict[str, int] = {}
        for index, step in enumerate(spec.steps):
            at: KeyPath = ("steps", index, "name")
            if step.name in first_line:
                raise self.source.error(
                    at,
                    f"two steps are called {step.name!r} (the first is on line "
                    f"{first_line[step.name]})",
                )
            first_line[step.name] = self.source.line_of(at)
        dataset = None
        if spec.dataset is not None:
            fields = tuple(spec.dataset.fields) if spec.dataset.fields is not None else None
            dataset = Dataset(name=spec.dataset.name or spec.name, fields=fields)
        try:
            return Recipe(
                name=spec.name,
                steps=steps,
                samplers=samplers,
                seeds=seeds,
                dataset=dataset,
                version=spec.version,
                description=spec.description or "",
                policy=VerificationPolicy(
                    sample_rate=spec.policy.sample_rate,
                    sampled_tiers=tuple(spec.policy.sampled_tiers),
                    critical_field=spec.policy.critical_field,
                )
                if spec.policy is not None
                else VerificationPolicy(),
                coverage=Coverage(spec.coverage.field, spec.coverage.targets, spec.coverage.label)
                if spec.coverage is not None
                else None,
            )
        except RecipeError as err:
            # Everything the Recipe checks with a location is checked above; what is left
            # (the recipe name's spelling) is located at ``name``.
            raise self.source.error(("name",), err.message) from None

    # -- samplers and seeds

    def _sampler(
        self, key: str, spec: Mapping[str, Any], where: KeyPath | None = None
    ) -> Callable[..., Any]:
        at: KeyPath = where or ("samplers", key)
        if len(spec) != 1:
            got = ", ".join(repr(k) for k in spec) or "none"
            raise self.source.error(
                at, f"a sampler needs exactly one of {', '.join(_SAMPLER_KINDS)}; got {got}"
            )
        ((kind, args),) = spec.items()
        at = (*at, kind)
        try:
            if kind == "choice":
                if not isinstance(args, list):
                    raise ValueError("choice takes a list of values, e.g. {choice: [a, b]}")
                return choice(args)
            if kind == "weighted":
                if not isinstance(args, dict) or not all(_is_number(w) for w in args.values()):
                    raise ValueError(
                        "weighted takes a mapping of value to weight, e.g. "
                        "{weighted: {easy: 3, hard: 1}}"
                    )
                return weighted(args)
            if kind == "randint":
                low, high = _pair(args, kind, int_only=True)
                return randint(int(low), int(high))
            if kind == "uniform":
                low, high = _pair(args, kind, int_only=False)
                return uniform(float(low), float(high))
            return self._data_sampler(at, kind, args)
        except RecipeError:
            raise  # a nested sampler's problem, located already
        except (ValueError, TypeError, UserInputError) as err:
            # A bad data file (CorpusError) or an argument of the wrong type, at its line.
            raise self.source.error(at, one_line(str(err))) from None
        except KeyError:
            pass
        raise self.source.error(
            at,
            f"unknown sampler kind {str(kind)!r}{did_you_mean(str(kind), _SAMPLER_KINDS)}; "
            f"known kinds: {', '.join(_SAMPLER_KINDS)}",
        )

    def _data_sampler(self, at: KeyPath, kind: str, args: Any) -> Callable[..., Any]:
        """The samplers over distributions, trees, records and combinations."""
        if kind in ("normal", "lognormal"):
            if not isinstance(args, dict) or not {"mean", "std"} <= set(args):
                raise ValueError(f"{kind} takes {{mean: M, std: S}} and optional low, high, digits")
            unknown = set(args) - {"mean", "std", "low", "high", "digits"}
            if unknown:
                raise ValueError(f"{kind}: unknown option(s) {sorted(unknown)}")
            if not all(_is_number(args[k]) for k in args if k != "digits"):
                raise ValueError(f"{kind}: mean, std, low and high must be numbers")
            make = normal if kind == "normal" else lognormal
            bounds = {k: float(args[k]) for k in ("low", "high") if k in args}
            return make(args["mean"], args["std"], digits=args.get("digits"), **bounds)
        if kind == "taxonomy":
            if isinstance(args, str):
                return taxonomy(self.base_dir / args)
            if isinstance(args, dict) and ("file" in args or "tree" in args):
                tree = self.base_dir / _text(args, "file") if "file" in args else args["tree"]
                return taxonomy(tree, by=args.get("by", "leaf"), sep=_text(args, "sep", "/"))
            raise ValueError(
                "taxonomy takes a file name, or {tree: {...}} / {file: F} with optional by, sep"
            )
        if kind == "personas":
            if isinstance(args, str):
                return personas(self.base_dir / args)
            if isinstance(args, list):
                return personas(args)
            raise ValueError("personas takes a list of mappings or a .jsonl/.parquet file name")
        if kind == "rows":
            if isinstance(args, str):
                return rows(self.base_dir / args)
            if isinstance(args, dict) and "path" in args:
                fields = args.get("fields")
                if fields is not None and not (
                    isinstance(fields, list) and all(isinstance(f, str) for f in fields)
                ):
                    raise ValueError(f"rows: fields takes a list of names, got {kind_of(fields)}")
                return rows(self.base_dir / _text(args, "path"), fields=fields)
            raise ValueError("rows takes a file name, or {path: F, fields: [...]}")
        if kind == "combine":
            if not isinstance(args, dict) or not isinstance(args.get("fields"), dict):
                raise ValueError(
                    "combine takes {fields: {name: sampler, ...}, where: [expression, ...]}"
                )
            fields = {
                name: self._sampler(name, sub, (*at, "fields", name))
                if isinstance(sub, dict)
                else self._not_a_sampler((*at, "fields", name))
                for name, sub in args["fields"].items()
            }
            where = args.get("where") or []
            if not isinstance(where, list) or not all(isinstance(w, str) for w in where):
                raise ValueError("combine: where takes a list of expressions")
            return combine(
                fields,
                where=[Constraint(w) for w in where],
                max_tries=int(args.get("max_tries", 1000)),
            )
        raise KeyError(kind)

    def _not_a_sampler(self, at: KeyPath) -> Callable[..., Any]:
        raise self.source.error(at, "each combined field is a sampler, e.g. {choice: [a, b]}")

    def _seeds(self, seeds: Any) -> tuple[dict[str, Any], ...]:
        if seeds is None:
            return ()
        if isinstance(seeds, str):
            return self._seed_file(seeds)
        if not isinstance(seeds, list):
            raise self.source.error(
                ("seeds",),
                "seeds must be a list of mappings or the path of a .jsonl file, "
                f"got {kind_of(seeds)}",
            )
        for index, seed in enumerate(seeds):
            if not isinstance(seed, dict) or not all(isinstance(k, str) for k in seed):
                raise self.source.error(
                    ("seeds", index),
                    f"each seed must be a mapping of field names to values, got {kind_of(seed)}",
                )
        return tuple(seeds)

    def _seed_file(self, name: str) -> tuple[dict[str, Any], ...]:
        at: KeyPath = ("seeds",)
        target = self.base_dir / name
        try:
            raw = target.read_bytes()
        except FileNotFoundError:
            raise self.source.error(
                at,
                f"seeds file {str(target)!r} not found (a seeds path is relative to the "
                "recipe file)",
            ) from None
        except OSError as err:
            raise self.source.error(
                at, f"cannot read seeds file {str(target)!r}: {err.strerror}"
            ) from None
        named_by = f"the seeds file of {self.source.file}, line {self.source.line_of(at)}"
        records: list[dict[str, Any]] = []
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            problem = None
            try:
                record = json.loads(line.decode("utf-8-sig" if number == 1 else "utf-8"))
            except UnicodeDecodeError:
                problem = "the line is not UTF-8 text"
            except json.JSONDecodeError as err:
                problem = f"not valid JSON: {err.msg} (column {err.colno})"
            except RecursionError:
                problem = "the JSON is nested too deeply to read"
            else:
                if not isinstance(record, dict):
                    problem = f"expected a JSON object, got {kind_of(record)}"
            if problem is not None:
                raise RecipeError(
                    f"{target}, line {number}: {problem}; in {named_by}",
                    file=str(target),
                    line=number,
                )
            records.append(record)
        if not records:
            raise self.source.error(at, f"seeds file {str(target)!r} has no records")
        return tuple(records)

    # -- steps

    def _step(self, index: int, spec: StepSpec) -> Step:
        at: KeyPath = ("steps", index)
        if spec.model is not None:
            return self._model_step(at, spec, spec.model)
        if spec.python is not None:
            return PythonStep(spec.name, self._resolve((*at, "python"), spec.python))
        if spec.judge is not None:
            return self._judge_step(at, spec, spec.judge)
        if spec.sandbox is not None:
            try:
                compile_template(spec.sandbox.code)
            except ValueError as err:
                raise self.source.error((*at, "sandbox", "code"), f"Jinja {err}") from None
            return SandboxStep(
                spec.name, spec.sandbox.code, spec.sandbox.timeout_s, spec.tier or "sandbox"
            )
        if spec.dedup is not None:
            d = spec.dedup
            return DedupStep(
                spec.name,
                d.field,
                d.method,
                d.threshold,
                num_perm=d.num_perm,
                shingle=d.shingle,
                embedder=d.embedder,
                patience=d.patience,
                tier=spec.tier or "dedup",
            )
        return self._verify_step(at, spec, spec.verify or {})

    def _judge_step(self, at: KeyPath, spec: StepSpec, judge: JudgeSpec) -> JudgeStep:
        at = (*at, "judge")
        self._check_params((*at, "params"), judge.params)
        for label, text in (("rubric", judge.rubric), ("system", judge.system)):
            if text is not None:
                try:
                    compile_template(text)
                except ValueError as err:
                    raise self.source.error((*at, label), f"Jinja {err}") from None
        extra: dict[str, Any] = {}
        if judge.system is not None:
            extra["system"] = judge.system
        if judge.params:
            extra["params"] = dict(judge.params)
        return JudgeStep(
            name=spec.name,
            rubric=judge.rubric,
            role=judge.role,
            threshold=judge.threshold,
            uncertain_margin=judge.uncertain_margin,
            max_attempts=judge.max_attempts,
            tier=spec.tier or "judge",
            **extra,
        )

    def _check_params(self, at: KeyPath, params: Mapping[str, Any]) -> None:
        for key in params:
            if key not in SAMPLING_PARAMS:
                raise self.source.error(
                    (*at, key),
                    f"unknown sampling parameter {key!r}{did_you_mean(key, SAMPLING_PARAMS)}; "
                    f"known: {', '.join(sorted(SAMPLING_PARAMS))}",
                )

    def _model_step(self, at: KeyPath, spec: StepSpec, model: ModelSpec) -> ModelStep:
        at = (*at, "model")
        self._check_params((*at, "params"), model.params)
        for label, text in (("prompt", model.prompt), ("system", model.system)):
            if text is not None:
                try:
                    compile_template(text)
                except ValueError as err:
                    raise self.source.error((*at, label), f"Jinja {err}") from None
        if model.json_schema is not None:
            import jsonschema

            try:
                jsonschema.Draft202012Validator.check_schema(model.json_schema)
            except jsonschema.SchemaError as err:
                raise self.source.error(
                    (*at, "schema", *err.path), f"invalid JSON schema: {err.message}"
                ) from None
        parse = None
        if model.parse is not None:
            if model.json_schema is not None:
                raise self.source.error(
                    (*at, "parse"), "give a schema or a parse function, not both"
                )
            parse = self._resolve((*at, "parse"), model.parse)
        return ModelStep(
            name=spec.name,
            prompt=model.prompt,
            role=model.role,
            system=model.system,
            schema=model.json_schema,
            output=spec.output,
            params=dict(model.params),
            max_attempts=model.max_attempts,
            parse=parse,
        )

    def _verify_step(self, at: KeyPath, spec: StepSpec, verify: Mapping[Any, Any]) -> VerifyStep:
        at = (*at, "verify")
        tier = spec.tier or "cheap"
        if "python" in verify:
            others = [key for key in verify if key != "python"]
            if others:
                raise self.source.error(
                    (*at, others[0]), "a {python: module:function} verifier takes no other options"
                )
            return VerifyStep(spec.name, self._resolve((*at, "python"), verify["python"]), tier)
        if "check" not in verify:
            raise self.source.error(
                at,
                "a verifier needs 'check' (one of: "
                f"{', '.join(sorted(CHECKS))}) or 'python: module:function'",
            )
        name = verify["check"]
        if not isinstance(name, str):
            raise self.source.error(
                (*at, "check"), f"expected the name of a check, got {kind_of(name)}"
            )
        options = {key: value for key, value in verify.items() if key != "check"}
        try:
            fn = build_check(name, options)
        except RecipeError as err:
            option = err.fields.get("option")
            where = (*at, option) if isinstance(option, str) else at
            message = err.message
            if option == "check":
                message += did_you_mean(name, CHECKS)
            raise self.source.error(where, message) from None
        return VerifyStep(spec.name, fn, tier)

    def _resolve(self, at: KeyPath, ref: object) -> Callable[..., Any]:
        """Import a ``module:function`` reference (the attribute may be dotted)."""
        if not isinstance(ref, str):
            raise self.source.error(at, f"expected a 'module:function' string, got {kind_of(ref)}")
        module_name, sep, attr = ref.partition(":")
        if not sep or not DOTTED.fullmatch(module_name) or not DOTTED.fullmatch(attr):
            raise self.source.error(
                at, f"{ref!r} is not a 'module:function' reference such as 'mypackage.steps:tidy'"
            )
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            raise self.source.error(
                at,
                f"cannot import module {module_name!r} for {ref!r}: {err} (is it installed "
                "or on PYTHONPATH?)",
            ) from None
        except (Exception, SystemExit) as err:
            # Importing runs the user's module; whatever it raises is reported, not shown
            # as a traceback.
            raise self.source.error(
                at, f"importing module {module_name!r} for {ref!r}: {describe(err)}"
            ) from None
        for part in attr.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise self.source.error(
                    at, f"module {module_name!r} has no attribute {attr!r}"
                ) from None
        if not callable(obj):
            raise self.source.error(
                at, f"{ref!r} is a {type(obj).__name__}, not a function or other callable"
            )
        resolved: Callable[..., Any] = obj
        return resolved


def _text(args: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = args.get(key, default)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} takes a non-empty string, got {kind_of(value)}")
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _pair(args: object, kind: str, *, int_only: bool) -> tuple[float, float]:
    check = (lambda v: isinstance(v, int) and not isinstance(v, bool)) if int_only else _is_number
    if not isinstance(args, list) or len(args) != 2 or not all(check(v) for v in args):
        what = "whole numbers" if int_only else "numbers"
        raise ValueError(f"{kind} takes a list of two {what} [low, high], got {kind_of(args)}")
    return args[0], args[1]


__all__ = ["Builder"]
