"""The located-error cases of the YAML recipe tests: id -> (recipe text, line, field,
fragments the message must contain)."""

from __future__ import annotations

from typing import Any

from synthfactory.verify.checks import CHECKS

LOCATED: dict[str, Any] = {
    "missing top-level field": (
        """\
        steps:
          - name: w
            model: {prompt: hi}
        """,
        1,
        "name",
        ["missing required field 'name'"],
    ),
    "missing nested field": (
        """\
        name: r
        steps:
          - name: w
            model:
              role: writer
        """,
        4,
        "steps[0].model.prompt",
        ["missing required field 'prompt'"],
    ),
    "unknown top-level field": (
        """\
        name: r
        stpes:
          - name: w
            model: {prompt: hi}
        """,
        2,
        "stpes",
        ["unknown field 'stpes'", "did you mean 'steps'?", "missing required field 'steps'"],
    ),
    "unknown nested field": (
        """\
        name: r
        steps:
          - name: w
            model:
              prompt: hi
              temperature: 0.2
        """,
        6,
        "steps[0].model.temperature",
        ["unknown field 'temperature'", "allowed fields: prompt, role, system, schema"],
    ),
    "wrong type": (
        """\
        name: r
        steps:
          - name: w
            model:
              prompt: hi
              max_attempts: three
        """,
        6,
        "steps[0].model.max_attempts",
        ["expected a whole number", "'three'"],
    ),
    "steps not a list": (
        """\
        name: r
        steps:
          name: w
        """,
        2,
        "steps",
        ["expected a list"],
    ),
    "empty steps": (
        """\
        name: r
        steps: []
        """,
        2,
        "steps",
        ["at least 1 item"],
    ),
    "max_attempts below one": (
        """\
        name: r
        steps:
          - name: w
            model: {prompt: hi, max_attempts: 0}
        """,
        4,
        "steps[0].model.max_attempts",
        ["greater than or equal to 1"],
    ),
    "step with no kind": (
        """\
        name: r
        steps:
          - name: w
            model: {prompt: hi}
          - name: nothing
        """,
        5,
        "steps[1]",
        [
            "exactly one of 'model', 'python', 'verify', 'judge', 'sandbox' or 'dedup'",
            "none of them",
        ],
    ),
    "step with two kinds": (
        """\
        name: r
        steps:
          - name: w
            model: {prompt: hi}
            python: json:dumps
        """,
        3,
        "steps[0]",
        ["exactly one of", "both 'model' and 'python'"],
    ),
    "output on a python step": (
        """\
        name: r
        steps:
          - name: w
            python: json:dumps
            output: x
        """,
        3,
        "steps[0]",
        ["'output' applies only to model steps"],
    ),
    "unknown sampling parameter": (
        """\
        name: r
        steps:
          - name: w
            model:
              prompt: hi
              params:
                temprature: 0.7
        """,
        7,
        "steps[0].model.params.temprature",
        ["unknown sampling parameter 'temprature'", "did you mean 'temperature'?", "top_p"],
    ),
    "unknown sampler kind": (
        """\
        name: r
        samplers:
          topic: {choise: [a, b]}
        steps: [{name: w, model: {prompt: hi}}]
        """,
        3,
        "samplers.topic.choise",
        ["unknown sampler kind 'choise'", "did you mean 'choice'?", "randint"],
    ),
    "sampler with two kinds": (
        """\
        name: r
        samplers:
          topic:
            choice: [a]
            uniform: [0, 1]
        steps: [{name: w, model: {prompt: hi}}]
        """,
        3,
        "samplers.topic",
        ["exactly one of choice, weighted, randint, uniform"],
    ),
    "bad sampler arguments": (
        """\
        name: r
        samplers:
          n: {randint: [5, 1]}
        steps: [{name: w, model: {prompt: hi}}]
        """,
        3,
        "samplers.n.randint",
        ["low is above high"],
    ),
    "sampler arguments of the wrong type": (
        """\
        name: r
        samplers:
          n:
            randint: [1, 2.5]
        steps: [{name: w, model: {prompt: hi}}]
        """,
        4,
        "samplers.n.randint",
        ["two whole numbers"],
    ),
    "empty choice": (
        """\
        name: r
        samplers:
          n:
            choice: []
        steps: [{name: w, model: {prompt: hi}}]
        """,
        4,
        "samplers.n.choice",
        ["at least one value"],
    ),
    "unknown check": (
        """\
        name: r
        steps:
          - name: v
            verify:
              check: lenght
              field: a
        """,
        5,
        "steps[0].verify.check",
        ["unknown check 'lenght'", "did you mean 'length'?", *sorted(CHECKS)],
    ),
    "unknown check option": (
        """\
        name: r
        steps:
          - name: v
            verify:
              check: length
              field: a
              mn: 1
        """,
        7,
        "steps[0].verify.mn",
        ["check 'length': unknown option 'mn'", "allowed options: field, min, max"],
    ),
    "bad regex in a check": (
        """\
        name: r
        steps:
          - name: v
            verify:
              check: regex
              field: a
              pattern: "(unclosed"
        """,
        7,
        "steps[0].verify.pattern",
        ["invalid pattern"],
    ),
    "verify with neither check nor python": (
        """\
        name: r
        steps:
          - name: v
            verify: {field: a}
        """,
        4,
        "steps[0].verify",
        ["needs 'check'", "python: module:function"],
    ),
    "module not importable": (
        """\
        name: r
        steps:
          - name: p
            python: no_such_module_sf_xyz:tidy
        """,
        4,
        "steps[0].python",
        ["cannot import module 'no_such_module_sf_xyz'"],
    ),
    "attribute missing": (
        """\
        name: r
        steps:
          - name: p
            python: json:no_such_function
        """,
        4,
        "steps[0].python",
        ["module 'json' has no attribute 'no_such_function'"],
    ),
    "not callable": (
        """\
        name: r
        steps:
          - name: p
            verify: {python: "math:pi"}
        """,
        4,
        "steps[0].verify.python",
        ["'math:pi' is a float, not a function"],
    ),
    "malformed reference": (
        """\
        name: r
        steps:
          - name: p
            python: json.dumps
        """,
        4,
        "steps[0].python",
        ["is not a 'module:function' reference"],
    ),
    "jinja syntax error": (
        """\
        name: r
        steps:
          - name: w
            model:
              system: fine
              prompt: "Tell me about {{ topic "
        """,
        6,
        "steps[0].model.prompt",
        ["template syntax error"],
    ),
    "invalid json schema": (
        """\
        name: r
        steps:
          - name: w
            model:
              prompt: hi
              schema:
                type: object
                properties:
                  text:
                    type: strng
        """,
        10,
        "steps[0].model.schema.properties.text.type",
        ["invalid JSON schema", "'strng'"],
    ),
    "duplicate step names": (
        """\
        name: r
        steps:
          - name: w
            model: {prompt: hi}
          - name: w
            python: json:dumps
        """,
        5,
        "steps[1].name",
        ["two steps are called 'w'", "first is on line 3"],
    ),
    "seeds of the wrong type": (
        """\
        name: r
        seeds: 3
        steps: [{name: w, model: {prompt: hi}}]
        """,
        2,
        "seeds",
        ["list of mappings or the path of a .jsonl file"],
    ),
    "a seed that is not a mapping": (
        """\
        name: r
        seeds:
          - {topic: a}
          - just text
        steps: [{name: w, model: {prompt: hi}}]
        """,
        4,
        "seeds[1]",
        ["each seed must be a mapping"],
    ),
    "seeds file missing": (
        """\
        name: r
        description: d
        seeds: missing-seeds.jsonl
        steps: [{name: w, model: {prompt: hi}}]
        """,
        3,
        "seeds",
        ["missing-seeds.jsonl", "not found"],
    ),
    "bad recipe name": (
        """\
        description: d
        name: "hello world"
        steps: [{name: w, model: {prompt: hi}}]
        """,
        2,
        "name",
        ["a recipe name must be"],
    ),
    "check option that is not a string": (
        """\
        name: r
        steps:
          - name: v
            verify:
              check: nonempty
              field: a
              1: x
        """,
        7,
        "steps[0].verify[1]",
        ["keys must be strings", "int 1"],
    ),
    "sampler key that is not a string": (
        """\
        name: r
        samplers:
          7: {choice: [a]}
        steps: [{name: w, model: {prompt: hi}}]
        """,
        3,
        "samplers[7]",
        ["keys must be strings", "int 7"],
    ),
    "tier on a model step": (
        """\
        name: r
        steps:
          - name: w
            model: {prompt: hi}
            tier: cheap
        """,
        3,
        "steps[0]",
        ["'tier' applies only to verify, judge, sandbox and dedup steps"],
    ),
    "verify python with extra options": (
        """\
        name: r
        steps:
          - name: v
            verify:
              python: json:dumps
              field: a
        """,
        6,
        "steps[0].verify.field",
        ["takes no other options"],
    ),
    "int version is fine but a float is not": (
        """\
        name: r
        version: 1.5
        steps: [{name: w, model: {prompt: hi}}]
        """,
        2,
        "version",
        ["expected a string", "1.5"],
    ),
}
