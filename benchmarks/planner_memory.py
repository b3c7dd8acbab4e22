"""Memory of the plan_grasp server under a stream of goals: RSS of a planner_node process while 1000 goals, each
carrying a 640x480 32FC1 depth image, go through the real rclpy action interface. Prints the figures and writes
benchmarks/results/planner_memory.json.

    python -m benchmarks.planner_memory [--goals 1000] [--warmup 100] [--policy ranking]

Target (issue 16): RSS growth after warm-up <= 20 MB. Before the fix the server kept every finished goal, image
included, for rclpy's 900 s result_timeout: +1.46 MB per goal, 296 -> 835 MB over about 330 goals.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rclpy.node import Node
from tqdm import tqdm

from dexnet_msgs.action import PlanGrasp
from gqcnn_core.camera import CameraIntrinsics
from gqcnn_planner.action_client import ThreadSafeActionClient
from gqcnn_planner.ros_conversions import depth_to_image, intrinsics_to_camera_info
from gqcnn_planner.ros_thread import RosThread

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_MB = 20.0


def box_scene(camera: CameraIntrinsics, rng: np.random.Generator) -> np.ndarray:
    """A 4 x 8 x 5 cm box at a random place and yaw on a table 0.7 m below a downward-looking camera."""
    v, u = np.indices(camera.shape, dtype=float)
    top = 0.65
    x, y = (u - camera.cx) * top / camera.fx, (v - camera.cy) * top / camera.fy
    cx, cy, yaw = rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05), rng.uniform(0, np.pi)
    local_x = np.cos(yaw) * (x - cx) + np.sin(yaw) * (y - cy)
    local_y = -np.sin(yaw) * (x - cx) + np.cos(yaw) * (y - cy)
    inside = (np.abs(local_x) <= 0.02) & (np.abs(local_y) <= 0.04)
    return np.where(inside, top, 0.7).astype(np.float32)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def start_planner(policy: str, domain: str) -> subprocess.Popen:
    env = dict(os.environ, ROS_DOMAIN_ID=domain)
    return subprocess.Popen([sys.executable, "-m", "gqcnn_planner.planner_node", "--ros-args", "-p",
                             f"policy:={policy}", "-p", "segment_if_no_mask:=false"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goals", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100, help="goals before the baseline RSS is taken")
    parser.add_argument("--policy", default="ranking")
    parser.add_argument("--out", type=Path, default=RESULTS / "planner_memory.json")
    args = parser.parse_args(argv)

    domain = str(np.random.default_rng().integers(101, 200))
    os.environ["ROS_DOMAIN_ID"] = domain  # keep away from other runs; the planner process gets the same
    planner = start_planner(args.policy, domain)
    camera = CameraIntrinsics.primesense()
    info = intrinsics_to_camera_info(camera)
    rng = np.random.default_rng(0)
    goals = [PlanGrasp.Goal(depth=depth_to_image(box_scene(camera, rng)), camera_info=info) for _ in range(20)]
    samples: list[tuple[int, float]] = []
    statuses: dict[int, int] = {}
    try:
        with RosThread(args=[]) as ros:
            node = ros.add(Node("planner_memory_client", context=ros.context))
            client = ThreadSafeActionClient(node, PlanGrasp, "plan_grasp")
            if not client.wait_for_server(timeout_sec=60.0):
                print("planner_memory: plan_grasp did not come up within 60 s", file=sys.stderr)
                return 1
            samples.append((0, rss_mb(planner.pid)))
            start = time.perf_counter()
            for i in tqdm(range(1, args.goals + 1), desc="goals", unit="goal"):
                result = ros.send_goal(client, goals[i % len(goals)], timeout=60.0)
                statuses[result.status] = statuses.get(result.status, 0) + 1
                if i % 50 == 0 or i == args.warmup:
                    samples.append((i, rss_mb(planner.pid)))
            elapsed = time.perf_counter() - start
    finally:
        planner.send_signal(signal.SIGINT)
        try:
            planner.wait(timeout=20)
        except subprocess.TimeoutExpired:
            planner.kill()

    rss = dict(samples)
    after_warmup = [mb for i, mb in samples if i >= args.warmup]
    growth = after_warmup[-1] - rss[args.warmup]
    slope = np.polyfit([i for i, _ in samples if i >= args.warmup], after_warmup, 1)[0]
    report = {
        "goals": args.goals, "warmup": args.warmup, "policy": args.policy, "image": "640x480 32FC1",
        "rss_start_mb": round(rss[0], 1), "rss_after_warmup_mb": round(rss[args.warmup], 1),
        "rss_end_mb": round(after_warmup[-1], 1), "rss_max_after_warmup_mb": round(max(after_warmup), 1),
        "growth_after_warmup_mb": round(growth, 1), "slope_kb_per_goal": round(slope * 1024, 2),
        "target_growth_mb": TARGET_MB, "meets_target": bool(growth <= TARGET_MB),
        "statuses": {str(k): v for k, v in sorted(statuses.items())}, "goals_per_s": round(args.goals / elapsed, 1),
        "samples": [[i, round(mb, 1)] for i, mb in samples],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(f"RSS {report['rss_start_mb']} MB at start, {report['rss_after_warmup_mb']} MB after {args.warmup} goals, "
          f"{report['rss_end_mb']} MB after {args.goals}: growth {growth:+.1f} MB after warm-up "
          f"({report['slope_kb_per_goal']:+.1f} kB/goal; target <= {TARGET_MB:g} MB), statuses {report['statuses']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(args.out)
    return 0 if report["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
