"""A local Ray instance shared by the tests of this package, and the helpers they share.

The instance is private to the test module that asks for it (so no later test runs in a
process with Ray's threads): on 127.0.0.1, token authentication off
(``RAY_AUTH_MODE=disabled``, set before Ray starts so its processes inherit it), its files
under a short temporary directory (Unix socket paths are limited to 107 characters), and
it is shut down (and the directory removed) when the module is done.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

CLUSTER_CPUS = 2


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[Any]:
    """``ray`` initialised with a local instance of ``CLUSTER_CPUS`` CPUs."""
    ray = pytest.importorskip("ray")
    temp = tempfile.mkdtemp(prefix="sfray-", dir="/tmp")
    previous = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    from synthfactory.runtime.ray import quiet_lance_fork_warning

    with quiet_lance_fork_warning():
        ray.init(
            num_cpus=CLUSTER_CPUS,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            namespace="synthfactory-tests",
            _node_ip_address="127.0.0.1",
            object_store_memory=100 * 2**20,
            _temp_dir=temp,
        )
    try:
        yield ray
    finally:
        ray.shutdown()
        if previous is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous
        shutil.rmtree(temp, ignore_errors=True)
