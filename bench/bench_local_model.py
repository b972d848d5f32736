"""Embedded local model throughput: 0.5B and 1.5B at 1, 2, 4 and 8 parallel slots.

For each model and slot count, one llama.cpp server is started (threads: the machine's
default, see ``synthfactory.local.server.default_threads``) and the same fixed set of
structured prompts is sent through synthfactory's own ``OpenAIChatClient`` with as many
requests in flight as there are slots (the concurrency ``local_endpoint`` sets). Every
request asks for JSON-schema output (the form recipes send) with temperature 0.

Measured per configuration: generation tokens/s (completion tokens over wall time, all
requests together), requests/s, and *valid structured generations per minute*: answers that
parse and match the schema. The last is the proxy for "usable examples per minute" until the
main recipe exists: a real recipe adds verification, which filters further but runs in
another pool.

Usage::

    python bench/bench_local_model.py              # both models, 1/2/4/8 slots, ~3-4 min
    python bench/bench_local_model.py --models qwen2.5-coder-0.5b --slots 1 4 --requests 4

Writes ``bench/results/local_model.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema

from synthfactory.local.server import LocalModelServer, default_threads, local_endpoint
from synthfactory.local.weights import default_cache_dir, ensure_weights, known_model
from synthfactory.models.client import ChatRequest
from synthfactory.models.openai_http import OpenAIChatClient

TASKS = (
    "reverse the words of a sentence",
    "check whether a number is prime",
    "merge two sorted lists",
    "count the vowels in a string",
    "flatten a nested list of integers",
    "compute the n-th Fibonacci number",
    "remove duplicate items from a list keeping order",
    "convert a Roman numeral to an integer",
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "function_name": {"type": "string", "maxLength": 40},
        "arguments": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
        "returns": {"type": "string", "maxLength": 40},
        "summary": {"type": "string", "maxLength": 160},
    },
    "required": ["function_name", "arguments", "returns", "summary"],
    "additionalProperties": False,
}


def request_for(model: str, task: str, max_tokens: int) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=(
            {"role": "system", "content": "You design small Python functions."},
            {
                "role": "user",
                "content": f"Design one Python function to {task}. Give its name, argument "
                "names, return type and a one-sentence summary.",
            },
        ),
        params={"max_tokens": max_tokens, "temperature": 0},
        seed=0,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "function_design", "schema": SCHEMA, "strict": True},
        },
    )


def valid(content: str) -> bool:
    try:
        jsonschema.validate(json.loads(content), SCHEMA)
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


async def run_config(server: LocalModelServer, requests: int, max_tokens: int) -> dict[str, Any]:
    config = local_endpoint("generator", server)
    tasks = [TASKS[i % len(TASKS)] for i in range(requests)]
    async with aiohttp.ClientSession() as session:
        client = OpenAIChatClient(config, session)
        # Warm-up (excluded): load pages of the model file, fill the prompt cache once.
        warm = request_for(server.model, TASKS[0], 1)
        await client.complete(warm)
        started = time.perf_counter()
        responses = await asyncio.gather(
            *(client.complete(request_for(server.model, t, max_tokens)) for t in tasks)
        )
        wall = time.perf_counter() - started
    completion = sum(r.completion_tokens for r in responses)
    ok = sum(valid(r.content) for r in responses)
    return {
        "requests": requests,
        "wall_s": round(wall, 2),
        "completion_tokens": completion,
        "prompt_tokens": sum(r.prompt_tokens for r in responses),
        "tokens_per_s": round(completion / wall, 2),
        "requests_per_s": round(requests / wall, 3),
        "valid_structured": ok,
        "valid_per_min": round(ok / wall * 60, 1),
        "mean_latency_s": round(sum(r.latency_s for r in responses) / requests, 2),
        "truncated": sum(r.finish_reason == "length" for r in responses),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"])
    parser.add_argument("--slots", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--requests", type=int, default=8, help="requests per configuration")
    parser.add_argument("--max-tokens", type=int, default=80)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    cache = default_cache_dir(os.environ)  # the edge: the environment is read here
    threads = default_threads()
    rows = []
    for name in args.models:
        model = known_model(name)
        t0 = time.perf_counter()
        path = ensure_weights(model, cache)
        print(f"{model.title}: weights ready in {time.perf_counter() - t0:.1f}s")
        for slots in args.slots:
            t0 = time.perf_counter()
            with LocalModelServer(path, n_parallel=slots, n_threads=threads) as server:
                start_s = time.perf_counter() - t0
                result = asyncio.run(run_config(server, args.requests, args.max_tokens))
            row = {"model": name, "slots": slots, "threads": threads, "start_s": round(start_s, 2)}
            row.update(result)
            rows.append(row)
            print(
                f"  {slots} slots: {row['tokens_per_s']:6.1f} tok/s  "
                f"{row['requests_per_s']:.3f} req/s  {row['valid_per_min']:5.1f} valid/min  "
                f"(start {start_s:.1f}s, wall {row['wall_s']}s)",
                flush=True,
            )

    header = "| model | slots | tok/s | req/s | valid JSON/min | valid | mean latency s | start s |"
    print("\n" + header + "\n|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['slots']} | {r['tokens_per_s']} | {r['requests_per_s']} | "
            f"{r['valid_per_min']} | {r['valid_structured']}/{r['requests']} | "
            f"{r['mean_latency_s']} | {r['start_s']} |"
        )
    best = {}
    for name in args.models:
        mine = [r for r in rows if r["model"] == name]
        top = max(mine, key=lambda r: r["tokens_per_s"])
        best[name] = {"slots": top["slots"], "tokens_per_s": top["tokens_per_s"]}
        print(f"best for {name}: {top['slots']} slots ({top['tokens_per_s']} tok/s)")

    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "local_model.json"
    out.write_text(
        json.dumps(
            {
                "machine": {
                    "cpus": os.cpu_count(),
                    "cpu_model": cpu_model(),
                    "python": platform.python_version(),
                    "xllamacpp": metadata.version("xllamacpp"),
                },
                "settings": {
                    "requests": args.requests,
                    "max_tokens": args.max_tokens,
                    "threads": threads,
                    "temperature": 0,
                },
                "rows": rows,
                "best": best,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
