"""The bubblewrap fallback, where ``bwrap`` is installed."""

from __future__ import annotations

import os
import socket

import pytest

from synthfactory.sandbox import BubblewrapSandbox, SandboxJob, bwrap_path

pytestmark = pytest.mark.skipif(
    bwrap_path() is None, reason="bwrap is not installed (apt-get install bubblewrap)"
)


@pytest.fixture(scope="module")
def bwrap() -> BubblewrapSandbox:
    sandbox = BubblewrapSandbox(workers=2)
    yield sandbox  # type: ignore[misc]
    sandbox.close()


def test_verdicts(bwrap: BubblewrapSandbox) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    jobs = [
        SandboxJob("ok", "import os\nprint(os.getuid())"),
        SandboxJob("assert", "assert False"),
        SandboxJob("net", f"import socket\nsocket.create_connection(('127.0.0.1', {port}))"),
        SandboxJob("seccomp", "import ctypes\nctypes.CDLL(None).unshare(0)"),
        SandboxJob("loop", "while True: pass", timeout_s=0.3),
        SandboxJob("escape", "open('/usr/sf-bwrap-escape', 'w')"),
        SandboxJob("ephemeral", "open('/etc/sf-bwrap-escape', 'w').write('x')"),
    ]
    try:
        results = {r.id: r for r in bwrap.run(jobs)}
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    assert results["ok"].verdict == "pass"
    assert results["ok"].stdout == "65534\n"
    assert results["assert"].verdict == "fail"
    assert results["net"].verdict == "fail"
    assert results["seccomp"].verdict == "sandbox_violation"
    assert results["loop"].verdict == "timeout"
    assert results["escape"].verdict == "fail"
    assert results["ephemeral"].verdict == "pass"  # written to the sandbox's own tmpfs root
    assert not os.path.exists("/usr/sf-bwrap-escape")
    assert not os.path.exists("/etc/sf-bwrap-escape")
    assert bwrap.isolation.meets_minimum


def test_other_languages(bwrap: BubblewrapSandbox) -> None:
    with BubblewrapSandbox(("sh", "{script}"), suffix=".sh", workers=1) as sh:
        (result,) = sh.run([SandboxJob("sh", "echo from shell; exit 4")])
    assert (result.verdict, result.exit_code, result.stdout) == ("fail", 4, "from shell\n")
