"""The verification pool's worker side: what each worker process runs at start.

Kept light on purpose (no aiohttp, no Lance): the pool's initializer and warm-up are
pickled by reference, so a worker imports this module and nothing the driver alone needs.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time
import types

from synthfactory.recipe.model import Recipe


def warm_up() -> int:
    """A no-op job: submitting one per worker starts the workers early."""
    return os.getpid()


def die_with_driver(driver_pid: int) -> None:
    """Worker initializer: exit as soon as the driver process is gone.

    A driver killed with -9 cannot shut its pool down, and the forkserver outlives it for as
    long as any worker does, so each worker watches the driver itself (a pidfd, which cannot
    be fooled by pid reuse) and leaves no orphan behind holding the driver's stdout.
    """
    # Ctrl-C reaches the whole process group; the driver decides how to stop, and shuts
    # the pool down itself. A worker printing KeyboardInterrupt tracebacks helps no one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        try:
            fd = os.pidfd_open(driver_pid)
        except ProcessLookupError:
            os._exit(1)
        except (OSError, AttributeError):  # no pidfd here: poll instead
            while True:
                try:
                    os.kill(driver_pid, 0)
                except ProcessLookupError:
                    os._exit(1)
                time.sleep(0.5)
        select.select([fd], [], [])
        os._exit(1)

    threading.Thread(target=watch, name="driver-watch", daemon=True).start()


def preload_modules(recipe: Recipe) -> list[str]:
    """The modules a worker will import anyway, for the forkserver to import once.

    A worker runs the executor and the recipe's step functions. It also runs the main
    script again (multiprocessing does, so functions defined there unpickle; the
    forkserver's own ``'__main__'`` preload never applies, since CPython 3.11 does not pass
    it the main path), so the modules that script refers to are listed too. A name that
    fails to import is skipped by the forkserver.
    """
    names = {__name__, "synthfactory.runtime.executor"}
    for step in recipe.steps:
        for value in vars(step).values():
            module = getattr(value, "__module__", None) if callable(value) else None
            if isinstance(module, str):
                names.add(module)
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "__file__", None):
        for value in vars(main).values():
            if isinstance(value, types.ModuleType):
                names.add(value.__name__)
            elif isinstance(value, type | types.FunctionType):
                names.add(value.__module__)
    names.discard("__main__")
    names.discard("__mp_main__")
    names.discard("builtins")
    return sorted(names)
