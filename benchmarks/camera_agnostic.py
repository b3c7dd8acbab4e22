"""Camera-agnostic crops: the same scenes seen by a 640x480 camera (fx 600) and a 1280x720 one (fx 900).

    python benchmarks/camera_agnostic.py [--scenes 12] [--model models/gqcnn.onnx]

For each scene (a box or cylinder 2-4 cm across, random pose on the table, camera 0.68 m above it) the planner
plans at 640x480; that grasp (its metric centre and axis) is then scored in the 1280x720 image with the crop
window scaled to the training camera (`GQCNN.for_camera`, what the planner does) and unscaled (the fixed
96 px window of before). The planner also plans at 1280x720 with and without scaling. Reports |q difference|
for the same grasp and the centre distance / q difference between the two planned grasps, and writes
benchmarks/results/camera_agnostic.json and camera_agnostic.png (the crops the network sees).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import trimesh

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.crop import antialias, grasp_aligned_crops
from gqcnn_core.grasp import Grasp2D
from gqcnn_core.model import GQCNN
from gqcnn_core.paths import SHIPPED_MODEL
from gqcnn_core.render import ObjectRenderer, look_at

RESULTS = Path(__file__).resolve().parent / "results"
VGA = CameraIntrinsics(600.0, 600.0, 319.5, 239.5, 640, 480)
HD = CameraIntrinsics(900.0, 900.0, 639.5, 359.5, 1280, 720)
CAMERA_POSITION = np.array([0.05, 0.08, 0.68])


def random_scene(rng: np.random.Generator) -> tuple[trimesh.Trimesh, np.ndarray]:
    """A box or an upright cylinder the 5 cm gripper can close on (2-4 cm across), at a random pose."""
    if rng.random() < 0.5:
        size = rng.uniform([0.02, 0.03, 0.02], [0.04, 0.09, 0.08])
        mesh, height = trimesh.creation.box(size), size[2]
    else:
        radius, height = rng.uniform(0.01, 0.02), rng.uniform(0.03, 0.1)
        mesh = trimesh.creation.cylinder(radius, height)
    yaw = rng.uniform(0, np.pi)
    pose = np.eye(4)
    pose[:3, 3] = [*rng.uniform(-0.05, 0.05, 2), height / 2]
    pose[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    return mesh, pose


def render(mesh: trimesh.Trimesh, pose: np.ndarray, camera: CameraIntrinsics) -> np.ndarray:
    return ObjectRenderer(mesh, camera).render(look_at(CAMERA_POSITION), pose)


def centre_m(grasp: Grasp2D, camera: CameraIntrinsics) -> np.ndarray:
    """The grasp centre in the camera frame, metres."""
    u, v = grasp.center
    return np.array([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, 1.0]) * grasp.depth


def crop_at(model: GQCNN, depth: np.ndarray, camera: CameraIntrinsics, centre: np.ndarray, angle: float) -> np.ndarray:
    """The (1, 32, 32) crop of the grasp with this metric centre and image angle, cut as the planner cuts it."""
    spec = model.crop_spec
    pixel = centre[:2] / centre[2] * (camera.fx, camera.fy) + (camera.cx, camera.cy)
    return grasp_aligned_crops(antialias(depth, spec), [pixel], [angle], spec, prefiltered=True)


def q_at(model: GQCNN, depth: np.ndarray, camera: CameraIntrinsics, centre: np.ndarray, angle: float) -> float:
    return float(model.predict(crop_at(model, depth, camera, centre, angle), np.array([centre[2]], np.float32))[0])


def compare_scene(model: GQCNN, mesh: trimesh.Trimesh, pose: np.ndarray, seed: int) -> dict:
    from gqcnn_planner.policies import NoValidGraspError, plan

    depths = {"vga": render(mesh, pose, VGA), "hd": render(mesh, pose, HD)}
    try:
        vga_plan = plan("ranking", depths["vga"], VGA, model, np.random.default_rng(seed))
    except NoValidGraspError:
        return {"planned": False}
    centre, angle = centre_m(vga_plan.grasp, VGA), vga_plan.grasp.angle
    q_vga = q_at(model.for_camera(VGA), depths["vga"], VGA, centre, angle)
    row = {"planned": True, "q_vga": q_vga}
    unscaled = GQCNN.load(model.path, threads=1)
    unscaled.for_camera = lambda camera: unscaled  # the fixed-window planner of before
    for name, variant in (("scaled", model), ("unscaled", unscaled)):
        row[f"same_grasp_dq_{name}"] = abs(q_at(variant.for_camera(HD), depths["hd"], HD, centre, angle) - q_vga)
        try:
            hd_plan = plan("ranking", depths["hd"], HD, variant, np.random.default_rng(seed))
        except NoValidGraspError:
            continue
        row[f"planned_dq_{name}"] = abs(hd_plan.q_value - vga_plan.q_value)
        row[f"planned_distance_mm_{name}"] = 1000 * float(np.linalg.norm(centre_m(hd_plan.grasp, HD) - centre))
    return row


def plot_crops(model: GQCNN, mesh: trimesh.Trimesh, pose: np.ndarray, path: Path) -> None:
    """The crops of one grasp: 640x480 with its window, 1280x720 scaled, 1280x720 with the fixed window."""
    from matplotlib.figure import Figure

    from gqcnn_planner.policies import plan

    vga_depth, hd_depth = render(mesh, pose, VGA), render(mesh, pose, HD)
    grasp = plan("ranking", vga_depth, VGA, model, np.random.default_rng(0)).grasp
    centre = centre_m(grasp, VGA)
    panels = [
        ("640x480, fx 600", model.for_camera(VGA), vga_depth, VGA),
        ("1280x720, fx 900, scaled", model.for_camera(HD), hd_depth, HD),
        ("1280x720, fx 900, fixed 96 px", model, hd_depth, HD),
    ]
    fig = Figure(figsize=(9, 3.4))
    for index, (title, variant, depth, camera) in enumerate(panels):
        crop = crop_at(variant, depth, camera, centre, grasp.angle)
        q = float(variant.predict(crop, np.array([centre[2]], np.float32))[0])
        ax = fig.add_subplot(1, 3, index + 1)
        ax.imshow(crop[0], cmap="gray")
        ax.set_title(f"{title}\nwindow {variant.crop_spec.crop_size} px, q = {q:.2f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("the same grasp as the network sees it", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=12, help="random scenes (default 12)")
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="ONNX model with its card")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "camera_agnostic.json")
    args = parser.parse_args(argv)
    model = GQCNN.load(args.model, threads=1)
    if model.training_camera is None:
        print(f"camera_agnostic: error: {args.model}'s card records no training camera", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    scenes = [random_scene(rng) for _ in range(args.scenes)]
    rows = [compare_scene(model, mesh, pose, args.seed + i) for i, (mesh, pose) in enumerate(scenes)]
    planned = [r for r in rows if r["planned"]]
    keys = ("same_grasp_dq", "planned_dq", "planned_distance_mm")
    summary = {f"median_{k}_{m}": float(np.median([r[f"{k}_{m}"] for r in planned if f"{k}_{m}" in r]))
               for k in keys for m in ("scaled", "unscaled")}
    print(f"{len(planned)} of {len(rows)} scenes planned; medians (scaled vs fixed 96 px window):")
    for key in keys:
        print(f"  {key}: {summary[f'median_{key}_scaled']:.3f} vs {summary[f'median_{key}_unscaled']:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"model": args.model.name, "training_camera": model.training_camera, "cameras": {
        "vga": {"fx": VGA.fx, "width": VGA.width, "height": VGA.height},
        "hd": {"fx": HD.fx, "width": HD.width, "height": HD.height}}, "summary": summary, "scenes": rows}
    args.out.write_text(json.dumps(payload, indent=1))
    plot_crops(model, *scenes[0], args.out.with_suffix(".png"))
    print(f"written to {args.out} and {args.out.with_suffix('.png').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
