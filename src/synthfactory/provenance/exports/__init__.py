"""Exports for a finished run: in-toto/SLSA in a signed DSSE envelope, OpenLineage, Croissant.

Everything here is built from what the workspace already holds (the ledger, the Lance
table, the audit log); nothing is sent anywhere. No export carries a secret: endpoints are
described by :meth:`EndpointConfig.public_dict` (which has no API key) with any user or
password stripped from their URLs.

**The subject digest** of a run's in-toto statement is recomputable from
``synthfactory export RUN --format jsonl``::

    rows = [json.loads(line) for line in open("run.jsonl")]
    rows.sort(key=lambda row: row["item_id"])
    body = orjson.dumps(rows, option=orjson.OPT_SORT_KEYS)  # canonical JSON of the list
    hashlib.sha256(body).hexdigest()

that is, the SHA-256 of the canonical JSON (:mod:`synthfactory.provenance.canonical`: sorted
keys, no whitespace, nulls kept as ``null``) of the JSON array of the run's rows, every
column included, sorted by ``item_id``. :func:`rows_digest` is that rule.
"""

from synthfactory.provenance.dsse import (
    DSSE_PAYLOAD_TYPE,
    dsse_envelope,
    envelope_statement,
    pae,
    verify_dsse,
)
from synthfactory.provenance.exports.croissant import (
    CROISSANT_CONTEXT,
    croissant_for_run,
    croissant_metadata,
)
from synthfactory.provenance.exports.intoto import (
    SLSA_PREDICATE_TYPE,
    STATEMENT_TYPE,
    intoto_statement,
    rows_digest,
)
from synthfactory.provenance.exports.openlineage import (
    RUN_UUID_NAMESPACE,
    openlineage_events,
    run_uuid,
)

__all__ = [
    "CROISSANT_CONTEXT",
    "DSSE_PAYLOAD_TYPE",
    "RUN_UUID_NAMESPACE",
    "SLSA_PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "croissant_for_run",
    "croissant_metadata",
    "dsse_envelope",
    "envelope_statement",
    "intoto_statement",
    "openlineage_events",
    "pae",
    "rows_digest",
    "run_uuid",
    "verify_dsse",
]
