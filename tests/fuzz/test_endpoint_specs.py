"""Bad ``--endpoint`` specs: no role or URL, URLs that are not http(s), options without a
value or unknown, values of the wrong type or out of range, an unset ``key_env``, a role
the recipe does not call, a role given twice. Each is refused naming ``--endpoint``, no
traceback, the workspace untouched."""

from __future__ import annotations

import string
from pathlib import Path
from urllib.parse import urlparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .support import (
    ENDPOINT,
    FAKE_URL,
    FUZZ,
    GUARD,
    assert_refused,
    assert_unchanged,
    invoke,
    snapshot,
)

pytestmark = pytest.mark.fuzz

#: Reported bad specs (and those the fuzzer found), kept as cases.
KNOWN_BAD = [
    "generator",
    "=http://127.0.0.1:9/v1",
    "generator=",
    "generator=127.0.0.1:9/v1",
    "generator=http://",
    "generator=ftp://127.0.0.1/v1",
    f"generator={FAKE_URL},model",
    f"generator={FAKE_URL},api_key=sk-123",
    f"generator={FAKE_URL},concurrency=0",
    f"generator={FAKE_URL},concurrency=lots",
    f"generator={FAKE_URL},price_in=-1",
    f"generator={FAKE_URL},timeout=0",
    f"generator={FAKE_URL},key_env=SYNTHFACTORY_FUZZ_UNSET_KEY",
    f"judge={FAKE_URL},model=m",
    f"generator={FAKE_URL},model=a,generator=b",
]
#: Two specs at once: the same role twice.
TWICE = [ENDPOINT, "generator=http://127.0.0.1:10/v1,model=other"]

_FIELDS = {
    "model",
    "key_env",
    "api_key_env",
    "price_in",
    "price_out",
    "price_hour",
    "concurrency",
    "timeout",
    "timeout_s",
    "max_retries",
    "fail_fast",
    "down_after_failures",
    "down_after_s",
    "license",
    "origin",
}
_NUMERIC = {
    "concurrency": st.one_of(st.integers(max_value=0), st.integers(min_value=4097)),
    "price_in": st.floats(max_value=-0.001),
    "price_out": st.floats(max_value=-0.001),
    "price_hour": st.floats(max_value=-0.001),
    "timeout": st.floats(max_value=0),
    "max_retries": st.integers(max_value=-1),
    "down_after_failures": st.integers(max_value=0),
}
_WORD = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=10)


def _not_a_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


def _not_http(url: str) -> bool:
    parsed = urlparse(url.strip())
    return parsed.scheme not in ("http", "https") or not parsed.netloc


@st.composite
def bad_specs(draw: st.DrawFn) -> str:
    """One ``--endpoint`` value that must be refused."""
    url = f"http://127.0.0.1:{draw(st.integers(1, 65535))}/v1"
    kind = draw(st.integers(0, 7))
    if kind == 0:  # no "=" at all
        return draw(st.text(min_size=1, max_size=30).filter(lambda t: "=" not in t))
    if kind == 1:  # no role, or nothing after the "="
        return draw(st.sampled_from([f"={url}", f" ={url}", "generator=", "generator= "]))
    if kind == 2:  # not an http(s) URL
        return "generator=" + draw(
            st.text(max_size=30).filter(lambda t: "," not in t and _not_http(t))
        )
    if kind == 3:  # an option without a value, or one that may not be set
        option = draw(_WORD | st.sampled_from(["role=x", "url=x", "api_key=x"]))
        return f"generator={url},model=m,{option}"
    if kind == 4:  # an unknown option
        key = draw(_WORD.filter(lambda k: k.strip() not in _FIELDS))
        return f"generator={url},model=m,{key}={draw(_WORD)}"
    if kind == 5:  # a number out of range, or not a number
        key = draw(st.sampled_from(sorted(_NUMERIC)))
        value = draw(_NUMERIC[key].map(str) | _WORD.filter(_not_a_number))
        return f"generator={url},model=m,{key}={value}"
    if kind == 6:  # a key variable that is not set
        return f"generator={url},model=m,key_env=SYNTHFACTORY_FUZZ_UNSET_{draw(_WORD)}"
    role = draw(_WORD.filter(lambda r: r != "generator"))  # a role hello does not call
    return f"{role}={url},model=m"


def _refused(workspace: Path, specs: list[str]) -> None:
    before = snapshot(workspace)
    options = [f"--endpoint={spec}" for spec in specs]
    outcome = invoke(["run", "hello", "-w", str(workspace), *options, *GUARD])
    assert_refused(outcome, ["--endpoint", "names key_env="])
    assert_unchanged(workspace, before)


@pytest.mark.parametrize("spec", KNOWN_BAD)
def test_known_bad_endpoint_specs(fuzz_workspace: Path, spec: str) -> None:
    _refused(fuzz_workspace, [spec])


def test_a_role_given_twice_is_refused(fuzz_workspace: Path) -> None:
    _refused(fuzz_workspace, TWICE)


@FUZZ
@given(spec=bad_specs())
def test_generated_bad_endpoint_specs(fuzz_workspace: Path, spec: str) -> None:
    _refused(fuzz_workspace, [spec])
