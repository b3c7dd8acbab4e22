"""gqcnn-plan: plans from files without ROS, one JSON line out, readable errors with exit codes."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from gqcnn_planner.cli import main

GRIPPER_YAML = Path(__file__).resolve().parents[2] / "config" / "gripper_yumi.yaml"


@pytest.fixture
def files(tmp_path, scene):
    depth = tmp_path / "depth.npy"
    np.save(depth, scene.depth[..., None])  # HxWx1 is accepted too
    png = tmp_path / "depth.png"
    Image.fromarray(np.round(scene.depth * 1000).astype(np.uint16)).save(png)
    cam = tmp_path / "cam.yaml"
    cam.write_text(yaml.safe_dump(scene.camera.to_yaml_dict()))
    mask = tmp_path / "mask.png"
    Image.fromarray((scene.mask * 255).astype(np.uint8)).save(mask)
    return {"npy": depth, "png": png, "cam": cam, "mask": mask, "dir": tmp_path}


def test_plans_and_prints_one_json_line_with_grasp_fields(files, heuristic_model_path, scene, capsys):
    out = files["dir"] / "overlay.png"
    code = main(["--depth", str(files["npy"]), "--intrinsics", str(files["cam"]), "--segmask", str(files["mask"]),
                 "--policy", "ranking", "--model", str(heuristic_model_path), "--out", str(out)])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    grasp = json.loads(lines[0])
    assert {"center_px", "angle", "depth", "width", "width_px", "q_value", "planning_time"} <= set(grasp)
    u, v = np.round(grasp["center_px"]).astype(int)
    assert scene.mask[v - 2:v + 3, u - 2:u + 3].any()
    assert Image.open(out).size == (640, 480)


def test_png_in_millimetres_works_too(files, heuristic_model_path, capsys):
    assert main(["--depth", str(files["png"]), "--intrinsics", str(files["cam"]), "--policy", "cem",
                 "--model", str(heuristic_model_path)]) == 0
    assert json.loads(capsys.readouterr().out)["q_value"] > 0


@pytest.mark.parametrize("case, code, message", [
    ("missing depth", 2, "does not exist"), ("bad intrinsics", 2, "camera_matrix"), ("bad model", 4, "MODEL_ERROR"),
    ("flat", 3, "NO_VALID_GRASP"), ("txt", 2, "unsupported depth format"), ("bad gripper", 2, "unknown gripper keys"),
    ("small gripper", 3, "NO_VALID_GRASP"), ("yaml tag", 2, "INVALID_INPUT"), ("1e30 m", 2, "INVALID_INPUT"),
    ("K[2][2] = 0", 2, "last row"),
])
def test_failures_give_one_readable_line_and_an_exit_code(case, code, message, files, heuristic_model_path, capsys,
                                                          scene):
    args = {"--depth": files["npy"], "--intrinsics": files["cam"], "--model": heuristic_model_path}
    if case == "missing depth":
        args["--depth"] = files["dir"] / "nope.npy"
    elif case == "bad intrinsics":
        args["--intrinsics"] = files["dir"] / "bad.yaml"
        args["--intrinsics"].write_text("image_width: 3\n")
    elif case == "bad model":
        args["--model"] = files["dir"] / "model.onnx"
        args["--model"].write_text("not a model")
        (files["dir"] / "model.json").write_text('{"format": "gqcnn-model-card-v1"}')
    elif case == "flat":
        np.save(files["npy"], np.full_like(scene.depth, 0.7))
    elif case == "bad gripper":
        args["--gripper"] = files["dir"] / "gripper.yaml"
        args["--gripper"].write_text(GRIPPER_YAML.read_text() + "finger_lenght: 0.04\n")
    elif case == "small gripper":  # a 2 cm stroke does not fit around the 3 cm box
        args["--gripper"] = files["dir"] / "gripper.yaml"
        args["--gripper"].write_text(GRIPPER_YAML.read_text().replace("max_width: 0.05", "max_width: 0.02"))
    elif case == "yaml tag":
        args["--intrinsics"] = files["dir"] / "tag.yaml"
        args["--intrinsics"].write_text("image_width: !!python/object/apply:os.getcwd []\n")
    elif case == "1e30 m":
        np.save(files["npy"], np.full_like(scene.depth, 1e30))
    elif case == "K[2][2] = 0":
        args["--intrinsics"] = files["dir"] / "k22.yaml"
        calibration = scene.camera.to_yaml_dict()
        calibration["camera_matrix"]["data"][8] = 0.0
        args["--intrinsics"].write_text(yaml.safe_dump(calibration))
    elif case == "txt":
        args["--depth"] = files["dir"] / "depth.txt"
        args["--depth"].write_text("0.7")
    assert main([str(x) for kv in args.items() for x in kv]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_console_script_is_installed(files, heuristic_model_path):
    result = subprocess.run(["gqcnn-plan", "--depth", str(files["npy"]), "--intrinsics", str(files["cam"]),
                             "--policy", "ranking", "--model", str(heuristic_model_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "center_px" in json.loads(result.stdout)
