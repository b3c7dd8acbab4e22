"""Sensor models (gqcnn_core.sensor) against their formulas."""

import numpy as np
import pytest
from scipy import ndimage

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.sensor import (
    SENSOR_PRESETS,
    apply_sensor,
    incidence_angle,
    kinect_noise_sigma,
    material_blobs,
    occluded_from_emitter,
    stereo_noise_sigma,
)

CAMERA = CameraIntrinsics(fx=525.0, fy=525.0, cx=319.5, cy=239.5, width=640, height=480)


def step_scene(z_near: float = 0.6, z_far: float = 0.7) -> np.ndarray:
    """A fronto-parallel table at z_far with a raised box top at z_near (columns 300-399, rows 200-299)."""
    depth = np.full((480, 640), z_far, np.float32)
    depth[200:300, 300:400] = z_near
    return depth


def test_presets_are_listed_and_unknown_ones_refused():
    assert SENSOR_PRESETS == ("ideal", "structured_light", "active_stereo")
    with pytest.raises(ValueError, match="unknown sensor preset"):
        apply_sensor(step_scene(), CAMERA, "lidar", np.random.default_rng(0))


def test_ideal_returns_the_rendered_depth():
    depth = step_scene()
    depth[0, 0] = np.nan
    out = apply_sensor(depth, CAMERA, "ideal", np.random.default_rng(0))
    np.testing.assert_array_equal(out, depth)


@pytest.mark.parametrize("baseline", [0.075, 0.05])
def test_shadow_width_of_a_step_edge_matches_the_geometry(baseline):
    z_near, z_far = 0.6, 0.7
    shadow = occluded_from_emitter(step_scene(z_near, z_far), CAMERA.fx, baseline)
    expected = CAMERA.fx * baseline * (1 / z_near - 1 / z_far)  # pixels, on the -x side of the box
    row = shadow[250]
    columns = np.flatnonzero(row)
    assert columns.max() == 299  # right up to the box's left edge
    assert abs(len(columns) - expected) <= 1
    assert not shadow[250, 300:].any()  # the box itself and the table on the emitter's side are lit
    assert not shadow[100].any()  # rows without an edge have no shadow


def test_structured_light_noise_std_follows_nguyen_at_two_depths():
    rng = np.random.default_rng(1)
    for z in (0.5, 1.2):
        flat = np.full((480, 640), z, np.float32)
        out = apply_sensor(flat, CAMERA, "structured_light", rng)
        values = out[np.isfinite(out)]
        expected = float(kinect_noise_sigma(z))
        # 1 mm quantisation adds 1/12 mm^2 of variance to the Gaussian's.
        assert values.std() == pytest.approx(np.sqrt(expected**2 + 0.001**2 / 12), rel=0.05)
        assert abs(values.mean() - z) < 2e-4
    assert kinect_noise_sigma(0.4) == pytest.approx(0.0012)
    assert kinect_noise_sigma(1.4) == pytest.approx(0.0012 + 0.0019)


def test_active_stereo_noise_grows_with_z_squared():
    rng = np.random.default_rng(2)
    stds = []
    for z in (0.5, 1.0):
        out = apply_sensor(np.full((480, 640), z, np.float32), CAMERA, "active_stereo", rng)
        stds.append(out[np.isfinite(out)].std())
        expected = float(stereo_noise_sigma(z, CAMERA.fx, 0.05))
        assert stds[-1] == pytest.approx(np.sqrt(expected**2 + 0.001**2 / 12), rel=0.05)
    assert stds[1] > 3 * stds[0]


def test_quantisation_to_millimetres():
    out = apply_sensor(step_scene(), CAMERA, "structured_light", np.random.default_rng(3))
    values = out[np.isfinite(out)].astype(np.float64)
    np.testing.assert_allclose(values * 1000, np.round(values * 1000), atol=1e-3)


def test_structured_light_drops_the_shadow_edge_bands_and_grazing_surfaces():
    depth = step_scene()
    out = apply_sensor(depth, CAMERA, "structured_light", np.random.default_rng(4))
    assert np.isnan(out[250, 292:299]).all()  # projector shadow left of the box
    assert np.isnan(out[250, 398:402]).all()  # 2-px band on both sides of the box's right edge
    # A plane seen at 87 deg incidence (beyond grazing_full_deg) drops out; at 60 deg it loses no more than a
    # plane facing the camera does with the same random stream (material blobs are drawn the same way).
    def window_kept(tilt):
        out = apply_sensor(tilted_plane(tilt), CAMERA, "structured_light", np.random.default_rng(5))
        return np.isfinite(out[230:250, 310:330])

    assert window_kept(87).mean() <= 0.01
    np.testing.assert_array_equal(window_kept(60), window_kept(0))


def test_material_blobs_cover_the_drawn_share_of_the_image():
    flat = np.full((480, 640), 0.7, np.float32)
    shares = [np.isnan(apply_sensor(flat, CAMERA, "structured_light", np.random.default_rng(i))).mean()
              for i in range(40)]
    assert max(shares) <= 0.25
    assert np.mean(shares) == pytest.approx(0.1, abs=0.03)  # blob_fraction U(0, 0.2)
    blobs = material_blobs((480, 640), 0.1, 16, np.random.default_rng(0))
    assert blobs.mean() == pytest.approx(0.1, abs=0.03)
    _, count = ndimage.label(blobs)
    assert count < 0.1 * 480 * 640 / 16  # connected patches, not salt noise


def tilted_plane(tilt_deg: float) -> np.ndarray:
    """Depth of a plane through (0, 0, 0.7) whose normal is tilted `tilt_deg` from the optical axis about y."""
    tilt = np.radians(tilt_deg)
    n = np.array([np.sin(tilt), 0.0, -np.cos(tilt)])
    v, u = np.indices((480, 640), dtype=float)
    rays = np.stack([(u - CAMERA.cx) / CAMERA.fx, (v - CAMERA.cy) / CAMERA.fy, np.ones_like(u)], axis=-1)
    depth = (n @ np.array([0, 0, 0.7])) / (rays @ n)
    return np.where(depth > 0, depth, np.nan).astype(np.float32)


def test_incidence_angle_of_a_tilted_plane():
    # At the principal point the viewing ray is the optical axis, so the angle there is the tilt.
    angle = np.degrees(incidence_angle(tilted_plane(60), CAMERA))
    assert angle[240, 320] == pytest.approx(60, abs=0.5)


def test_active_stereo_has_speckle_holes_and_is_seeded():
    depth = np.full((480, 640), 0.7, np.float32)
    a = apply_sensor(depth, CAMERA, "active_stereo", np.random.default_rng(6))
    b = apply_sensor(depth, CAMERA, "active_stereo", np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    holes = np.isnan(a).mean()
    assert 0.01 < holes < 0.2
