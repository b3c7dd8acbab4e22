"""Candidate census in simulation: how many of the planner's grasp candidates would succeed, and does q rank them?

For each scene of the grasping benchmark (same objects, seeds, noise and segmentation as sim_grasping.py), GQ-CNN
ranking plans exactly as in the benchmark and every candidate it scored is executed in the MuJoCo simulation, so
the top-q candidate is the ranking policy's pick and the candidates' mean is random antipodal's expectation.
This explains the benchmark's baselines: a policy can only beat random by as much as the candidates' success
rate leaves room for.

    python -m benchmarks.sim_candidates [--preset paper|easy] [--objects 20] [--trials 1] [--workers 2]

Writes benchmarks/results/sim_candidates.json: success of all candidates, by q bin, the GQ-CNN's AUC on sim
outcomes (over all candidates, and within scenes, where ranking acts), and per scene the top-q candidate's success
against the candidates' mean (random's expectation).

`--save-dataset DIR` also writes every executed candidate as a Dex-Net dataset (`dexnet.dataset`, format 3): the
crop and gripper depth the GQ-CNN scored, and the outcome in `executed`, which is then the datapoint's label. With
`--object-split train|val|test` the objects come from that split of the pybullet database instead of the benchmark's
known / novel sets (train skips the benchmark's known objects) and the trials start at `--first-trial`, so the scenes
are not the benchmark's. `dexnet train --init` fine-tunes on such a dataset and `dexnet export --calibration-data`
calibrates q on its val objects: q becomes the probability that the executor's grasp holds. A rerun resumes by object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.sim_common import (
    DEFAULT_PRESET,
    RESULTS,
    load_benchmark_object,
    observe,
    parse_sim_overrides,
    presets,
    select_objects,
    sim_settings,
    worker_pool,
)

Q_BINS = (0.0, 0.02, 0.1, 0.3, 0.5, 1.0001)
BENCHMARK_OBJECTS_PER_SET = 20  # sim_grasping's default: these objects never go into --save-dataset's splits


class RecordingModel:
    """The GQ-CNN plus a record of what the planner asked it: crops, gripper depths and q of each call."""

    def __init__(self, model, calls: list | None = None) -> None:
        self.model = model
        self.calls = [] if calls is None else calls

    @property
    def crop_spec(self):
        return self.model.crop_spec

    def for_camera(self, camera) -> RecordingModel:
        return RecordingModel(self.model.for_camera(camera), self.calls)

    def predict(self, crops: np.ndarray, depths: np.ndarray) -> np.ndarray:
        q = self.model.predict(crops, depths)
        self.calls.append((np.asarray(crops, np.float32).reshape(len(q), *np.shape(crops)[-2:]),
                           np.asarray(depths, np.float32).reshape(-1), np.asarray(q)))
        return q


def executed_datapoints(record: RecordingModel, planned, successes: list[bool], trial: int, object_id: int,
                        sensor: str) -> dict[str, np.ndarray]:
    """The executed candidates of one ranking plan as dataset rows (the crops the GQ-CNN scored, in plan order)."""
    from dexnet import dataset
    from gqcnn_core.sensor import SENSOR_PRESETS

    [(crops, depths, q)] = record.calls  # ranking scores its candidates in one call, then sorts them by q
    order = np.argsort(-q, kind="stable")[: len(successes)]
    n = len(order)
    if not np.array_equal(q[order], planned.q_values[:n]):
        raise RuntimeError("the recorded crops do not line up with the plan's candidates")
    return {
        "crops": crops[order], "gripper_depth": depths[order], "robust_eq": np.full(n, np.nan),
        "collision": np.zeros(n, bool), "object_id": np.full(n, object_id), "stable_pose_id": np.zeros(n),
        "image_id": np.full(n, trial), "grasp_id": np.arange(n), "center_px": planned.candidates.centers[:n],
        "angle": planned.candidates.angles[:n], "width": planned.candidates.widths[:n],
        "width_px": planned.candidates.widths_px[:n], "scene_kind": np.zeros(n), "heap_id": np.full(n, -1),
        "sensor_preset": np.full(n, SENSOR_PRESETS.index(sensor) if sensor in SENSOR_PRESETS else -1),
        "camera_height": np.full(n, np.nan), "camera_tilt": np.full(n, np.nan),
        "executed": np.asarray(successes, dtype=np.int8),
    } if n else dataset.empty_shard()


def census_object(job: dict) -> dict:
    """Execute every candidate of every trial of one object (runs in a worker process)."""
    from dexnet.generate import DEFAULT_GRIPPER
    from dexnet.mesh import MeshError
    from gqcnn_core.gripper import load_gripper
    from gqcnn_core.model import GQCNN
    from gqcnn_planner.policies import PlanningError, PolicyConfig, plan
    from gqcnn_planner.sampling import SamplerConfig
    from yumi_bridge.motion import GraspRefusedError
    from yumi_bridge.sim import GraspSimulator

    gripper = load_gripper(DEFAULT_GRIPPER)
    try:
        mesh = load_benchmark_object(job["path"], gripper)
        sim = GraspSimulator(mesh, gripper=gripper, settings=sim_settings(job["preset"], job["sim_overrides"]))
    except (MeshError, RuntimeError, ValueError) as err:
        if job.get("save_dataset"):  # recorded, so a rerun does not load and decompose it again
            save_object_record(Path(job["save_dataset"]), job, {"status": "skipped", "reason": str(err), "count": 0,
                                                                "positives": 0})
        return {**job, "skipped": str(err), "scenes": []}
    model = RecordingModel(GQCNN.load(job["model"], threads=1))
    config = PolicyConfig(gripper=gripper, top_k=SamplerConfig().max_candidates)  # return every scored one
    scenes, rows = [], []
    first = job.get("first_trial", 0)
    for t in range(first, first + job["trials"]):
        model.calls.clear()
        scene, depth, mask, _ = observe(sim, job["name"], t)
        try:
            planned = plan("ranking", depth, scene.camera, model, np.random.default_rng(scene.seed), mask,
                           config=config)
        except PlanningError:
            scenes.append({"trial": t, "q": [], "success": []})
            continue
        successes = []
        for i in range(len(planned.candidates)):
            try:
                successes.append(bool(sim.run_grasp(scene, planned.candidates.grasp(i)).success))
            except GraspRefusedError:
                successes.append(False)
        scenes.append({"trial": t, "q": [float(q) for q in planned.q_values], "success": successes})
        if job.get("save_dataset"):
            rows.append(executed_datapoints(model, planned, successes, t, job["object_id"], sim.settings.sim_sensor))
    if job.get("save_dataset"):
        save_object_shard(Path(job["save_dataset"]), job, rows)
    return {**job, "scenes": scenes}


def save_object_shard(out: Path, job: dict, rows: list[dict]) -> None:
    """One object's executed candidates as a shard, then its record beside it (a record always has its shard)."""
    from dexnet import dataset

    arrays = {k: np.concatenate([r[k] for r in rows]) for k in dataset.FIELDS} if rows else dataset.empty_shard()
    shard = dataset.shard_name(job["object_id"])
    count = dataset.write_shard(out / shard, arrays)
    save_object_record(out, job, {"status": "done", "shard": shard, "count": count,
                                  "positives": int(dataset.shard_labels(arrays).sum())})


