"""deploy/kuberay/rayjob.yaml: parse it and check the fields a broken deploy would get wrong.

No cluster needed: the manifest must be a RayJob for the Ray version the ``ray`` extra
pins, run ``synthfactory run ... --executor ray`` with the pool config it mounts (which
must load as a :class:`RayConfig`), and have a GPU worker group that offers the custom
resource the generation pool asks for, and a CPU worker group for verification.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from synthfactory.runtime.ray import RayConfig

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "deploy" / "kuberay" / "rayjob.yaml"


def _pins() -> tuple[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (ray_pin,) = [d for d in project["optional-dependencies"]["ray"] if d.startswith("ray")]
    match = re.fullmatch(r"ray(\[[\w,]+\])?==([\d.]+)", ray_pin)
    assert match, f"the ray extra must pin one exact version, not {ray_pin!r}"
    return match.group(2), project["version"]


@pytest.fixture(scope="module")
def docs() -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in yaml.safe_load_all(MANIFEST.read_text())}


def _containers(group: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = group["template"]["spec"]["containers"]
    return containers


def _groups(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["groupName"]: g for g in job["spec"]["rayClusterSpec"]["workerGroupSpecs"]}


def _ray_config(docs: dict[str, dict[str, Any]]) -> RayConfig:
    return RayConfig(**yaml.safe_load(docs["ConfigMap"]["data"]["ray.yaml"]))


def test_it_is_a_rayjob_for_the_pinned_ray(docs: dict[str, dict[str, Any]]) -> None:
    job = docs["RayJob"]
    assert job["apiVersion"] == "ray.io/v1"
    ray_version, _ = _pins()
    assert job["spec"]["rayClusterSpec"]["rayVersion"] == ray_version
    assert job["spec"]["shutdownAfterJobFinishes"] is True


def test_every_ray_container_runs_one_image_tagged_with_both_versions(
    docs: dict[str, dict[str, Any]],
) -> None:
    ray_version, version = _pins()
    spec = docs["RayJob"]["spec"]["rayClusterSpec"]
    ray_containers = [_containers(spec["headGroupSpec"])[0]] + [
        c for g in _groups(docs["RayJob"]).values() for c in _containers(g) if c["name"] != "vllm"
    ]
    images = {c["image"] for c in ray_containers}
    assert len(images) == 1, f"head and workers must run one image, not {images}"
    (image,) = images
    tag = image.rpartition(":")[2]
    assert tag.startswith(f"{version}-ray{ray_version}-"), tag
    dockerfile = (ROOT / "deploy" / "kuberay" / "Dockerfile").read_text()
    assert f"FROM rayproject/ray:{ray_version}-" in dockerfile
    assert image in dockerfile


def test_the_entrypoint_runs_a_recipe_on_ray_with_the_mounted_config(
    docs: dict[str, dict[str, Any]],
) -> None:
    job = docs["RayJob"]
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:2] == ["synthfactory", "run"]
    assert argv[argv.index("--executor") + 1] == "ray"
    config_path = Path(argv[argv.index("--ray-config") + 1])
    head = job["spec"]["rayClusterSpec"]["headGroupSpec"]
    mounts = {m["name"]: m["mountPath"] for m in _containers(head)[0]["volumeMounts"]}
    volumes = {v["name"]: v for v in head["template"]["spec"]["volumes"]}
    config_volume = next(n for n, v in volumes.items() if "configMap" in v)
    assert volumes[config_volume]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    assert config_path == Path(mounts[config_volume]) / "ray.yaml"
    # The workspace (ledger, cache, dataset) lives on the claimed volume, on the head.
    workspace = argv[argv.index("--workspace") + 1]
    claim = next(n for n, v in volumes.items() if "persistentVolumeClaim" in v)
    assert mounts[claim] == workspace
    assert (
        volumes[claim]["persistentVolumeClaim"]["claimName"]
        == (docs["PersistentVolumeClaim"]["metadata"]["name"])
    )
    # The head pod runs the driver only: no Ray work lands on it.
    assert head["rayStartParams"]["num-cpus"] == "0"


def test_a_gpu_group_offers_what_the_generation_pool_asks_for(
    docs: dict[str, dict[str, Any]],
) -> None:
    config = _ray_config(docs)
    assert config.generation.resources, "generation actors must be pinned by a custom resource"
    gpu_groups = [
        g
        for g in _groups(docs["RayJob"]).values()
        if any("nvidia.com/gpu" in c["resources"]["limits"] for c in _containers(g))
    ]
    assert len(gpu_groups) == 1
    (gpu,) = gpu_groups
    offered = yaml.safe_load(gpu["rayStartParams"]["resources"])
    offered = yaml.safe_load(offered) if isinstance(offered, str) else offered
    for name, amount in config.generation.resources.items():
        assert offered.get(name, 0) >= amount, (name, offered)
    # One generation actor per GPU pod, and enough pods for the pool's minimum.
    assert gpu["maxReplicas"] >= config.generation.min_actors
    assert gpu["minReplicas"] <= gpu["replicas"] <= gpu["maxReplicas"]


def test_a_cpu_group_hosts_the_verification_pool(docs: dict[str, dict[str, Any]]) -> None:
    config = _ray_config(docs)
    groups = _groups(docs["RayJob"])
    cpu = groups["verification"]
    assert all("nvidia.com/gpu" not in c["resources"]["limits"] for c in _containers(cpu))
    cpus = int(cpu["rayStartParams"]["num-cpus"])
    assert cpus <= int(_containers(cpu)[0]["resources"]["limits"]["cpu"])
    assert config.verification.num_cpus <= cpus
    assert config.verification.max_actors is not None
    capacity = cpu["maxReplicas"] * cpus // config.verification.num_cpus
    assert config.verification.max_actors <= capacity
    assert cpu["minReplicas"] <= cpu["replicas"] <= cpu["maxReplicas"]
    assert docs["RayJob"]["spec"]["rayClusterSpec"]["enableInTreeAutoscaling"] is True
