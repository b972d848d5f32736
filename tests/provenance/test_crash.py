"""kill -9 in the middle of appending leaves a prefix that verifies and can be continued."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from synthfactory.provenance import NoteSigner, SqliteAuditLog, verify_log

from .conftest import ORIGIN, make_record

WRITER = textwrap.dedent(
    """
    import sys
    from synthfactory.provenance import NoteSigner, SqliteAuditLog
    from tests.provenance.conftest import ORIGIN, make_record

    path, skey = sys.argv[1], sys.argv[2]
    log = SqliteAuditLog(path, NoteSigner.from_skey(skey), origin=ORIGIN, batch_size=64)
    i = 0
    while True:  # append forever: the test kills us mid-batch
        log.append(make_record(i + j) for j in range(37))
        i += 37
        if i % (37 * 8) == 0:
            cp = log.checkpoint()
            print(f"checkpoint {cp.size}", flush=True)
    """
)


def test_kill_9_mid_append_leaves_a_verifiable_prefix(tmp_path: Path) -> None:
    signer = NoteSigner.generate("crash.test")
    path = tmp_path / "log.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), signer.skey()],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    sizes = []
    deadline = time.monotonic() + 30
    while len(sizes) < 5 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, "the writer died on its own"
        sizes.append(int(line.split()[1]))
    time.sleep(0.05)  # somewhere inside the next batches
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()

    report = verify_log(path, signer.verifier)
    assert report.ok, report
    assert report.latest_size >= sizes[-1] and report.records >= report.latest_size
    # whole batches only: each checkpoint (every 296 records) commits, then batches of 64
    assert (report.records % 296) % 64 == 0

    with SqliteAuditLog(path, signer, origin=ORIGIN) as log:  # and the log goes on
        log.append(make_record(report.records + j) for j in range(10))
        assert log.checkpoint().size == report.records + 10
    assert verify_log(path, signer.verifier).ok
