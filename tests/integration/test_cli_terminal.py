"""What a person sees in a terminal: messages reach it byte for byte.

The CLI runs under a real pseudo-terminal (so rich styles and wraps as it would for a
person), and the text is read back with the terminal's escape sequences removed.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

from tests.conftest import cli_env

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def in_terminal(*args: str, timeout: float = 60) -> tuple[int, str]:
    """Run ``synthfactory ARGS`` on a 200-column pseudo-terminal: (exit code, plain text)."""
    leader, follower = pty.openpty()
    env = cli_env(COLUMNS="200", LINES="50", TERM="xterm-256color")
    proc = subprocess.Popen(
        [sys.executable, "-m", "synthfactory.cli", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(leader)
    code = proc.wait(timeout=10)
    return code, _ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r", "")


def test_a_message_with_brackets_reaches_the_terminal_unchanged() -> None:
    # A bracketed word is a rich style tag unless markup is off: "[hf]" used to vanish
    # from install hints ("pip install 'synthfactory'").
    code, text = in_terminal("run", "no_such_[hf]_recipe[/]", "--target", "1")
    assert code == 2
    assert "error: unknown recipe 'no_such_[hf]_recipe[/]'" in text, text
    assert "Traceback" not in text
