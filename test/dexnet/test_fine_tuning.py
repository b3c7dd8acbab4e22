"""Fine-tuning (`dexnet train --init`), a truncated shard, and model cards free of the training machine's paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_runs import dexnet_main as main

from dexnet import dataset
from dexnet.network import load_weights
from dexnet.run_dir import load_run_config, load_run_model, read_metrics
from dexnet.train import TrainConfig, train
from dexnet.warm_start import initial_model
from gqcnn_core.model import GQCNN, card_path
from gqcnn_core.paths import SHIPPED_MODEL

SHORT = ["--batch-size", "32", "--shuffle-buffer", "100", "--threads", "1", "--no-progress", "--seed", "9"]


def test_shipped_onnx_model_rebuilds_as_a_torch_network():
    start = initial_model(SHIPPED_MODEL)
    assert start.preset == "fast" and start.info["kind"] == "onnx"
    assert start.info["parity_max_abs_diff"] < 1e-4  # checked on a batch against onnxruntime
    assert not Path(start.info["source"]).is_absolute()


def test_init_from_an_exported_model_continues_from_its_weights(exported, trained_run, synthetic, tmp_path):
    start = initial_model(exported)
    trained, _ = load_run_model(trained_run)
    for key, value in trained.state_dict().items():
        if key != "prior_log_odds":
            torch.testing.assert_close(start.model.state_dict()[key], value, rtol=0, atol=0, msg=key)

    fresh, tuned = tmp_path / "fresh", tmp_path / "tuned"
    assert main(["train", str(synthetic), "--out", str(fresh), "--steps", "2", "--eval-every", "2", *SHORT]) == 0
    args = ["train", str(synthetic), "--out", str(tuned), "--init", str(exported), "--steps", "2", "--eval-every", "2"]
    assert main([*args, *SHORT]) == 0
    # Two steps from the trained weights already classify like the trained run; two from scratch do not.
    assert read_metrics(tuned)[0]["val_auc"] > 0.9 > read_metrics(fresh)[0]["val_auc"]
    config = load_run_config(tuned)
    assert config["init"]["kind"] == "onnx" and config["train"]["preset"] == "fast"
    assert not Path(config["init"]["source"]).is_absolute()
    # The normalisation the initial weights were trained with is kept.
    tuned_model, _ = load_run_model(tuned, "final")
    assert tuned_model.normalization()["crop_std"] == pytest.approx(trained.normalization()["crop_std"])


def test_init_from_a_run_and_its_errors(trained_run, synthetic, tmp_path, capsys):
    args = ["train", str(synthetic), "--out", str(tmp_path / "r"), "--init", str(trained_run), "--steps", "1"]
    assert main([*args, *SHORT]) == 0
    assert load_run_config(tmp_path / "r")["init"]["kind"] == "run"
    capsys.readouterr()
    bad = [
        (["--init", str(tmp_path / "missing.onnx")], "no such model"),
        (["--init", str(trained_run), "--preset", "reference"], "drop --preset"),
        (["--init", str(trained_run), "--resume"], "--init starts a new run"),
    ]
    for extra, message in bad:
        assert main(["train", str(synthetic), "--out", str(tmp_path / "bad"), "--steps", "1", *extra, *SHORT]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert not (tmp_path / "bad").exists()


def test_truncated_shard_is_one_line_exit_2_and_no_run_directory(synthetic, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(synthetic, data)
    shard = data / dataset.split_shards(data, "train")[0].relative_to(data)
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    out = tmp_path / "run"
    assert main(["train", str(data), "--out", str(out), "--steps", "3", *SHORT]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and shard.name in err and "unreadable shard" in err, err
    assert not out.exists()


def test_card_records_no_absolute_paths_and_the_training_camera(exported, tmp_path):
    card = json.loads(card_path(exported).read_text())

    def strings(value: object) -> list[str]:
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) else []

    absolute = [s for s in strings(card) if s.startswith("/") or str(tmp_path.parent) in s]
    assert absolute == []
    assert card["camera"]["fx"] == 525.0 and card["camera"]["depth_range_m"] == [0.6, 0.75]
    assert GQCNN.load(exported).card["camera"]["width"] == 640
    assert np.isfinite(card["calibration"]["temperature"])


def test_export_calibrates_on_the_runs_dataset_or_says_what_to_pass(trained_run, synthetic, tmp_path, capsys):
    moved = tmp_path / "run"
    shutil.copytree(trained_run, moved)
    config = json.loads((moved / "config.json").read_text())
    (moved / "config.json").write_text(json.dumps(config | {"dataset": str(tmp_path / "gone")}))
    out = tmp_path / "m.onnx"
    assert main(["export", str(moved), "--out", str(out), "--benchmark-seconds", "0.05"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--calibration-data" in err and len(err.splitlines()) == 1 and not out.exists()
    assert main(["export", str(moved), "--out", str(out), "--benchmark-seconds", "0.05", "--no-calibrate"]) == 0
    assert json.loads(card_path(out).read_text())["calibration"] is None
    args = ["export", str(moved), "--out", str(out), "--benchmark-seconds", "0.05"]
    assert main([*args, "--calibration-data", str(synthetic)]) == 0
    assert "val ECE" in capsys.readouterr().out
    calibration = json.loads(card_path(out).read_text())["calibration"]
    assert calibration["fit_split"] == "val" and calibration["val_datapoints"] > 0 and "ece_test_after" in calibration


def test_an_exported_model_is_recalibrated_not_calibrated_twice(exported, synthetic, tmp_path, capsys):
    out = tmp_path / "recalibrated.onnx"
    args = ["export", str(exported), "--out", str(out), "--benchmark-seconds", "0.05"]
    assert main(args) == 2
    assert "--calibration-data" in capsys.readouterr().err
    assert main([*args, "--calibration-data", str(synthetic)]) == 0
    first, second = (json.loads(card_path(p).read_text()) for p in (exported, out))
    # Fitted again from the network's own log-odds: the same calibration, not one on top of the other.
    assert second["calibration"]["temperature"] == pytest.approx(first["calibration"]["temperature"], rel=1e-3)
    assert second["weights"]["re_exported_from"] == exported.name and second["metrics"] == first["metrics"]
    shard = dataset.read_shard(dataset.split_shards(synthetic, "test")[0])
    got, expected = (GQCNN.load(p).predict(shard["crops"], shard["gripper_depth"]) for p in (out, exported))
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_fine_tuning_killed_before_its_first_checkpoint_resumes_from_the_initial_weights(exported, synthetic, tmp_path):
    config = TrainConfig(steps=4, batch_size=16, checkpoint_every=100, eval_every=100, shuffle_buffer=100, seed=5)
    start = initial_model(exported)
    train(synthetic, tmp_path / "straight", config, progress=False, init=start)

    def crash_at_2(step: int) -> None:
        if step == 2:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        train(synthetic, tmp_path / "killed", config, progress=False, init=start, on_step=crash_at_2)
    assert not (tmp_path / "killed" / "checkpoint.pt").exists()
    train(synthetic, tmp_path / "killed", config, resume=True, progress=False)
    expected = load_weights(tmp_path / "straight" / "model_final.pt")[0].state_dict()
    got = load_weights(tmp_path / "killed" / "model_final.pt")[0].state_dict()
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=1e-6, msg=key)
