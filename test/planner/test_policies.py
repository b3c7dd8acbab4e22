import itertools

import numpy as np
import pytest
from conftest import Scene
from heuristic_model import heuristic_q

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.crop import grasp_aligned_crops
from gqcnn_core.gripper import Gripper
from gqcnn_core.model import GQCNN
from gqcnn_planner.cem import cross_entropy_rounds
from gqcnn_planner.collision import gripper_clear, sensed_surface, table_normal
from gqcnn_planner.errors import CanceledError, InvalidInputError, NoValidGraspError
from gqcnn_planner.policies import POLICIES, PlanContext, PolicyConfig, plan
from gqcnn_planner.sampling import GraspCandidates, SamplerConfig, jaws_reach, sample_antipodal


@pytest.fixture(scope="module")
def model(heuristic_model_path):
    return GQCNN.load(heuristic_model_path)


def jaws_straddle(scene: Scene, grasp) -> bool:
    """Both contacts on the object's rim (within 3 px of the mask) and the object between them."""
    p1, p2 = grasp.endpoints_px(scene.camera)
    near = np.linalg.norm(scene.object_pixels()[:, None, :] - np.stack([p1, p2])[None], axis=-1).min(axis=0)
    mid = np.round((p1 + p2) / 2).astype(int)
    return bool((near < 3.5).all() and scene.mask[mid[1], mid[0]])


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_grasps_the_object(policy, scene, model):
    planned = plan(policy, scene.depth, scene.camera, model, np.random.default_rng(0), scene.mask)
    assert jaws_straddle(scene, planned.grasp)
    assert 0.0 < planned.grasp.width < 0.05
    surface = scene.depth[scene.mask].min()
    assert surface < planned.grasp.depth < surface + 0.06
    assert set(planned.times) == {"preprocess", "sampling", "inference"}
    assert len(planned.candidates) == len(planned.q_values) <= PolicyConfig().top_k


def test_ranking_picks_the_highest_q_and_beats_the_median(scene, model):
    planned = plan("ranking", scene.depth, scene.camera, model, np.random.default_rng(1), scene.mask)
    assert np.all(np.diff(planned.q_values) <= 0)
    crops = grasp_aligned_crops(scene.depth, [planned.grasp.center], [planned.grasp.angle])
    assert planned.q_value == pytest.approx(heuristic_q(crops)[0], abs=1e-4)
    everything = plan("ranking", scene.depth, scene.camera, model, np.random.default_rng(1), scene.mask,
                      config=PolicyConfig(top_k=1000))
    assert planned.q_value > np.median(everything.q_values)


def test_cem_is_at_least_as_good_as_ranking_on_the_same_image(scene, model):
    for seed in range(3):
        ranking = plan("ranking", scene.depth, scene.camera, model, np.random.default_rng(seed), scene.mask)
        cem = plan("cem", scene.depth, scene.camera, model, np.random.default_rng(seed), scene.mask)
        assert cem.q_value >= ranking.q_value - 1e-6


def test_jaws_reach_only_between_the_surface_and_the_floor(scene):
    config = SamplerConfig()
    sampled = sample_antipodal(scene.depth, scene.camera, np.random.default_rng(0), 200, scene.mask, config)
    assert jaws_reach(scene.depth, scene.camera, sampled, config).all()  # the sampler's own depths
    def moved(depths):
        return GraspCandidates(sampled.centers, sampled.angles, depths, sampled.widths, sampled.widths_px)
    top = scene.depth[scene.mask].min()
    assert not jaws_reach(scene.depth, scene.camera, moved(np.full(len(sampled), top - 0.01)), config).any()
    table = scene.depth.max()
    assert not jaws_reach(scene.depth, scene.camera, moved(np.full(len(sampled), table)), config).any()
    on_table = GraspCandidates(sampled.centers + np.array([0.0, 120.0]), sampled.angles, sampled.depths, sampled.widths,
                               sampled.widths_px)  # the same grasps 12 cm beside the object: closing on nothing
    assert not jaws_reach(scene.depth, scene.camera, on_table, config).any()


def test_cem_samples_only_grasps_the_jaws_can_reach(scene, model):
    """CEM's mixture samples are not built from contacts: one above the object would close on air."""
    planned = plan("cem", scene.depth, scene.camera, model, np.random.default_rng(0), scene.mask,
                   config=PolicyConfig(top_k=1000))
    assert len(planned.candidates) > 250  # the seeds and the rounds' samples
    assert jaws_reach(scene.depth, scene.camera, planned.candidates, SamplerConfig()).all()