def record_path(out: Path, object_id: int) -> Path:
    from dexnet import dataset

    return (out / dataset.shard_name(object_id)).with_suffix(".json")


def save_object_record(out: Path, job: dict, fields: dict) -> None:
    """The object's manifest record, with the settings that produced it (a resumed run must match them)."""
    from dexnet import dataset

    record = {"id": job["object_id"], "name": job["name"], "split": job["split"], "settings": job["settings"],
              **fields}
    text = json.dumps(record).encode()
    dataset.atomic_write_bytes(record_path(out, job["object_id"]), lambda f: f.write(text))


def saved_records(out: Path) -> list[dict]:
    """The per-object records on disk, by object id: what a resumed run skips and what the manifest lists."""
    from dexnet import dataset

    return sorted((json.loads(p.read_text()) for p in (out / dataset.SHARD_DIR).glob("obj_*.json")),
                  key=lambda r: r["id"])


def write_executed_manifest(out: Path, settings: dict, model_card: dict) -> dict:
    """The dataset's manifest from the per-object records on disk (so an interrupted run's objects count)."""
    from dexnet import dataset
    from gqcnn_core.crop import CROP_TRANSFORM_VERSION

    records = [r if r["status"] == "done" else {**r, "shard": None} for r in saved_records(out)]
    count = sum(r["count"] for r in records)
    positives = sum(r["positives"] for r in records)
    crop = model_card["crop"]
    manifest = {
        "format_version": dataset.FORMAT_VERSION, "kind": "executed grasps (benchmarks.sim_candidates)",
        "label": "executed: the grasp held in the yumi_bridge simulation",
        **settings,
        "crop": {"crop_size": crop["window_px"], "out_size": crop["out_px"],
                 "transform_version": crop.get("transform_version", CROP_TRANSFORM_VERSION)},
        "camera": model_card.get("camera"), "objects": records, "count": count,
        "positive_rate": positives / count if count else None,
        "split_counts": {s: sum(r["count"] for r in records if r["split"] == s) for s in dataset.SPLITS},
    }
    dataset.write_manifest(out, manifest)
    return manifest


