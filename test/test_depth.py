import numpy as np
import pytest

from gqcnn_core.depth import as_depth_metres, decode_depth, encode_depth, inpaint, missing


@pytest.fixture
def depth():
    rng = np.random.default_rng(1)
    d = rng.uniform(0.4, 1.2, size=(5, 7)).astype(np.float32)
    d[0, 0] = np.nan
    d[2, 3] = 0.0
    return d


def test_32fc1_round_trip_keeps_values_and_missing(depth):
    data, step = encode_depth(depth, "32FC1")
    out = decode_depth(data, "32FC1", 5, 7, step)
    assert out.dtype == np.float32
    assert np.isnan(out[0, 0]) and np.isnan(out[2, 3])
    valid = ~missing(depth)
    np.testing.assert_array_equal(out[valid], depth[valid])


def test_16uc1_is_millimetres_and_zero_is_missing(depth):
    data, step = encode_depth(depth, "16UC1")
    assert step == 14
    raw = np.frombuffer(data, dtype="<u2").reshape(5, 7)
    assert raw[0, 0] == 0 and raw[2, 3] == 0
    assert raw[1, 1] == round(depth[1, 1] * 1000)
    out = decode_depth(data, "16UC1", 5, 7, step)
    assert np.isnan(out[0, 0]) and np.isnan(out[2, 3])
    np.testing.assert_allclose(out[~missing(depth)], depth[~missing(depth)], atol=5e-4)


def test_row_padding_and_big_endian_are_honoured():
    values = np.array([[1000, 2000, 3000], [4000, 5000, 6000]], dtype=">u2")
    padded = np.zeros((2, 8), dtype=np.uint8)  # step 8 bytes for 6 bytes of pixels per row
    padded[:, :6] = values.view(np.uint8).reshape(2, 6)
    out = decode_depth(padded.tobytes(), "16UC1", 2, 3, step=8, is_bigendian=True)
    np.testing.assert_allclose(out, values.astype(float) / 1000)


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="unsupported depth encoding 'rgb8'"):
        decode_depth(b"\0" * 12, "rgb8", 2, 2)
    with pytest.raises(ValueError, match="too few"):
        decode_depth(b"\0" * 10, "32FC1", 2, 2)
    with pytest.raises(ValueError, match="empty"):
        decode_depth(b"", "32FC1", 0, 0)
    with pytest.raises(ValueError, match="HxW"):
        as_depth_metres(np.zeros((2, 2, 3)))


def test_as_depth_metres_accepts_hw1():
    out = as_depth_metres(np.full((3, 4, 1), 0.5))
    assert out.shape == (3, 4) and out.dtype == np.float32


def test_inpaint_fills_holes_from_nearest_valid_pixel():
    depth = np.full((5, 5), 0.8, dtype=np.float32)
    depth[:, :2] = 0.6
    depth[2, 1] = np.nan  # inside the near region: must take 0.6, not blur towards 0.8
    depth[2, 3] = 0.0
    filled = inpaint(depth)
    assert filled[2, 1] == pytest.approx(0.6)
    assert filled[2, 3] == pytest.approx(0.8)
    assert not missing(filled).any()


def test_inpaint_of_an_empty_image_is_an_error():
    with pytest.raises(ValueError, match="no valid pixels"):
        inpaint(np.full((4, 4), np.nan, dtype=np.float32))