def test_progress_and_cancel(scene, model):
    stages = []
    plan("cem", scene.depth, scene.camera, model, np.random.default_rng(0), scene.mask,
         progress=lambda stage, fraction, best: stages.append((stage, fraction)))
    assert stages[0][0] == "preprocess" and stages[-1] == ("done", 1.0)
    assert [s for s, _ in stages if s.startswith("cem_round")] == ["cem_round_1", "cem_round_2", "cem_round_3"]
    assert all(b >= a for (_, a), (_, b) in itertools.pairwise(stages))
    with pytest.raises(CanceledError):
        plan("cem", scene.depth, scene.camera, model, np.random.default_rng(0), scene.mask, should_cancel=lambda: True)


def test_roi_restricts_grasps(scene, model):
    u, v = scene.object_pixels().mean(axis=0).astype(int)
    roi = (u - 60, v - 60, 120, 120)
    planned = plan("ranking", scene.depth, scene.camera, model, np.random.default_rng(0), roi=roi)
    cu, cv = planned.grasp.center
    assert roi[0] <= cu <= roi[0] + roi[2] and roi[1] <= cv <= roi[1] + roi[3]


@pytest.mark.parametrize("case, message", [
    ("nan", "no valid pixels"), ("zeros", "no valid pixels"), ("size", "camera_info says"),
    ("mask_size", "segmask is"), ("empty_mask", "selects no pixels"), ("tiny", "too small"), ("huge", "larger"),
    ("policy", "unknown policy"), ("roi", "outside"),
])
def test_bad_input_is_invalid_input(case, message, scene, model):
    depth, camera, mask, roi, policy = scene.depth, scene.camera, None, None, "ranking"
    if case == "nan":
        depth = np.full_like(depth, np.nan)
    elif case == "zeros":
        depth = np.zeros_like(depth)
    elif case == "size":
        depth = depth[:400]
    elif case == "mask_size":
        mask = np.ones((10, 10), bool)
    elif case == "empty_mask":
        mask = np.zeros_like(depth, dtype=bool)
    elif case == "tiny":
        depth, camera = np.full((1, 1), 0.7, np.float32), CameraIntrinsics(500, 500, 0, 0, 1, 1)
    elif case == "huge":
        camera = CameraIntrinsics(500, 500, 4000, 4000, 8000, 8000)
        depth = np.broadcast_to(np.float32(0.7), (8000, 8000))
    elif case == "policy":
        policy = "telepathy"
    elif case == "roi":
        roi = (600, 400, 100, 100)
    with pytest.raises(InvalidInputError, match=message):
        plan(policy, depth, camera, model, np.random.default_rng(0), mask, roi)


def test_flat_table_has_no_valid_grasp(scene, model):
    with pytest.raises(NoValidGraspError):
        plan("ranking", np.full_like(scene.depth, 0.7), scene.camera, model, np.random.default_rng(0))


@pytest.mark.parametrize("wall_from_centre_px, clear", [(20, False), (-22, False), (40, True), (None, True)])
def test_gripper_clear_checks_the_full_stroke_finger_sweep(wall_from_centre_px, clear):
    """A 20 px bar grasped across at its centre; a second block where an opened finger (5 cm stroke, about
    26 px from the centre at this depth) would land or sweep makes the grasp unsafe, one farther out does not."""
    camera = CameraIntrinsics.primesense()
    depth = np.full((camera.height, camera.width), 0.70, dtype=np.float32)
    u0, v0 = 320, 240
    depth[v0 - 40:v0 + 40, u0 - 10:u0 + 10] = 0.675  # the bar, 20 px wide along u
    if wall_from_centre_px is not None:
        w = u0 + wall_from_centre_px
        depth[v0 - 40:v0 + 40, w - 2:w + 2] = 0.675
    grasp = GraspCandidates([[u0, v0]], [0.0], [0.69], [20 * 0.69 / camera.fx], [20.0])
    assert gripper_clear(depth, grasp, camera, Gripper()).tolist() == [clear]


@pytest.mark.parametrize("block_height, clear", [(0.03, True), (0.06, False)])
def test_gripper_clear_checks_the_palm_above_the_fingers(block_height, clear):
    """A block beside the bar, across the grasp axis (out of the fingers' way, under the 5 cm deep palm): it is hit
    only if it reaches above the palm's underside, 4.5 cm over the fingertips."""
    camera = CameraIntrinsics.primesense()
    depth = np.full((camera.height, camera.width), 0.70, dtype=np.float32)
    u0, v0 = 320, 240
    depth[v0 - 40:v0 + 40, u0 - 10:u0 + 10] = 0.675
    depth[v0 + 18:v0 + 24, u0 - 10:u0 + 10] = 0.70 - block_height  # 18-24 px (2-3 cm) from the axis
    grasp = GraspCandidates([[u0, v0]], [0.0], [0.69], [20 * 0.69 / camera.fx], [20.0])
    assert gripper_clear(depth, grasp, camera, Gripper()).tolist() == [clear]