def split_objects(split: str, count: int, skip_benchmark: int) -> list[dict]:
    """The first `count` pybullet objects of a dataset split, after the benchmark's own (known = train, novel =
    test) so that training data never holds a benchmark object."""
    from dexnet import dataset
    from dexnet.mesh import pybullet_object_paths

    chosen = [(i, p) for i, p in enumerate(pybullet_object_paths())
              if dataset.object_split(f"pybullet/{p.stem}") == split]
    skip = skip_benchmark if split in ("train", "test") else 0
    return [{"name": f"pybullet/{p.stem}", "path": str(p), "set": split, "object_id": i}
            for i, p in chosen[skip : skip + count]]


def summarise(records: list[dict]) -> dict:
    from sklearn.metrics import roc_auc_score

    q = np.array([v for r in records for s in r["scenes"] for v in s["q"]])
    ok = np.array([v for r in records for s in r["scenes"] for v in s["success"]], dtype=bool)
    scenes = [{"name": r["name"], **s} for r in records for s in r["scenes"]]
    scored = [s for s in scenes if s["q"]]
    # Within a scene is where ranking acts: does q order that scene's candidates (mixed outcomes only)?
    within = [roc_auc_score(s["success"], s["q"]) for s in scored if 0 < sum(s["success"]) < len(s["success"])]
    bins = []
    for lo, hi in itertools.pairwise(Q_BINS):
        inside = (q >= lo) & (q < hi)
        bins.append({"q_from": lo, "q_to": min(hi, 1.0), "candidates": int(inside.sum()),
                     "success_rate": float(ok[inside].mean()) if inside.any() else None})
    return {
        "scenes": len(scenes), "scenes_without_candidates": len(scenes) - len(scored),
        "scenes_without_a_successful_candidate": sum(not any(s["success"]) for s in scored),
        "candidates": len(q), "candidate_success_rate": float(ok.mean()) if len(ok) else None,
        "auc_q_vs_sim_success": float(roc_auc_score(ok, q)) if 0 < ok.sum() < len(ok) else None,
        "by_q": bins,
        # q_values come sorted, so index 0 is what GQ-CNN ranking executes; the mean is random's expectation.
        "top_q_success_rate": float(np.mean([s["success"][0] for s in scored])) if scored else None,
        "random_candidate_expected_success": float(np.mean([np.mean(s["success"]) for s in scored]))
        if scored else None,
        "scenes_with_mixed_outcomes": len(within),
        "mean_within_scene_auc": float(np.mean(within)) if within else None,
        "per_scene": [{"name": s["name"], "trial": s["trial"], "candidates": len(s["q"]),
                       "top_q": s["q"][0] if s["q"] else None, "top_q_success": s["success"][0] if s["q"] else None,
                       "candidate_success_rate": float(np.mean(s["success"])) if s["q"] else None}
                      for s in sorted(scenes, key=lambda s: (s["name"], s["trial"]))],
    }


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f} %"


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from gqcnn_core.paths import default_model_path

    parser = argparse.ArgumentParser(prog="python -m benchmarks.sim_candidates", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=default_model_path())
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=presets(),
                        help="physical conditions and sensor, as in sim_grasping")
    parser.add_argument("--objects", type=int, default=20, help="objects per set (known, novel)")
    parser.add_argument("--trials", type=int, default=1, help="scenes per object (the benchmark's first ones)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sim", action="append", default=[], metavar="NAME=VALUE",
                        help="override a sim setting, as in sim_grasping.py")
    parser.add_argument("--out-dir", type=Path, help=f"report directory (default {RESULTS}; with --save-dataset, DIR)")
    parser.add_argument("--save-dataset", type=Path, metavar="DIR",
                        help="also write the executed candidates as a Dex-Net dataset (label: the outcome)")
    parser.add_argument("--object-split", choices=("train", "val", "test"),
                        help="objects of this dataset split (after the benchmark's) instead of known / novel")
    parser.add_argument("--first-trial", type=int, default=0, help="first scene index per object")
    args = parser.parse_args(argv)
    if not Path(args.model).is_file():
        print(f"sim_candidates: no model at {args.model}", file=sys.stderr)
        return 1
    try:
        overrides = parse_sim_overrides(args.sim)
    except ValueError as err:
        print(f"sim_candidates: {err}", file=sys.stderr)
        return 2
    if args.save_dataset and not args.object_split:
        print("sim_candidates: --save-dataset needs --object-split (the benchmark's own scenes are not training data)",
              file=sys.stderr)
        return 2
    args.out_dir = args.out_dir or args.save_dataset or RESULTS
    objects = (split_objects(args.object_split, args.objects, BENCHMARK_OBJECTS_PER_SET) if args.object_split
               else select_objects(args.objects, None))
    # What makes a saved object's rows what they are: a resumed run must use the same.
    settings = {"model": Path(args.model).name, "preset": args.preset, "sim_overrides": overrides,
                "first_trial": args.first_trial, "trials": args.trials}
    jobs = [{**o, "model": str(args.model), "trials": args.trials, "first_trial": args.first_trial,
             "preset": args.preset, "sim_overrides": overrides, "object_id": o.get("object_id", i),
             "split": args.object_split or {"known": "train", "novel": "test"}[o["set"]], "settings": settings,
             "save_dataset": str(args.save_dataset) if args.save_dataset else None}
            for i, o in enumerate(objects)]
    if args.save_dataset:  # resume: objects with a record on disk are done, if made with these settings
        saved = saved_records(args.save_dataset)
        if any(r.get("settings") != settings for r in saved):
            print(f"sim_candidates: {args.save_dataset} holds grasps saved with other settings (model, preset, --sim, "
                  "--first-trial, --trials): use another directory", file=sys.stderr)
            return 2
        done = {r["id"] for r in saved}
        jobs = [j for j in jobs if j["object_id"] not in done]
    start = time.perf_counter()
    with worker_pool(args.workers) as pool:
        records = list(tqdm(pool.imap_unordered(census_object, jobs), total=len(jobs), desc="objects", unit="obj"))
    if args.save_dataset:
        from gqcnn_core.model import GQCNN

        manifest = write_executed_manifest(args.save_dataset, settings, GQCNN.load(args.model).card)
        print(f"dataset {args.save_dataset}: {manifest['count']} executed grasps of {len(manifest['objects'])} "
              f"objects, {100 * (manifest['positive_rate'] or 0):.0f} % held")
    report = {"model": str(args.model), "preset": args.preset, "objects_per_set": args.objects,
              "trials_per_object": args.trials,
              "sim_overrides": overrides, "wall_time_s": round(time.perf_counter() - start, 1),
              "sets": {group: summarise([r for r in records if r["set"] == group])
                       for group in sorted({r["set"] for r in records})}}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "sim_candidates.json").write_text(json.dumps(report, indent=1))
    for group, summary in report["sets"].items():
        print(f"{group}: {summary['candidates']} candidates in {summary['scenes']} scenes, "
              f"{percent(summary['candidate_success_rate'])} succeed; top-q {percent(summary['top_q_success_rate'])} "
              f"vs random expectation {percent(summary['random_candidate_expected_success'])}; "
              f"AUC {summary['auc_q_vs_sim_success'] or '-'}, within scenes {summary['mean_within_scene_auc'] or '-'} "
              f"({summary['scenes_with_mixed_outcomes']} scenes with mixed outcomes)")
        for b in summary["by_q"]:
            print(f"  q {b['q_from']:.2f}-{b['q_to']:.2f}: {b['candidates']} candidates, "
                  f"{percent(b['success_rate'])} succeed")
    print(f"wall time {report['wall_time_s']} s; written {args.out_dir / 'sim_candidates.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
