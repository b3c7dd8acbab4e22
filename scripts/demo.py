"""`make demo`: the main job on the built-in simulated scene, as far as the stack exists today.

Renders a box on a table with the Dex-Net camera model, builds the grasp across the box's short side from
the known geometry, converts it to its 3D gripper pose, cuts the GQ-CNN input crop with the shared crop
transform and writes an overlay PNG. Planning with the GQ-CNN arrives with the planner (issue 5).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import trimesh

from dexnet.render import ObjectRenderer, look_at
from gqcnn_planner.camera import CameraIntrinsics
from gqcnn_planner.crop import grasp_aligned_crops
from gqcnn_planner.grasp import Grasp2D

OUT = Path("demo_output")


def main() -> int:
    camera = CameraIntrinsics.primesense()
    box_size = np.array([0.035, 0.09, 0.05])
    renderer = ObjectRenderer(trimesh.creation.box(box_size), camera)
    world_object = np.eye(4)
    world_object[:3, 3] = [0.02, -0.03, box_size[2] / 2]
    world_object[:2, :2] = [[np.cos(0.6), -np.sin(0.6)], [np.sin(0.6), np.cos(0.6)]]
    world_camera = look_at(np.array([0.08, 0.1, 0.68]))
    depth = renderer.render(world_camera, world_object)

    # Grasp across the short side, 1 cm below the top face: contacts from the known box pose.
    camera_object = np.linalg.inv(world_camera) @ world_object
    contacts_object = np.array([[-box_size[0] / 2, 0, box_size[2] / 2 - 0.01], [box_size[0] / 2, 0, 0.015]])
    contacts = trimesh.transform_points(contacts_object, camera_object)
    pixels = camera.project(contacts)
    grasp = Grasp2D.from_endpoints(pixels[0], pixels[1], float(contacts[:, 2].mean()), camera)
    position, quaternion = grasp.pose(camera)
    crop = grasp_aligned_crops(depth, [grasp.center], [grasp.angle])[0]

    OUT.mkdir(exist_ok=True)
    fig, (ax_scene, ax_crop) = plt.subplots(1, 2, figsize=(10, 4))
    ax_scene.imshow(depth, cmap="viridis")
    jaws = grasp.endpoints_px(camera)
    ax_scene.plot(jaws[:, 0], jaws[:, 1], "r-o", lw=2)
    ax_scene.set_title("rendered depth (m) with the grasp")
    ax_crop.imshow(crop, cmap="viridis")
    ax_crop.set_title("GQ-CNN input: 32x32 grasp-aligned crop")
    fig.tight_layout()
    fig.savefig(OUT / "demo_grasp.png", dpi=100)

    print(json.dumps({
        "center_px": [round(v, 2) for v in grasp.center], "angle": round(grasp.angle, 4),
        "depth": round(grasp.depth, 4), "width": round(grasp.width, 4), "width_px": round(grasp.width_px(camera), 2),
        "position": np.round(position, 4).tolist(), "quaternion_xyzw": np.round(quaternion, 4).tolist(),
    }))
    print(f"box short side {box_size[0]:.3f} m, grasp width from the image {grasp.width:.3f} m; "
          f"overlay written to {OUT / 'demo_grasp.png'}")
    print("GQ-CNN planning is not available yet (no trained model and planner node in this build).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