def test_gripper_clear_approaches_along_the_table_normal():
    """Seen by a camera tilted 20 deg about its x axis, a tall block beside the grasp, across its axis: along the
    optical axis the palm would pass beside it, but the executor comes straight down onto the table (its normal,
    found in the depth image), and on that line the palm's sweep crosses the block."""
    camera, depth, up = tilted_table(20.0)
    assert np.allclose(table_normal(depth, camera), up, atol=1e-3)
    u0, v0 = 320, 240
    grasp = GraspCandidates([[u0, v0]], [0.0], [0.69], [0.02], [0.02 * camera.fx / 0.69])
    on_axis = gripper_clear(depth, grasp, camera, Gripper())
    depth[v0 + 35:v0 + 50, u0 - 10:u0 + 10] = 0.60  # a block about 10 cm tall, 4-6 cm down the image
    assert on_axis.tolist() == [True]
    assert gripper_clear(depth, grasp, camera, Gripper()).tolist() == [True]  # the optical axis misses it
    assert gripper_clear(depth, grasp, camera, Gripper(), up).tolist() == [False]


def tilted_table(tilt_deg: float, distance: float = 0.70):
    """Depth image of a table plane seen by a camera tilted about its x axis, and the table normal (to the camera)."""
    camera = CameraIntrinsics.primesense()
    tilt = np.radians(tilt_deg)
    up = np.array([0.0, np.sin(tilt), -np.cos(tilt)])
    v, u = np.mgrid[0:camera.height, 0:camera.width]
    rays = np.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones(u.shape)], axis=-1)
    depth = ((np.array([0.0, 0.0, distance]) @ up) / (rays @ up)).astype(np.float32)
    return camera, depth, up


def test_gripper_clear_levels_the_jaw_axis_onto_the_table():
    """A grasp whose axis runs up the image of a camera tilted 20 deg: levelled onto the table, the jaw on the far
    side sits about a centimetre deeper than the grasp centre, so a ledge 8 mm below the fingertips there is hit."""
    camera = CameraIntrinsics.primesense()
    tilt = np.radians(20.0)
    up = np.array([0.0, np.sin(tilt), -np.cos(tilt)])
    depth = np.full((camera.height, camera.width), 0.75, dtype=np.float32)
    u0, v0 = 320, 240
    depth[v0 - 10:v0 + 10, u0 - 40:u0 + 40] = 0.70  # a bar across the image, grasped across its 20 px
    grasp = GraspCandidates([[u0, v0]], [np.pi / 2], [0.72], [20 * 0.72 / camera.fx], [20.0])
    assert gripper_clear(depth, grasp, camera, Gripper(), up).tolist() == [True]
    depth[v0 + 14:v0 + 40, u0 - 40:u0 + 40] = 0.728  # the ledge, beyond the far contact
    assert gripper_clear(depth, grasp, camera, Gripper(), up).tolist() == [False]
    assert gripper_clear(depth, grasp, camera, Gripper()).tolist() == [True]  # untilted: fingertips above it


def test_gripper_clear_uses_the_configured_gripper():
    """A block 40 px from the grasp centre clears the YuMi's 5 cm stroke but not a 10 cm one."""
    camera = CameraIntrinsics.primesense()
    depth = np.full((camera.height, camera.width), 0.70, dtype=np.float32)
    u0, v0 = 320, 240
    depth[v0 - 40:v0 + 40, u0 - 10:u0 + 10] = 0.675
    depth[v0 - 40:v0 + 40, u0 + 38:u0 + 42] = 0.675
    grasp = GraspCandidates([[u0, v0]], [0.0], [0.69], [20 * 0.69 / camera.fx], [20.0])
    wide = Gripper(max_width=0.10, palm_width=0.13)
    assert gripper_clear(depth, grasp, camera, Gripper()).tolist() == [True]
    assert gripper_clear(depth, grasp, camera, wide).tolist() == [False]
    assert PolicyConfig(gripper=wide).sampler.gripper_max_width == 0.10  # the sampler follows the same gripper


