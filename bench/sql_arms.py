"""Variants of the ``sql`` recipe for measuring what one part brings (``bench_sql.py``).

Run one with ``bench/`` on the path: ``PYTHONPATH=bench synthfactory run sql_arms:ungrounded``.
"""

from __future__ import annotations

from synthfactory.examples.sql import build_recipe

#: The prompt without the stored values of the low-cardinality text columns.
ungrounded = build_recipe(values=False)
#: Without the judge tier.
unjudged = build_recipe(judge=False)
