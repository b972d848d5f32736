"""Embedders: the OpenAI-compatible client against the fake server over loopback, MiniLM."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import SecretStr

from synthfactory.dedup.embedders import MiniLMEmbedder, OpenAIEmbedder, minilm_model_dir
from synthfactory.errors import ModelRequestError, TransientModelError
from synthfactory.testing import FakeServer, FakeServerConfig
from synthfactory.testing.fake_server import fake_embedding

SECRET = "sk-test-do-not-leak-0123456789"


def test_openai_embedder_against_the_fake_server(fake_server: FakeServer) -> None:
    embedder = OpenAIEmbedder(fake_server.url, "fake-embed", SecretStr(SECRET), batch_size=2)
    texts = ["the cat sat on the mat", "The cat sat on the mat!", "quantum chromodynamics", ""]
    vectors = embedder.embed(texts)  # two requests of two texts
    assert vectors.dtype == np.float32 and vectors.shape == (4, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] == pytest.approx(1.0, abs=1e-5)  # same words
    assert vectors[0] @ vectors[2] < 0.5
    assert np.allclose(vectors[2], fake_embedding("quantum chromodynamics"), atol=1e-6)
    assert embedder.dim == 256
    assert embedder.embed([]).shape == (0, 256)


def test_openai_embedder_learns_its_dimension(fake_server: FakeServer) -> None:
    assert OpenAIEmbedder(fake_server.url, "m").dim == 256


def test_openai_embedder_errors_are_typed_and_keep_the_key_secret() -> None:
    with FakeServer(FakeServerConfig(error_rate=1.0)) as server:
        embedder = OpenAIEmbedder(server.url, "m", SecretStr(SECRET))
        with pytest.raises(TransientModelError) as transient:
            embedder.embed(["x"])
        server.config.error_rate = 0.0
        bad = OpenAIEmbedder(server.url.removesuffix("/v1") + "/nope", "m", SecretStr(SECRET))
        with pytest.raises(ModelRequestError) as wrong:
            bad.embed(["x"])
        url = server.url
    with pytest.raises(TransientModelError) as down:  # the server is gone: connection refused
        OpenAIEmbedder(url, "m", SecretStr(SECRET)).embed(["x"])
    for err in (transient.value, wrong.value, down.value):
        assert SECRET not in str(err) and SECRET not in repr(err.fields)
    assert "HTTP 500" in str(transient.value) and "HTTP 404" in str(wrong.value)


def test_minilm_loads_offline_from_the_package(minilm: MiniLMEmbedder) -> None:
    assert (minilm_model_dir() / "model.safetensors").is_file()
    assert minilm.dim == 384
    vectors = minilm.embed(["How do I reset my password?", "Steps to recover a lost password"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.6


def test_a_missing_model_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from synthfactory.dedup import embedders
    from synthfactory.errors import MissingDependencyError

    monkeypatch.setattr(embedders, "MINILM_PACKAGE", "no_such_minilm_package")
    with pytest.raises(MissingDependencyError, match=r"pip install 'synthfactory\[embed\]'"):
        embedders.minilm_model_dir()