@pytest.mark.parametrize("policy", ["ranking", "cem"])
def test_plan_checks_collisions_along_the_table_normal(policy, model):
    """A bar on a table seen 20 deg off vertical, a tall block beside it up the table: every grasp the planner
    returns (CEM: every one it sampled) is collision-free for the straight-down approach, not just along the
    optical axis."""
    camera, depth, up = tilted_table(20.0)
    u0, v0 = 320, 240
    mask = np.zeros(depth.shape, dtype=bool)
    mask[v0 - 40:v0 + 40, u0 - 12:u0 + 12] = True
    depth[mask] -= 0.04  # the bar, 4 cm tall
    depth[v0 + 30:v0 + 45, u0 - 30:u0 + 30] -= 0.12  # the block
    config = PolicyConfig(top_k=1000)
    planned = plan(policy, depth, camera, model, np.random.default_rng(0), mask, config=config)
    assert len(planned.candidates) > 0
    assert gripper_clear(depth, planned.candidates, camera, config.gripper, up).all()
    sampled = sample_antipodal(depth, camera, np.random.default_rng(0), 1000, mask, config.sampler)
    gripper = config.gripper
    only_optical = gripper_clear(depth, sampled, camera, gripper) & ~gripper_clear(depth, sampled, camera, gripper, up)
    assert only_optical.any()  # the scene has grasps that only the straight-down check rejects


def test_collision_check_can_be_switched_off_for_the_unchecked_baseline(model):
    """gqcnn's policies took the sampler's candidates as they came: with the check off, candidates the gripper
    could not reach come back too (here, beside a tall block)."""
    camera, depth, up = tilted_table(20.0)
    mask = np.zeros(depth.shape, dtype=bool)
    mask[200:280, 308:332] = True
    depth[mask] -= 0.04
    depth[270:285, 290:350] -= 0.12
    config = PolicyConfig(top_k=1000, collision_check=False)
    planned = plan("random", depth, camera, model, np.random.default_rng(0), mask, config=config)
    assert not gripper_clear(depth, planned.candidates, camera, config.gripper, up).all()


@pytest.mark.parametrize("case", ["nothing seen", "steep plane", "no dominant plane"])
def test_table_normal_falls_back_to_the_optical_axis_without_a_table(case):
    camera, depth, _ = tilted_table(70.0 if case == "steep plane" else 20.0)
    if case == "nothing seen":
        depth[:] = 0.0
    elif case == "no dominant plane":
        depth += np.random.default_rng(0).uniform(-0.05, 0.05, depth.shape).astype(np.float32)
    assert table_normal(depth, camera).tolist() == [0.0, 0.0, -1.0]


def test_table_normal_finds_a_tilted_table_under_an_object():
    camera, depth, up = tilted_table(15.0)
    depth[150:330, 200:440] -= 0.05  # an object covering 14 % of the view
    assert np.allclose(table_normal(depth, camera), up, atol=1e-3)


def test_sampler_drops_jaw_pairs_that_would_only_graze_the_top():
    """A 20 px bar (5 cm tall) on a 1 cm lower ledge 5 px wide each side: jaws at the bar's own edges would have
    their fingertips stop on the ledge, above the bar's top, so only the pairs around the ledge remain."""
    camera = CameraIntrinsics.primesense()
    depth = np.full((camera.height, camera.width), 0.70, dtype=np.float32)
    u0, v0 = 320, 240
    depth[v0 - 40:v0 + 40, u0 - 15:u0 + 15] = 0.66  # the ledge
    depth[v0 - 40:v0 + 40, u0 - 10:u0 + 10] = 0.65  # the bar on it
    config = SamplerConfig()
    candidates = sample_antipodal(depth, camera, np.random.default_rng(0), 200, config=config)
    assert len(candidates) > 0
    assert (candidates.depths >= 0.65 + config.min_jaw_overlap).all()
    assert (candidates.widths_px > 25).all()  # around the ledge (30 px), never at the bar's edges (20 px)


def test_cem_with_a_single_seed_returns_it(scene, model):
    seeds = GraspCandidates([[320.0, 240.0]], [0.0], [0.67], [0.03], [24.0])
    context = PlanContext(scene.depth, scene.depth, scene.camera, None, np.array([0.0, 0.0, -1.0]), model,
                          np.random.default_rng(0), PolicyConfig(), lambda *_: None)
    pool, q = cross_entropy_rounds(context, seeds, np.array([0.4]))
    assert len(pool) == 1 and q.tolist() == [0.4]


