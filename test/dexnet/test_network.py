"""The GQ-CNN network: reference topology, presets, baked-in normalisation, weights files, ONNX parity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dexnet.export import onnx_bytes, parity_error, session_from_bytes
from dexnet.network import (
    PRESETS,
    GQCNNNet,
    NetworkConfig,
    load_weights,
    multiply_accumulates,
    preset,
    save_weights,
)

torch.set_num_threads(1)


def inputs(count: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    crops = torch.from_numpy(rng.uniform(0.55, 0.7, (count, 1, 32, 32)).astype(np.float32))
    depths = torch.from_numpy(rng.uniform(0.55, 0.7, (count, 1)).astype(np.float32))
    return crops, depths


def test_reference_preset_is_gqcnn_2_0():
    net = GQCNNNet(preset("reference"))
    convs = [m for m in net.conv if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size[0], c.out_channels) for c in convs] == [(7, 64), (5, 64), (3, 64), (3, 64)]
    kinds = [type(m).__name__ for m in net.conv if not isinstance(m, nn.ReLU)]
    assert kinds == [
        "Conv2d",
        "Conv2d",
        "LocalResponseNorm",
        "MaxPool2d",
        "Conv2d",
        "Conv2d",
        "LocalResponseNorm",
        "MaxPool2d",
    ]
    assert net.image_fc[1].in_features == 8 * 8 * 64 and net.image_fc[1].out_features == 1024
    assert net.depth_fc[0].out_features == 16
    assert net.merge_fc[0].in_features == 1024 + 16 and net.merge_fc[0].out_features == 1024
    assert net.logits.out_features == 2


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_forward_shapes_and_probability(name):
    net = GQCNNNet(preset(name)).eval()
    crops, depths = inputs()
    with torch.no_grad():
        logits = net(crops, depths)
        p = net.success_probability(crops, depths)
    assert logits.shape == (5, 2) and p.shape == (5,)
    torch.testing.assert_close(p, torch.softmax(logits, dim=1)[:, 1])
    assert torch.all((p >= 0) & (p <= 1))


def test_fast_preset_is_much_cheaper():
    assert multiply_accumulates(PRESETS["reference"]) >= 3 * multiply_accumulates(PRESETS["fast"])


def test_prior_log_odds_shifts_only_the_probability():
    net = GQCNNNet().eval()
    crops, depths = inputs()
    with torch.no_grad():
        logits, p = net(crops, depths), net.success_probability(crops, depths)
        net.prior_log_odds.fill_(np.log(0.25 / 0.75))
        torch.testing.assert_close(net(crops, depths), logits)
        shifted = net.success_probability(crops, depths)
    odds = p / (1 - p) * (0.25 / 0.75)
    torch.testing.assert_close(shifted, odds / (1 + odds))


def test_normalisation_is_part_of_the_state_and_the_onnx_graph():
    torch.manual_seed(0)
    net = GQCNNNet().eval()
    net.set_normalization(0.62, 0.03, 0.6, 0.04)
    state = net.state_dict()
    assert float(state["crop_mean"]) == pytest.approx(0.62) and float(state["depth_std"]) == pytest.approx(0.04)
    crops, depths = inputs(4)
    with torch.no_grad():
        before = net.success_probability(crops, depths)
        net.set_normalization(0.0, 1.0, 0.0, 1.0)
        assert not torch.allclose(net.success_probability(crops, depths), before)
        net.set_normalization(0.62, 0.03, 0.6, 0.04)
    session = session_from_bytes(onnx_bytes(net), threads=1)
    got = session.run(None, {"crops": crops.numpy(), "gripper_depth": depths.numpy()})[0]
    np.testing.assert_allclose(got, before.numpy(), atol=1e-5)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_onnx_parity_and_dynamic_batch(name):
    torch.manual_seed(1)
    net = GQCNNNet(preset(name)).eval()
    net.set_normalization(0.6, 0.02, 0.6, 0.03)
    session = session_from_bytes(onnx_bytes(net), threads=1)
    assert parity_error(net, session, count=64) < 1e-4
    for batch in (1, 3):
        crops, depths = inputs(batch)
        assert session.run(None, {"crops": crops.numpy(), "gripper_depth": depths.numpy()})[0].shape == (batch,)


def test_weights_round_trip(tmp_path):
    net = GQCNNNet(preset("fast"))
    net.set_normalization(0.6, 0.02, 0.61, 0.03)
    save_weights(tmp_path / "w.pt", net, step=12)
    loaded, info = load_weights(tmp_path / "w.pt")
    assert info == {"step": 12} and loaded.config == net.config
    crops, depths = inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded(crops, depths), net.eval()(crops, depths))


def test_bad_configs_and_files_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown network preset"):
        preset("huge")
    with pytest.raises(ValueError, match="4 entries"):
        NetworkConfig(conv_filters=(64, 64, 64))
    with pytest.raises(ValueError, match="odd"):
        NetworkConfig(conv_kernels=(7, 4, 3, 3))
    with pytest.raises(ValueError, match="unknown network config keys"):
        NetworkConfig.from_dict({"conv_filterz": [1, 2, 3, 4]})
    assert NetworkConfig.from_dict(PRESETS["fast"].to_dict()) == PRESETS["fast"]
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable GQ-CNN weights file"):
        load_weights(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        load_weights(tmp_path / "missing.pt")
