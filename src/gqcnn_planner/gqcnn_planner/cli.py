"""`gqcnn-plan`: plan a grasp in a depth image file without ROS.

Prints the grasp as one JSON line with the Grasp.msg field names and writes a PNG overlay. Exit code 0 on
success, 2 for bad input, 3 when no grasp is found, 4 for model errors, each with one readable line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

EXIT_CODES = {"INVALID_INPUT": 2, "NO_IMAGE": 2, "NO_VALID_GRASP": 3, "MODEL_ERROR": 4, "CANCELED": 5}


def load_depth(path: Path) -> np.ndarray:
    """Depth from .npy (metres, HxW or HxWx1) or 16-bit .png (millimetres); NaN for missing."""
    from gqcnn_core.depth import as_depth_metres, check_depth_values, to_metres

    if not path.is_file():
        raise FileNotFoundError(f"depth file {path} does not exist")
    if path.suffix == ".npy":
        depth = as_depth_metres(np.load(path, allow_pickle=False))
        check_depth_values(depth, str(path))
        return depth
    if path.suffix == ".png":
        from PIL import Image

        raw = np.asarray(Image.open(path))
        if raw.dtype != np.uint16 and raw.dtype != np.int32:
            raise ValueError(f"{path}: expected a 16-bit PNG in millimetres, got {raw.dtype}")
        return to_metres(raw.astype(np.uint16), "16UC1")
    raise ValueError(f"{path}: unsupported depth format (use .npy in metres or 16-bit .png in millimetres)")


def load_mask(path: Path) -> np.ndarray:
    from PIL import Image

    if not path.is_file():
        raise FileNotFoundError(f"segmask file {path} does not exist")
    mask = np.asarray(Image.open(path))
    return mask[..., 0] if mask.ndim == 3 else mask  # 0/255 mask or label image: plan() tells them apart


def main(argv: list[str] | None = None) -> int:
    from gqcnn_core.paths import default_model_path

    parser = argparse.ArgumentParser(prog="gqcnn-plan", description=__doc__.splitlines()[0])
    parser.add_argument("--depth", required=True, type=Path, help="depth.npy (metres) or depth.png (16-bit mm)")
    parser.add_argument("--intrinsics", required=True, type=Path, help="camera_info YAML (camera_calibration_parsers)")
    parser.add_argument("--segmask", type=Path, help="object mask PNG (nonzero = object)")
    parser.add_argument("--policy", default="ranking", help="ranking, cem, random or igq (default: ranking)")
    parser.add_argument("--num-candidates", type=int, help="candidates (ranking) or CEM seeds")
    parser.add_argument("--model", default=default_model_path(), help="ONNX GQ-CNN (default: the shipped model)")
    parser.add_argument("--gripper", type=Path, help="gripper YAML as config/gripper_yumi.yaml (default: ABB YuMi)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="overlay PNG to write")
    args = parser.parse_args(argv)

    from gqcnn_core.camera import CameraIntrinsics
    from gqcnn_core.gripper import Gripper, load_gripper
    from gqcnn_core.model import GQCNN, ModelError
    from gqcnn_planner.policies import PlanningError, PolicyConfig, plan

    try:
        camera = CameraIntrinsics.from_yaml(args.intrinsics) if args.intrinsics.is_file() else None
        if camera is None:
            raise FileNotFoundError(f"intrinsics file {args.intrinsics} does not exist")
        depth = load_depth(args.depth)
        mask = load_mask(args.segmask) if args.segmask else None
        config = PolicyConfig(gripper=load_gripper(args.gripper) if args.gripper else Gripper())
        model = GQCNN.load(args.model)
        planned = plan(args.policy, depth, camera, model, np.random.default_rng(args.seed), mask,
                       num_candidates=args.num_candidates, config=config)
    except PlanningError as err:
        print(f"gqcnn-plan: {err.status}: {err}", file=sys.stderr)
        return EXIT_CODES.get(err.status, 1)
    except ModelError as err:
        print(f"gqcnn-plan: MODEL_ERROR: {err}", file=sys.stderr)
        return EXIT_CODES["MODEL_ERROR"]
    except (OSError, ValueError) as err:
        print(f"gqcnn-plan: INVALID_INPUT: {err}", file=sys.stderr)
        return EXIT_CODES["INVALID_INPUT"]
    grasp = planned.grasp
    print(json.dumps({
        "center_px": [round(v, 2) for v in grasp.center], "angle": round(grasp.angle, 5),
        "depth": round(grasp.depth, 5), "width": round(grasp.width, 5), "width_px": round(grasp.width_px(camera), 3),
        "q_value": round(planned.q_value, 5), "policy": planned.policy,
        "planning_time": round(planned.planning_time, 4), "segment_id": planned.segment_id,
    }))
    if args.out:
        from PIL import Image

        from gqcnn_planner.overlay import draw_grasps

        Image.fromarray(draw_grasps(depth, planned.candidates, planned.q_values)).save(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
