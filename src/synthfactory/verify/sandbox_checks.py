"""Ready-made sandbox-tier steps: a fixed harness around generated code, run in the sandbox.

:func:`sql_result` runs a generated SQLite query against a small database and rejects a
result that cannot be an answer: the query errors, returns no rows, returns a column that
is NULL in every row, or returns a different number of columns than the task asks for.
Those are the ways a plausible query on the wrong value (``category = 'Hardware'`` where
the data says ``'hardware'``) or the wrong columns (ids where names were asked for) shows
itself without knowing the answer.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

from synthfactory.errors import RecipeError
from synthfactory.verify.steps import SandboxStep

#: The largest database :func:`sql_result` embeds in each job.
MAX_DATABASE_BYTES = 8 * 1024 * 1024

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

# The database travels in the job as bytes and is opened in memory with query_only: the
# sandbox may read only the interpreter's own paths, where a recipe's data need not lie.
# Jinja fills in the query and the expected column count (both as JSON strings, so as
# Python literals); the rest is fixed when the step is built.
_HARNESS = """\
import base64, json, sqlite3, sys
sql = {sql}
expected = json.loads({columns})
db = sqlite3.connect(":memory:")
db.deserialize(base64.b64decode({data!r}))
db.execute("PRAGMA query_only = ON")
try:
    cursor = db.execute(sql)
    rows = cursor.fetchall()
except (sqlite3.Error, ValueError, OverflowError) as err:
    sys.exit(f"the query fails: {{type(err).__name__}}: {{err}}")
names = [d[0] for d in cursor.description or ()]
print(json.dumps({{"columns": names, "rows": rows[:20]}}, default=repr))
problems = []
if expected is not None and len(names) != expected:
    problems.append(
        f"the query returns {{len(names)}} column(s) {{names}}; the task asks for {{expected}}"
    )
if {require_rows} and not rows:
    problems.append("the query returns no rows")
if {reject_null_columns} and rows:
    problems += [
        f"column {{name!r}} is NULL in every row"
        for i, name in enumerate(names)
        if all(row[i] is None for row in rows)
    ]
if problems:
    sys.exit("; ".join(problems))
"""


def _field(option: str, value: object) -> str:
    if not isinstance(value, str) or not _FIELD.fullmatch(value):
        raise RecipeError(
            f"sql_result: option {option!r} must be a dotted path such as 'answer.sql', "
            f"got {value!r}",
            option=option,
        )
    return value


def sql_result(
    name: str,
    database: str | Path,
    *,
    field: str = "answer.sql",
    columns_field: str | None = None,
    require_rows: bool = True,
    reject_null_columns: bool = True,
    timeout_s: float = 5.0,
    tier: str = "sandbox",
) -> SandboxStep:
    """A sandbox step that runs the query at ``field`` on ``database`` and checks its result.

    The query fails the step when it errors (including any attempt to write), when it
    returns no rows (``require_rows``), when a column is NULL in every row
    (``reject_null_columns``), or when ``columns_field`` names a payload field holding the
    number of columns the task asks for and the count differs. The first 20 rows and the
    column names are printed, so they are kept in the verdict's details.

    ``database`` is read when the step is built and its bytes travel in every job (at most
    :data:`MAX_DATABASE_BYTES`): the job opens an in-memory copy with ``query_only``, so
    the file itself is never opened by generated code and needs no place in the sandbox.
    """
    path = Path(database)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise RecipeError(f"sql_result: cannot read {path}: {err}", option="database") from None
    if len(data) > MAX_DATABASE_BYTES:
        raise RecipeError(
            f"sql_result: {path} is {len(data)} bytes; at most {MAX_DATABASE_BYTES} travel "
            "in each job",
            option="database",
        )
    if not data.startswith(b"SQLite format 3\x00"):
        raise RecipeError(f"sql_result: {path} is not a SQLite database", option="database")
    sql = f"{{{{ {_field('field', field)} | tojson }}}}"
    columns = (
        "'null'"
        if columns_field is None
        else f"{{{{ {_field('columns_field', columns_field)} | tojson | tojson }}}}"
    )
    code = _HARNESS.format(
        sql=sql,
        columns=columns,
        data=base64.b64encode(data).decode(),
        require_rows=bool(require_rows),
        reject_null_columns=bool(reject_null_columns),
    )
    return SandboxStep(name=name, code=code, timeout_s=timeout_s, tier=tier)


__all__ = ["MAX_DATABASE_BYTES", "sql_result"]
