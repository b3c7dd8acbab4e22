"""What the simulated benchmarks share: sim settings and presets, the benchmark objects, seeded scenes as the planner
sees them, statistics, and the failure gallery."""

from __future__ import annotations

import hashlib
import os
from dataclasses import fields
from multiprocessing import get_context
from multiprocessing.pool import Pool
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
# Objects are dropped within 10 cm of this base-frame point (the camera looks at it): around the sim's default of
# (0.40, 0) about 3 % of the drops ended where neither YuMi arm reaches every waypoint (1 % still do here),
# which measures the workspace rather than the planner. The scenes are the same, shifted, wherever the centre is.
TABLE_CENTER = (0.35, 0.0)
DEFAULT_PRESET = "paper"  # the conditions the Dex-Net 2.0 labels assume; `easy` is the benchmark's first protocol
PER_TRIAL_FIELDS = ("sim_seed", "sim_mesh_file", "sim_table_center")  # set by the benchmark, not by --sim


def presets() -> tuple[str, ...]:
    from yumi_bridge.sim_settings import PRESETS

    return tuple(PRESETS)


def sim_settings(preset: str = DEFAULT_PRESET, overrides: dict | None = None):
    """The sim backend's settings of a preset (yumi_bridge.sim_settings.PRESETS) for the benchmark scenes (objects
    dropped around TABLE_CENTER), with `overrides` (SimSettings field name -> value) on top.

    By default the robot plans with the exact camera pose (what the paper's numbers compare against); a chessboard
    registration is typically off by a few millimetres: try --sim registration_error=0.002,0.002."""
    from yumi_bridge.sim_settings import preset_settings

    return preset_settings(preset, **{"sim_table_center": TABLE_CENTER, **(overrides or {})})


def parse_sim_overrides(pairs: list[str]) -> dict:
    """`--sim NAME=VALUE` pairs as SimSettings overrides, each value converted to its field's type.

    Raises ValueError naming the bad pair (unknown field, or a value of the wrong type)."""
    from yumi_bridge.sim_settings import SimSettings

    kinds = {f.name: type(f.default) for f in fields(SimSettings) if f.name not in PER_TRIAL_FIELDS}
    overrides = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        name = name if name.startswith("sim_") else f"sim_{name}"
        if name not in kinds or not value:
            raise ValueError(f"--sim {pair}: expected NAME=VALUE with NAME one of {', '.join(sorted(kinds))}")
        try:
            overrides[name] = tuple(float(v) for v in value.split(",")) if kinds[name] is tuple else kinds[name](value)
        except ValueError:
            raise ValueError(f"--sim {pair}: {value!r} is not a {kinds[name].__name__}") from None
        if not np.all(np.isfinite(overrides[name] if kinds[name] is not str else 0.0)):
            raise ValueError(f"--sim {pair}: not a finite number")
    sim_settings(overrides=overrides)  # validates the values (e.g. the registration error)
    return overrides


def worker_pool(workers: int) -> Pool:
    """A pool of `workers` spawned processes, each with single-threaded BLAS and OpenMP (unless the environment
    says otherwise): two workers on 2 cores leave no core for library threads, which only spin against the other
    worker (CEM's mixture fits cost 15x the CPU that way, 182 vs 12 ms a fit, 2026-12-03, before gqcnn_planner.cem
    limited its own fits)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # read by the workers' numpy / scipy / sklearn at import
    return get_context("spawn").Pool(workers)


def file_digest(path: str | Path) -> str:
    """sha256 of a file: a run log names the model by content, so a moved or reinstalled model still resumes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def trial_seed(name: str, trial: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{name}/{trial}".encode()).digest()[:4], "big")


def select_objects(per_set: int, mesh_dir: Path | None = None) -> list[dict]:
    """Known = train split, novel = test split of the pybullet database (first loadable ones), plus user meshes."""
    from dexnet import dataset
    from dexnet.mesh import pybullet_object_paths, user_mesh_paths

    chosen: list[dict] = []
    counts = {"known": 0, "novel": 0}
    for path in pybullet_object_paths():
        split = dataset.object_split(f"pybullet/{path.stem}")
        group = {"train": "known", "test": "novel"}.get(split)
        if group and counts[group] < per_set:
            chosen.append({"name": f"pybullet/{path.stem}", "path": str(path), "set": group})
            counts[group] += 1
    if mesh_dir is not None:
        chosen += [{"name": f"user/{p.stem}", "path": str(p), "set": "user"} for p in user_mesh_paths(mesh_dir)]
    return chosen


def load_benchmark_object(path: str, gripper, keep_scale: bool = False):
    """A benchmark object's mesh as the dataset normalises it (or at its own scale, in metres, with keep_scale);
    raises dexnet.mesh.MeshError or ValueError with the reason it cannot be used."""
    from dexnet.mesh import load_object

    return load_object(Path(path), gripper, keep_scale=keep_scale)


def observe(sim, name: str, trial: int):
    """One trial as the planner sees it: (settled scene, sensed depth, perception segmask or None, the trial's rng).
    The depth comes through the preset's sensor model (sim_sensor)."""
    seed = trial_seed(name, trial)
    scene = sim.drop_object(seed)
    rng = np.random.default_rng(seed)
    depth = scene.sensed(sim.settings.sim_sensor, rng)
    return scene, depth, perceived_mask(depth, scene.camera, rng), rng


def perceived_mask(depth: np.ndarray, camera, rng: np.random.Generator) -> np.ndarray | None:
    """The perception node's segmentation (every connected region above the table), None if it finds nothing."""
    from gqcnn_planner.segmentation import segment_objects

    try:
        mask, _ = segment_objects(depth, camera, rng)
    except ValueError:
        return None
    return mask if mask.any() else None


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def failure_view(depth: np.ndarray, camera, grasp, half: int = 60) -> np.ndarray:
    """RGB close-up (2x) of the depth image around a grasp, with the executed grasp drawn on it."""
    from gqcnn_planner.overlay import draw_grasps
    from gqcnn_planner.sampling import GraspCandidates

    u, v = np.round(grasp.center).astype(int)
    u0 = int(np.clip(u - half, 0, depth.shape[1] - 2 * half))
    v0 = int(np.clip(v - half, 0, depth.shape[0] - 2 * half))
    p1, p2 = grasp.endpoints_px(camera)
    one = GraspCandidates([[grasp.center[0] - u0, grasp.center[1] - v0]], [grasp.angle], [grasp.depth],
                          [grasp.width], [float(np.linalg.norm(p2 - p1))])
    crop = np.where(depth > 0, depth, np.nan)[v0:v0 + 2 * half, u0:u0 + 2 * half]
    return draw_grasps(crop, one, np.ones(1), chosen=0, scale=2)


def failure_gallery(views: list[dict], out: Path, columns: int = 6) -> None:
    """A grid of failed attempts: depth close-ups with the executed grasp (blue) and the failure cause."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not views:
        return
    rows = -(-len(views) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.4 * columns, 2.6 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, view in zip(axes.ravel(), views, strict=False):
        ax.imshow(view["image"])
        ax.set_title(view["title"], fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def skipped_notes(skipped: dict[str, str]) -> list[str]:
    """Markdown lines naming every object that could not be used, with the reason."""
    if not skipped:
        return []
    return ["", f"Skipped {len(skipped)} object(s):",
            *[f"- {name}: {reason}" for name, reason in sorted(skipped.items())]]
