"""Training, resume, evaluation, export and the planner's model loader on a tiny synthetic dataset.

The dataset has a learnable signal: successful grasps have an object (a depth bump) centred between the
jaws, failed ones have it off to one side.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_runs import PER_OBJECT, write_synthetic_dataset
from synthetic_runs import dexnet_main as main

from dexnet import dataset
from dexnet.calibrate import calibrated_probability
from dexnet.export import export_run, onnx_bytes
from dexnet.network import GQCNNNet, load_weights, predict_log_odds
from dexnet.run_dir import load_run_config, load_run_model, read_metrics
from dexnet.stream import SplitShards, iter_epoch_batches
from dexnet.train import TrainConfig, train
from gqcnn_core.crop import CROP_TRANSFORM_VERSION
from gqcnn_core.model import GQCNN, ModelError, card_path

torch.set_num_threads(1)


def test_training_learns_and_writes_its_run_files(trained_run):
    for name in ("config.json", "checkpoint.pt", "model_best.pt", "model_final.pt", "metrics.csv", "summary.json"):
        assert (trained_run / name).is_file(), name
    rows = read_metrics(trained_run)
    assert [r["step"] for r in rows] == [20, 40, 60]
    assert rows[-1]["train_loss"] < 0.8 * rows[0]["train_loss"]
    assert rows[-1]["val_accuracy"] > 0.85 and rows[-1]["val_auc"] > 0.9
    summary = json.loads((trained_run / "summary.json").read_text())
    assert summary["steps"] == 60 and summary["class_balance"] == "weighted"
    config = json.loads((trained_run / "config.json").read_text())
    assert config["crop"]["transform_version"] == CROP_TRANSFORM_VERSION
    assert 0.15 < config["statistics"]["positive_rate"] < 0.45


def test_executed_outcomes_are_the_labels_where_present(tmp_path):
    robust_eq, collision = np.array([0.004, 0.004, 0.001, 0.004]), np.array([False, False, False, True])
    executed = np.array([-1, 0, 1, -1], dtype=np.int8)
    assert dataset.shard_labels({"robust_eq": robust_eq, "collision": collision, "executed": executed}).tolist() == [
        True, False, True, False]
    # Trained on outcomes that contradict robust_eq, the network learns the outcomes, and "best" follows val AUC.
    data = write_synthetic_dataset(tmp_path / "executed", executed=True)
    run = tmp_path / "run"
    args = ["train", str(data), "--out", str(run), "--steps", "60", "--batch-size", "32", "--eval-every", "20",
            "--shuffle-buffer", "100", "--threads", "1", "--no-progress", "--seed", "3", "--best-metric", "val_auc"]
    assert main(args) == 0
    rows = read_metrics(run)
    assert rows[-1]["val_auc"] > 0.9
    summary = json.loads((run / "summary.json").read_text())
    best = max(rows, key=lambda r: r["val_auc"])
    assert summary["best"]["step"] == best["step"] and summary["best"]["val_auc"] == pytest.approx(best["val_auc"])
    # dexnet evaluate orders each image's grasps by the outcomes too (one image per synthetic object).
    assert main(["evaluate", str(run), str(data), "--split", "val", "--no-progress"]) == 0
    metrics = json.loads((run / "eval_val" / "metrics.json").read_text())
    val_objects = len(dataset.split_shards(data, "val"))
    assert metrics["images_with_both_labels"] == val_objects and metrics["within_image_auc"] > 0.9


def test_best_weights_follow_the_chosen_metric(synthetic, tmp_path, monkeypatch):
    from dexnet import trainer

    # Accuracy peaks at step 20, AUC at step 40: each metric must pick its own step.
    for metric, best_step in (("val_accuracy", 20), ("val_auc", 40), ("nan_auc", None)):
        scores = iter([(0.9, 0.6), (0.8, 0.9), (0.85, 0.7)] if metric != "nan_auc" else [(0.9, float("nan"))])

        def validate(model, shards, scores=scores):
            accuracy, auc = next(scores)
            return {"val_loss": 0.5, "val_balanced_accuracy": 0.5, "val_accuracy": accuracy, "val_auc": auc}

        monkeypatch.setattr(trainer, "validate", validate)
        config = TrainConfig(steps=60, batch_size=32, eval_every=20, shuffle_buffer=100, seed=3,
                             best_metric="val_auc" if metric == "nan_auc" else metric)
        if best_step is None:  # one label in the validation split: AUC is undefined, said instead of ignored
            with pytest.raises(ValueError, match="val_auc is undefined"):
                train(synthetic, tmp_path / metric, config, progress=False)
            assert not (tmp_path / metric).exists()
            continue
        assert train(synthetic, tmp_path / metric, config, progress=False)["best"]["step"] == best_step


def test_stream_skips_to_any_batch_without_changing_the_order(synthetic):
    shards = SplitShards.of(synthetic, "train")
    full = list(iter_epoch_batches(shards, seed=1, epoch=2, batch_size=16, buffer=100))
    assert len(full) == shards.total // 16
    tail = list(iter_epoch_batches(shards, seed=1, epoch=2, batch_size=16, buffer=100, start_batch=7))
    assert len(tail) == len(full) - 7
    for a, b in zip(full[7:], tail, strict=True):
        np.testing.assert_array_equal(a["crops"], b["crops"])
        np.testing.assert_array_equal(a["labels"], b["labels"])
    other_epoch = next(iter_epoch_batches(shards, seed=1, epoch=3, batch_size=16, buffer=100))
    assert not np.array_equal(other_epoch["crops"], full[0]["crops"])


SMALL = TrainConfig(steps=10, batch_size=16, checkpoint_every=3, eval_every=4, shuffle_buffer=100, seed=5)


def final_state(run: Path) -> dict[str, torch.Tensor]:
    return load_weights(run / "model_final.pt")[0].state_dict()


def metric_rows(run: Path) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "elapsed_s"} for row in read_metrics(run)]


def test_resume_after_ctrl_c_or_crash_continues_exactly(synthetic, tmp_path):
    train(synthetic, tmp_path / "straight", SMALL, progress=False)

    def ctrl_c_at_5(step: int) -> None:
        if step == 5:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        train(synthetic, tmp_path / "interrupted", SMALL, progress=False, on_step=ctrl_c_at_5)
    assert torch.load(tmp_path / "interrupted" / "checkpoint.pt", weights_only=True)["step"] == 5
    train(synthetic, tmp_path / "interrupted", SMALL, resume=True, progress=False)

    def crash_at_7(step: int) -> None:  # a kill: no checkpoint beyond the periodic one at step 6
        if step == 7:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        train(synthetic, tmp_path / "crashed", SMALL, progress=False, on_step=crash_at_7)
    assert torch.load(tmp_path / "crashed" / "checkpoint.pt", weights_only=True)["step"] == 6
    train(synthetic, tmp_path / "crashed", SMALL, resume=True, progress=False)

    def crash_at_2(step: int) -> None:  # killed before the first checkpoint: resume starts over
        if step == 2:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        train(synthetic, tmp_path / "early", SMALL, progress=False, on_step=crash_at_2)
    assert not (tmp_path / "early" / "checkpoint.pt").exists()
    train(synthetic, tmp_path / "early", SMALL, resume=True, progress=False)

    expected = final_state(tmp_path / "straight")
    for run in ("interrupted", "crashed", "early"):
        got = final_state(tmp_path / run)
        for key, value in expected.items():
            torch.testing.assert_close(got[key], value, rtol=0, atol=1e-6, msg=f"{run}: {key}")
        assert metric_rows(tmp_path / run) == metric_rows(tmp_path / "straight")


def test_resume_can_extend_but_not_change_a_run(synthetic, tmp_path):
    run = tmp_path / "run"
    train(synthetic, run, replace(SMALL, steps=4, eval_every=None), progress=False)
    with pytest.raises(ValueError, match="already holds a training run"):
        train(synthetic, run, SMALL, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        train(synthetic, run, replace(SMALL, steps=6, eval_every=None, batch_size=8), resume=True, progress=False)
    summary = train(synthetic, run, replace(SMALL, steps=6, eval_every=None), resume=True, progress=False)
    assert summary["steps"] == 6
    assert load_run_config(run)["train"]["steps"] == 6  # the model card reports the length actually trained


def test_cli_reports_bad_input_in_one_line(tmp_path, synthetic, trained_run, capsys):
    assert main(["train", str(tmp_path / "nothing"), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no manifest.json" in err and len(err.splitlines()) == 1
    assert main(["train", str(synthetic), "--out", str(trained_run), "--no-progress"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", str(synthetic), "--out", str(tmp_path / "r2"), "--resume", "--no-progress"]) == 2
    assert main(["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "not a training run directory" in capsys.readouterr().err


def test_export_card_parity_and_planner_loader(exported, trained_run, synthetic):
    card = json.loads(card_path(exported).read_text())
    assert card["parity_max_abs_diff"] < 1e-4
    assert [i["name"] for i in card["inputs"]] == ["crops", "gripper_depth"]
    assert card["inputs"][0]["shape"] == ["batch", 1, 32, 32] and card["inputs"][0]["units"] == "metres"
    assert card["crop"] == {"window_px": 96, "out_px": 32, "transform_version": CROP_TRANSFORM_VERSION}
    assert card["dataset"]["manifest_hash"] == dataset.manifest_hash(synthetic)
    assert card["training"]["train"]["batch_size"] == 32
    assert card["metrics"]["training"]["steps"] == 60
    assert card["benchmark"]["crops_per_s_batch_256"] > 0

    model = GQCNN.load(exported, batch_size=7, threads=1)  # 7: predictions span several internal batches
    assert model.crop_spec.crop_size == 96 and model.crop_spec.out_size == 32
    assert model.crop_transform_version == CROP_TRANSFORM_VERSION
    shard = dataset.read_shard(SplitShards.of(synthetic, "test").paths[0])
    got = model.predict(shard["crops"], shard["gripper_depth"])
    torch_model, _ = load_run_model(trained_run)
    log_odds = predict_log_odds(torch_model, shard["crops"], shard["gripper_depth"])
    calibration = card["calibration"]
    expected = calibrated_probability(log_odds, calibration["temperature"], calibration["bias"])
    assert got.shape == (PER_OBJECT,) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert model.predict(np.zeros((0, 32, 32), np.float32), np.zeros(0, np.float32)).shape == (0,)
    with pytest.raises(ValueError, match="crops must be"):
        model.predict(np.zeros((2, 48, 48), np.float32), np.zeros(2))
    with pytest.raises(ValueError, match="gripper depths"):
        model.predict(np.zeros((2, 32, 32), np.float32), np.zeros(3))


def test_evaluate_run_and_onnx_agree(trained_run, synthetic, tmp_path):
    exported = tmp_path / "uncalibrated.onnx"  # the same function as the torch network
    export_run(trained_run, exported, threads=1, benchmark_seconds=0.1, calibrate=False)
    assert main(["evaluate", str(trained_run), str(synthetic), "--split", "test", "--no-progress"]) == 0
    run_metrics = json.loads((trained_run / "eval_test" / "metrics.json").read_text())
    for name in ("roc.png", "reliability.png", "gallery.png", "training_curves.png"):
        assert (trained_run / "eval_test" / name).stat().st_size > 1000
    assert 0 <= run_metrics["ece"] < 0.5 and sum(run_metrics["calibration"]["bin_counts"]) == 2 * PER_OBJECT
    if "sensor_preset" in dataset.FIELDS:  # format-2 datasets record sensor and scene kind per datapoint
        by_sensor = run_metrics["groups"]["sensor_preset"]
        assert by_sensor["ideal"]["datapoints"] == by_sensor["structured_light"]["datapoints"] == PER_OBJECT
        assert set(run_metrics["groups"]["scene_kind"]) == {"single", "heap"}
    out = exported.parent / "onnx_eval"
    assert main(["evaluate", str(exported), str(synthetic), "--split", "test", "--out", str(out), "--no-progress"]) == 0
    onnx_metrics = json.loads((out / "metrics.json").read_text())
    for key in ("accuracy", "precision", "recall", "auc", "precision_q_gt_0.5", "num_q_gt_0.5"):
        assert key in onnx_metrics
        assert onnx_metrics[key] == pytest.approx(run_metrics[key], abs=1e-3), key
    assert run_metrics["datapoints"] == 2 * PER_OBJECT and run_metrics["auc"] > 0.8


def copy_with_card(model_bytes: bytes, card: dict, path: Path) -> Path:
    path.write_bytes(model_bytes)
    card_path(path).write_text(json.dumps(card))
    return path


class WrongInputs(torch.nn.Module):
    def forward(self, crops: torch.Tensor, gripper_depth: torch.Tensor) -> torch.Tensor:
        return crops.mean(dim=(1, 2, 3)) + gripper_depth[:, 0]


def wrong_model_bytes(side: int, names: tuple[str, str]) -> bytes:
    import io
    import warnings

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            WrongInputs(),
            (torch.zeros(2, 1, side, side), torch.zeros(2, 1)),
            buffer,
            dynamo=False,
            input_names=list(names),
            output_names=["p_success"],
            dynamic_axes={names[0]: {0: "batch"}, names[1]: {0: "batch"}, "p_success": {0: "batch"}},
        )
    return buffer.getvalue()


def test_bad_model_files_give_one_clear_model_error(exported, tmp_path):
    card = json.loads(card_path(exported).read_text())
    good = exported.read_bytes()
    cases = {
        "missing": (tmp_path / "missing.onnx", "model file not found"),
        "garbage": (copy_with_card(b"\x00not onnx at all", card, tmp_path / "garbage.onnx"), "not a valid ONNX model"),
        "48px": (
            copy_with_card(wrong_model_bytes(48, ("crops", "gripper_depth")), card, tmp_path / "big.onnx"),
            r"input 'crops' has shape \['N', 1, 48, 48\], expected \['N', 1, 32, 32\]",
        ),
        "names": (
            copy_with_card(wrong_model_bytes(32, ("image", "pose")), card, tmp_path / "names.onnx"),
            "model inputs are",
        ),
        "transform": (
            copy_with_card(good, card | {"crop": card["crop"] | {"transform_version": "x-v0"}}, tmp_path / "t.onnx"),
            "cut with transform 'x-v0'",
        ),
        "card format": (copy_with_card(good, {"format": "something"}, tmp_path / "c.onnx"), "not a GQ-CNN model card"),
    }
    for name, (path, message) in cases.items():
        with pytest.raises(ModelError, match=message) as info:
            GQCNN.load(path)
        assert len(str(info.value).splitlines()) == 1, name
    no_card = tmp_path / "no_card.onnx"
    no_card.write_bytes(good)
    with pytest.raises(ModelError, match=r"model card no_card\.json not found"):
        GQCNN.load(no_card)


def test_untrained_network_exports_without_a_run(tmp_path):
    # The benchmark exports untrained presets; the graph alone must already satisfy the checker.
    assert len(onnx_bytes(GQCNNNet())) > 1000