def test_sampler_returns_no_duplicate_grasps():
    """Low objects clamp several sampled depths of a jaw pair to the same one above the table: kept once."""
    camera = CameraIntrinsics.primesense()
    depth = np.full((camera.height, camera.width), 0.70, dtype=np.float32)
    depth[200:280, 310:330] = 0.68  # 2 cm tall: every depth offset past 1 cm is clamped
    candidates = sample_antipodal(depth, camera, np.random.default_rng(0), 300)
    rows = np.column_stack([candidates.centers, candidates.angles, candidates.depths])
    assert len(candidates) > 0
    assert len(np.unique(rows, axis=0)) == len(rows)


def test_a_tilted_camera_does_not_block_the_strip_it_cannot_see_beside_the_far_rim():
    """A 3.6 cm wide box, 5 cm tall, grasped across (up and down the image) by a camera tilted 13 deg towards it:
    the fingertip on the far side goes down beside a wall the camera cannot see under the rim. The box's column
    ends at its wall, so about as many of the sampled grasps are clear as seen straight down; reading the image
    as solid behind every seen surface (the rays) blocked the hidden strip and cleared only a quarter as many."""
    shares = []
    for camera_position in ((0.0, 0.0, 0.68), (0.0, 0.15, 0.65)):
        scene = Scene(size=(0.09, 0.036, 0.05), position=(0.0, 0.0), yaw=0.0, camera_position=camera_position)
        config = PolicyConfig()
        sampled = sample_antipodal(scene.depth, scene.camera, np.random.default_rng(0), 1000, scene.mask,
                                   config.sampler)
        up = table_normal(scene.depth, scene.camera)
        shares.append(gripper_clear(scene.depth, sampled, scene.camera, config.gripper, up).mean())
    assert shares[0] > 0.5
    assert shares[1] > 0.7 * shares[0]



@pytest.mark.parametrize("size, camera_position", [((0.03, 0.07, 0.05), (0.05, 0.15, 0.66)),
                                                   ((0.09, 0.036, 0.05), (0.0, 0.15, 0.65)),
                                                   ((0.04, 0.05, 0.08), (0.1, 0.2, 0.6))])
def test_gripper_clear_never_clears_a_grasp_the_true_box_blocks(size, camera_position):
    """Against the labels' mesh check (dexnet.collision) on the rendered box, jaw axis levelled as the executor does:
    no grasp the image check clears collides. A tilted camera sees the grasp centre off the box's middle, so a rim
    can sit under an open finger: its own footprint is always checked. The image check stays stricter (the sweep,
    the margin), but not blind to what the camera cannot see."""
    scene = Scene(size=size, camera_position=camera_position)
    config = PolicyConfig()
    sampled = sample_antipodal(scene.depth, scene.camera, np.random.default_rng(0), 1000, scene.mask, config.sampler)
    clear = gripper_clear(scene.depth, sampled, scene.camera, config.gripper, table_normal(scene.depth, scene.camera))
    collides = scene.mesh_collisions(sampled, config.gripper)
    assert clear.sum() >= 10
    assert not (clear & collides).any()


def test_gripper_clear_reads_unmeasured_pixels_along_the_rays():
    """Dropouts (6-10 px blobs) on and around the box, inpainted as the planner does: where nothing was measured the
    filled surface's place in the height field is a guess, so points seen through a hole are also blocked when the
    filled depth is nearer (the ray reading). Without that, 2 grasps cleared here collide with the true box. Read as
    the planner reads them (`sensed_surface`), only the blobs across the box's rim keep that reading."""
    from scipy import ndimage

    from gqcnn_core.depth import inpaint

    scene = Scene(size=(0.03, 0.07, 0.05), camera_position=(0.05, 0.15, 0.66))
    rng = np.random.default_rng(5)
    seeds = ndimage.binary_dilation(scene.mask, iterations=12) & (rng.random(scene.depth.shape) < 0.004)
    holes = ndimage.binary_dilation(seeds, iterations=4)
    filled = inpaint(np.where(holes, np.nan, scene.depth))
    config = PolicyConfig()
    sampled = sample_antipodal(filled, scene.camera, np.random.default_rng(0), 1000, scene.mask, config.sampler)
    depth, across_steps = sensed_surface(filled, holes)
    assert 0 < across_steps.sum() < 0.6 * holes.sum()
    clear = gripper_clear(depth, sampled, scene.camera, config.gripper, table_normal(filled, scene.camera),
                          holes=across_steps)
    collides = scene.mesh_collisions(sampled, config.gripper)
    assert clear.sum() >= 50
    assert not (clear & collides).any()
