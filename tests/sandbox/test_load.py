"""Timeouts are CPU time with a wall cap: a busy machine does not fail correct code."""

from __future__ import annotations

import subprocess
import sys
import time

from synthfactory.sandbox import SandboxJob, SandboxPool

BURN_300MS = (
    "import time\n"
    "start = time.process_time()\n"
    "while time.process_time() - start < 0.3:\n"
    "    pass\n"
    "print('done')\n"
)


def test_a_cpu_hog_beside_the_pool_does_not_turn_correct_jobs_into_timeouts(
    pool: SandboxPool,
) -> None:
    # Each hog in its own session: with autogroup scheduling a session is one share, and
    # every job runs in a session of its own too.
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
        for _ in range(4)
    ]
    time.sleep(0.3)  # let the hogs get going
    try:
        # 0.3 s of CPU under a 0.5 s CPU limit: with 4 hogs on 2 cores each job gets well
        # under half a core, so its wall time exceeds the CPU limit; only CPU time counts.
        results = pool.run([SandboxJob(str(i), BURN_300MS, 0.5) for i in range(4)])
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert [r.verdict for r in results] == ["pass"] * 4, [r.reason for r in results]
    assert all(300 <= r.cpu_ms < 500 for r in results)
    assert max(r.wall_ms for r in results) > 500  # it really was slowed down
