"""MuJoCo grasp execution: one object on a table and a floating parallel-jaw gripper with YuMi-like fingers.

The simulation's world frame is the YuMi base frame (z up, table surface at `table_z`), so the motion plans and
safety checks of motion.py apply unchanged; the camera is placed above the table centre with the Dex-Net 2.0
camera model and the scene's depth image is rendered by gqcnn_core.render.ObjectRenderer from the settled pose of the
same mesh the physics uses (physics collides with its convex decomposition).

Physics choices, and why:
- The object collides as convex parts from CoACD: MuJoCo (like every rigid-body engine) collides meshes by their
  convex hulls, so a concave object would otherwise be a solid hull and fingers could never enter a handle or a
  cavity. CoACD is slow, so parts are cached per mesh (see `convex_parts`) and it runs in a child process: its
  bundled spdlog clashes with rclpy's when loaded first in the same process (segfault), and a child can be timed out.
- The gripper is a free body welded to a mocap target that follows the waypoints (a kinematic mocap body has no
  velocity, which would make friction on a held object wrong). Two fingers on slide joints are coupled (one servo,
  like the YuMi smart gripper) and driven by one force-limited position actuator on their summed opening.
- Elliptic friction cones with impratio 10 and torsional friction (condim 4): pyramidal cones and point contacts
  let held objects creep and spin out of the fingers.
- Hard contacts (solimp 0.99-0.999) and the no-slip solver pass: MuJoCo's contact softness is mass-normalised,
  so with its default impedance a 5 g object squeezed with 20 N sank 1-2 mm into the fingers, got contact
  normals from the fingertip faces and was squeezed out; and soft friction let a statically held object creep
  out over the seconds of transport. Rigid objects in a rigid gripper do neither.

Protocol of a trial (Dex-Net 2.0's physical benchmark: grasp, lift, transport, shake): the gripper starts at the
pre-grasp pose, approaches, closes with the force limit, lifts, transports to the drop pose and shakes there;
success is the object still between both fingers and off the table after shaking. Failure causes: "collision"
(the gripper hit the table, or pushed the object harder than `sim_collision_force`, on the way down), "missed"
(the jaws closed without both fingers on the object), "slipped" (lost while lifting or transporting),
"dropped_while_shaking". The run is deterministic: MuJoCo is, and every random choice comes from the seed.
"""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np
import trimesh
from scipy.spatial.transform import Rotation, Slerp

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.grasp import Grasp2D
from gqcnn_core.gripper import Gripper
from gqcnn_core.render import OBJECT_PLANAR_RANGE, ObjectRenderer, sample_camera_pose
from yumi_bridge.frames import CameraExtrinsics, pose_matrix
from yumi_bridge.motion import ExecutionOutcome, MotionConfig, MotionPlan, plan_grasp_motion, setting

COACD_VERSION_KEY = "coacd-1.0.14"  # part of the cache key: a different CoACD may decompose differently


@dataclass(frozen=True)
class SimSettings:
    """Simulation parameters (ROS parameters of the sim backend carry the same names)."""

    sim_mesh_file: str = setting("", "Object mesh (.obj/.stl/.ply) for the sim backend; empty: a 35x90x50 mm box")
    sim_seed: int = setting(0, "Seed of the object drop and the camera pose")
    sim_table_center: tuple = setting((0.40, 0.0), "Table point the object is dropped around and the camera looks at")
    sim_timestep: float = setting(0.002, "Physics time step, s")
    sim_finger_friction: float = setting(0.8, "Friction coefficient of the finger pads")
    sim_table_friction: float = setting(0.5, "Friction coefficient of the table")
    sim_object_friction: float = setting(0.5, "Friction coefficient of the object")
    sim_object_density: float = setting(400.0, "Object density, kg/m^3 (mass follows from the mesh volume)")
    sim_gripper_speed: float = setting(0.05, "Jaw opening speed while closing, m/s")
    sim_collision_force: float = setting(5.0, "Gripper-object contact force on the way down that counts as a collision")
    sim_coacd_threshold: float = setting(0.05, "CoACD concavity threshold (smaller: more, tighter convex parts)")
    sim_coacd_max_parts: int = setting(16, "Upper bound on the number of convex parts")
    sim_cache_dir: str = setting("", "Convex decomposition cache; empty: $XDG_CACHE_HOME/gqcnn-ros2/coacd")
    sim_registration_error: tuple = setting(
        (0.0, 0.0),
        "Camera registration error of the extrinsics the robot plans with: standard deviations of translation (m) "
        "and rotation (rad) per axis, drawn per scene from its seed; (0, 0): the exact camera pose",
    )

    def __post_init__(self) -> None:
        error = self.sim_registration_error
        if len(error) != 2 or not all(math.isfinite(v) and v >= 0 for v in error):
            raise ValueError(f"sim_registration_error must be two standard deviations >= 0 (m, rad), got {error}")


@dataclass(frozen=True)
class SimScene:
    """A settled object and what the camera sees of it. World frame = YuMi base frame."""

    world_object: np.ndarray  # 4x4 pose of the mesh frame
    world_camera: np.ndarray  # 4x4 pose of the camera optical frame
    camera: CameraIntrinsics
    depth: np.ndarray  # float32 metres, NaN where nothing is hit
    seed: int
    registration_error: np.ndarray = field(default_factory=lambda: np.eye(4))  # camera frame, 4x4

    def extrinsics(self) -> CameraExtrinsics:
        """The camera pose the robot believes (the true one times the registration error), as calibrated extrinsics
        for motion planning."""
        believed = self.world_camera @ self.registration_error
        return CameraExtrinsics(believed, True, "world", self.camera.frame_id, "simulated camera")

    def grasp_pose(self, grasp: Grasp2D) -> np.ndarray:
        """Pose (camera optical frame) of a grasp planned in this scene's depth image."""
        return pose_matrix(*grasp.pose(self.camera))


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gqcnn-ros2" / "coacd"


# Runs in a child process: only numpy and coacd are imported there (see the module docstring).
_COACD_WORKER = """
import sys
import numpy as np
import coacd
source, target, threshold, max_parts, preprocess = sys.argv[1:6]
mesh = np.load(source)
coacd.set_log_level("error")
parts = coacd.run_coacd(coacd.Mesh(mesh["vertices"], mesh["faces"]), threshold=float(threshold),
                        max_convex_hull=int(max_parts), preprocess_mode=preprocess, seed=0)
np.savez(target, vertices=np.concatenate([np.asarray(v, float) for v, _ in parts]),
         counts=np.array([len(v) for v, _ in parts]))
"""


def convex_parts(
    mesh: trimesh.Trimesh, settings: SimSettings = SimSettings(), timeout: float = 600.0
) -> list[np.ndarray]:
    """Vertex arrays of the convex parts of `mesh` (its own frame), from the cache or a CoACD run.

    A convex mesh is its own single part. The cache key is a hash of the vertices, faces and CoACD settings.
    CoACD aborts on some degenerate meshes; it is then run once more with its manifold remeshing forced on.
    Raises RuntimeError if that fails too, or times out.
    """
    hull = mesh.convex_hull
    if mesh.is_convex or (mesh.is_volume and mesh.volume > 0.995 * hull.volume):
        return [np.asarray(hull.vertices, dtype=float)]
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(mesh.vertices, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(mesh.faces, dtype=np.int64).tobytes())
    digest.update(f"{COACD_VERSION_KEY}:{settings.sim_coacd_threshold}:{settings.sim_coacd_max_parts}".encode())
    cache_dir = Path(settings.sim_cache_dir) if settings.sim_cache_dir else default_cache_dir()
    cache_file = cache_dir / f"{digest.hexdigest()[:32]}.npz"
    if not cache_file.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
            source, target = Path(tmp) / "mesh.npz", Path(tmp) / "parts.npz"
            np.savez(source, vertices=np.asarray(mesh.vertices, float), faces=np.asarray(mesh.faces, np.int64))
            errors = []
            for preprocess in ("auto", "on"):
                error = _run_coacd(source, target, settings, preprocess, timeout)
                if error is None:
                    break
                errors.append(f"preprocess {preprocess}: {error}")
            else:
                raise RuntimeError("CoACD could not decompose the mesh (" + "; ".join(errors) + ")")
            os.replace(target, cache_file)  # atomic: concurrent runs never see half a file
    with np.load(cache_file) as data:
        return np.split(data["vertices"], np.cumsum(data["counts"])[:-1])


def _run_coacd(source: Path, target: Path, settings: SimSettings, preprocess: str, timeout: float) -> str | None:
    """Run the worker; None on success, else what went wrong."""
    command = [
        sys.executable,
        "-c",
        _COACD_WORKER,
        str(source),
        str(target),
        str(settings.sim_coacd_threshold),
        str(settings.sim_coacd_max_parts),
        preprocess,
    ]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"no result within {timeout:.0f} s"
    if run.returncode != 0 or not target.is_file():
        return f"exit {run.returncode}: {run.stderr.strip()[-300:]}"
    return None


def _floats(values: np.ndarray) -> str:
    return " ".join(f"{v:.6g}" for v in np.asarray(values, dtype=float).ravel())


def _object_inertia(mesh: trimesh.Trimesh, density: float) -> tuple[np.ndarray, float, np.ndarray]:
    """Centre of mass, mass and inertia tensor (about the COM) of the solid, or of its hull if it is not closed."""
    solid = mesh if mesh.is_volume else mesh.convex_hull
    mass = max(float(solid.volume) * density, 1e-3)
    inertia = np.asarray(solid.moment_inertia, dtype=float) * (mass / max(float(solid.mass), 1e-12))
    return np.asarray(mesh.center_mass, dtype=float), mass, inertia


def scene_xml(
    parts: list[np.ndarray], mesh: trimesh.Trimesh, config: MotionConfig, settings: SimSettings, gripper: Gripper
) -> str:
    """MJCF of table, object (convex parts) and the mocap-driven parallel-jaw gripper (TCP = hand frame)."""
    com, mass, inertia = _object_inertia(mesh, settings.sim_object_density)
    full_inertia = _floats([inertia[0, 0], inertia[1, 1], inertia[2, 2], inertia[0, 1], inertia[0, 2], inertia[1, 2]])
    assets = "\n".join(f'    <mesh name="part{i}" vertex="{_floats(v)}"/>' for i, v in enumerate(parts))
    geoms = "\n".join(
        f'      <geom name="object{i}" type="mesh" mesh="part{i}" class="object"/>' for i in range(len(parts))
    )
    fw, ft, fl = gripper.finger_width, gripper.finger_thickness, gripper.finger_length
    finger_size = f"{fw / 2} {ft / 2} {fl / 2}"
    half_stroke = config.gripper_max_width / 2
    return f"""
<mujoco model="yumi_bridge_grasp">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{settings.sim_timestep}" integrator="implicitfast" cone="elliptic" impratio="10"
          noslip_iterations="10"/>
  <default>
    <geom condim="4" solref="0.004 1" solimp="0.99 0.999 0.0005"/>
    <default class="object"><geom friction="{settings.sim_object_friction} 0.005 0.0001"/></default>
    <default class="finger"><geom friction="{settings.sim_finger_friction} 0.005 0.0001" mass="0.02"/></default>
  </default>
  <asset>
{assets}
  </asset>
  <worldbody>
    <geom name="table" type="plane" pos="0 0 {config.table_z}" size="2 2 0.01"
          friction="{settings.sim_table_friction} 0.01 0.0001"/>
    <body name="object">
      <freejoint name="object"/>
      <inertial pos="{_floats(com)}" mass="{mass:.6g}" fullinertia="{full_inertia}"/>
{geoms}
    </body>
    <body name="hand_target" mocap="true"/>
    <body name="hand" gravcomp="1">
      <freejoint name="hand"/>
      <geom name="palm" type="box" pos="0 0 {-(fl + gripper.palm_height / 2)}" mass="0.25"
            size="{gripper.palm_width / 2} {gripper.palm_thickness / 2} {gripper.palm_height / 2}"/>
      <body name="finger_left" gravcomp="1">
        <joint name="finger_left" type="slide" axis="-1 0 0" range="0 {half_stroke}" damping="5" armature="0.01"/>
        <geom name="finger_left" class="finger" type="box" pos="{-fw / 2} 0 {-fl / 2}" size="{finger_size}"/>
      </body>
      <body name="finger_right" gravcomp="1">
        <joint name="finger_right" type="slide" axis="1 0 0" range="0 {half_stroke}" damping="5" armature="0.01"/>
        <geom name="finger_right" class="finger" type="box" pos="{fw / 2} 0 {-fl / 2}" size="{finger_size}"/>
      </body>
    </body>
  </worldbody>
  <contact>
    <exclude body1="hand" body2="finger_left"/>
    <exclude body1="hand" body2="finger_right"/>
    <exclude body1="finger_left" body2="finger_right"/>
  </contact>
  <equality>
    <weld body1="hand_target" body2="hand" solref="0.01 1"/>
    <joint joint1="finger_left" joint2="finger_right"/>
  </equality>
  <tendon>
    <fixed name="jaw_opening"><joint joint="finger_left" coef="1"/><joint joint="finger_right" coef="1"/></fixed>
  </tendon>
  <actuator>
    <position name="jaws" tendon="jaw_opening" kp="2000" kv="40" ctrlrange="0 {config.gripper_max_width}"
              forcerange="{-config.grip_force} {config.grip_force}"/>
  </actuator>
</mujoco>
"""


def registration_error(rng: np.random.Generator, translation_sigma: float, rotation_sigma: float) -> np.ndarray:
    """A random rigid transform: Gaussian translation and rotation vector, per-axis standard deviations."""
    error = np.eye(4)
    error[:3, :3] = Rotation.from_rotvec(rng.normal(0.0, rotation_sigma, 3)).as_matrix()
    error[:3, 3] = rng.normal(0.0, translation_sigma, 3)
    return error


def _mj_quat(rotation: np.ndarray) -> np.ndarray:
    x, y, z, w = Rotation.from_matrix(rotation).as_quat()
    return np.array([w, x, y, z])


def _smoothstep(alpha: np.ndarray) -> np.ndarray:
    return alpha * alpha * (3.0 - 2.0 * alpha)


class GraspSimulator:
    """One object (any closed mesh, in its own frame) on a table, and the gripper; see the module docstring."""

    PARK_HEIGHT = 0.6  # metres above the table: where the gripper waits while the object settles

    def __init__(
        self,
        mesh: trimesh.Trimesh,
        config: MotionConfig = MotionConfig(),
        settings: SimSettings = SimSettings(),
        gripper: Gripper | None = None,
        camera: CameraIntrinsics | None = None,
    ) -> None:
        self.mesh = mesh
        self.config = config
        self.settings = settings
        self.gripper = gripper or Gripper()
        self.camera = camera or CameraIntrinsics.primesense()
        self.parts = convex_parts(mesh, settings)
        self.model = mujoco.MjModel.from_xml_string(scene_xml(self.parts, mesh, config, settings, self.gripper))
        self.data = mujoco.MjData(self.model)
        self._renderer: ObjectRenderer | None = None
        model = self.model
        self._object_body = model.body("object").id
        self._hand_body = model.body("hand").id
        self._mocap = model.body("hand_target").mocapid[0]
        self._object_qpos = model.jnt_qposadr[model.joint("object").id]
        self._object_qvel = model.jnt_dofadr[model.joint("object").id]
        self._hand_qpos = model.jnt_qposadr[model.joint("hand").id]
        self._finger_qpos = [model.jnt_qposadr[model.joint(name).id] for name in ("finger_left", "finger_right")]
        self._table_geom = model.geom("table").id
        self._finger_bodies = {model.body("finger_left").id, model.body("finger_right").id}
        self._gripper_bodies = self._finger_bodies | {self._hand_body}
        self._jaws = model.actuator("jaws").id
        self._jaw_tendon = model.tendon("jaw_opening").id
        self._settled_state: np.ndarray | None = None

    # ---- scene ---------------------------------------------------------------------------------------------------

    def drop_object(self, seed: int) -> SimScene:
        """Drop the object in a random orientation near the table centre, let it settle, render the depth image."""
        rng = np.random.default_rng(seed)
        rotation = Rotation.from_quat(rng.normal(size=4)).as_matrix()  # normalised: uniform over rotations
        lowest = float((self.mesh.vertices @ rotation.T)[:, 2].min())
        world_object = np.eye(4)
        world_object[:3, :3] = rotation
        center = np.asarray(self.settings.sim_table_center, dtype=float)
        world_object[:2, 3] = center + rng.uniform(-OBJECT_PLANAR_RANGE, OBJECT_PLANAR_RANGE, size=2)
        world_object[2, 3] = self.config.table_z - lowest + 0.02  # released 2 cm above the table
        self.place_object(world_object)
        world_camera = sample_camera_pose(rng)
        world_camera[:2, 3] += center
        world_camera[2, 3] += self.config.table_z
        error = registration_error(np.random.default_rng([seed, 1]), *self.settings.sim_registration_error)
        return SimScene(self.object_pose(), world_camera, self.camera, self.render(world_camera), seed, error)

    def place_object(self, world_object: np.ndarray, max_time: float = 3.0) -> None:
        """Put the object at `world_object` (mesh frame) and simulate until it rests; that state is what every
        trial starts from."""
        mujoco.mj_resetData(self.model, self.data)
        self._park_gripper()
        self.data.qpos[self._object_qpos : self._object_qpos + 3] = world_object[:3, 3]
        self.data.qpos[self._object_qpos + 3 : self._object_qpos + 7] = _mj_quat(world_object[:3, :3])
        mujoco.mj_forward(self.model, self.data)
        steps_at_rest, needed = 0, int(0.1 / self.model.opt.timestep)
        for _ in range(int(max_time / self.model.opt.timestep)):
            mujoco.mj_step(self.model, self.data)
            velocity = self.data.qvel[self._object_qvel : self._object_qvel + 6]
            at_rest = np.linalg.norm(velocity[:3]) < 2e-3 and np.linalg.norm(velocity[3:]) < 2e-2
            steps_at_rest = steps_at_rest + 1 if at_rest else 0
            if steps_at_rest >= needed:
                break
        self.data.qvel[:] = 0.0
        self.data.time = 0.0
        self._settled_state = self._get_state()

    def object_pose(self) -> np.ndarray:
        pose = np.eye(4)
        pose[:3, :3] = self.data.xmat[self._object_body].reshape(3, 3)
        pose[:3, 3] = self.data.xpos[self._object_body]
        return pose

    def render(self, world_camera: np.ndarray) -> np.ndarray:
        """Depth image of the object's current pose (ObjectRenderer's table is z = 0, so shift by table_z)."""
        if self._renderer is None:
            self._renderer = ObjectRenderer(self.mesh, self.camera)
        shift = np.eye(4)
        shift[2, 3] = -self.config.table_z
        return self._renderer.render(shift @ world_camera, shift @ self.object_pose())

    # ---- trials --------------------------------------------------------------------------------------------------

    def run_grasp(self, scene: SimScene, grasp: Grasp2D, q_value: float = 1.0, arm: str = "") -> ExecutionOutcome:
        """Plan (with the safety checks) and execute a grasp found in `scene.depth`; raises GraspRefusedError."""
        plan = plan_grasp_motion(
            scene.grasp_pose(grasp), grasp.width, q_value, arm, self.config, scene.extrinsics(), self.gripper
        )
        return self.execute(plan)

    def execute(
        self,
        plan: MotionPlan,
        on_phase: Callable[[str], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> ExecutionOutcome:
        """Execute a motion plan (poses in the world = base frame) from the settled scene."""
        if self._settled_state is None:
            raise RuntimeError("no object placed: call drop_object or place_object first")
        self._set_state(self._settled_state)
        trial = _Trial(self, on_phase, should_cancel)
        return trial.run(plan)

    # ---- internals -----------------------------------------------------------------------------------------------

    def _park_gripper(self) -> None:
        park = np.eye(4)
        park[:3, :3] = np.diag([1.0, -1.0, -1.0])  # pointing down
        park[:2, 3] = self.settings.sim_table_center
        park[2, 3] = self.config.table_z + self.PARK_HEIGHT
        self.teleport_gripper(park, self.config.gripper_max_width)

    def teleport_gripper(self, pose: np.ndarray, opening: float) -> None:
        quat = _mj_quat(pose[:3, :3])
        self.data.mocap_pos[self._mocap] = pose[:3, 3]
        self.data.mocap_quat[self._mocap] = quat
        self.data.qpos[self._hand_qpos : self._hand_qpos + 3] = pose[:3, 3]
        self.data.qpos[self._hand_qpos + 3 : self._hand_qpos + 7] = quat
        for address in self._finger_qpos:
            self.data.qpos[address] = opening / 2
        self.data.ctrl[self._jaws] = opening
        mujoco.mj_forward(self.model, self.data)

    def _get_state(self) -> np.ndarray:
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        state = np.empty(mujoco.mj_stateSize(self.model, spec))
        mujoco.mj_getState(self.model, self.data, state, spec)
        return state

    def _set_state(self, state: np.ndarray) -> None:
        mujoco.mj_setState(self.model, self.data, state, mujoco.mjtState.mjSTATE_INTEGRATION)
        mujoco.mj_forward(self.model, self.data)

    def jaw_opening(self) -> float:
        return float(self.data.ten_length[self._jaw_tendon])

    def contacts(self) -> tuple[set[int], bool, float]:
        """(finger bodies touching the object, gripper touching the table, largest gripper-object normal force)."""
        model, data = self.model, self.data
        fingers_on_object, gripper_on_table, force = set(), False, 0.0
        wrench = np.zeros(6)
        for i in range(data.ncon):
            contact = data.contact[i]
            if contact.dist > 0:
                continue
            bodies = {int(model.geom_bodyid[contact.geom1]), int(model.geom_bodyid[contact.geom2])}
            gripper_side = bodies & self._gripper_bodies
            if not gripper_side:
                continue
            if self._table_geom in (contact.geom1, contact.geom2):
                gripper_on_table = True
            elif self._object_body in bodies:
                fingers_on_object |= gripper_side & self._finger_bodies
                mujoco.mj_contactForce(model, data, i, wrench)
                force = max(force, float(wrench[0]))
        return fingers_on_object, gripper_on_table, force


class _Trial:
    """One execution of a plan: moves the mocap target along the waypoints and judges the outcome."""

    CHECK_EVERY = 25  # steps between cancel checks

    def __init__(
        self, sim: GraspSimulator, on_phase: Callable[[str], None] | None, should_cancel: Callable[[], bool] | None
    ) -> None:
        self.sim = sim
        self.on_phase = on_phase or (lambda phase: None)
        self.should_cancel = should_cancel or (lambda: False)
        self.phases: list[str] = []
        self.steps = 0
        self.start_height = 0.0

    def run(self, plan: MotionPlan) -> ExecutionOutcome:
        sim = self.sim
        self.start_height = float(sim.data.xpos[sim._object_body][2])
        sim.teleport_gripper(plan.waypoints[0].pose, plan.open_width)
        previous = plan.waypoints[0].pose
        shaken = False
        try:
            for waypoint in plan.waypoints:
                if not self.phases or self.phases[-1] != waypoint.phase:
                    self.phases.append(waypoint.phase)
                    self.on_phase(waypoint.phase)
                if waypoint.phase == "release":
                    # Judge before letting go: success is the object still held after transport and shaking.
                    width = sim.jaw_opening()
                    if not self._held():
                        if shaken:
                            return self._outcome(False, "dropped_while_shaking", "the object fell out while shaking")
                        return self._outcome(False, "slipped", "the object slipped out during transport")
                    self._move(previous, waypoint.pose, waypoint.speed, False)
                    self._open(waypoint.gripper_width)
                    return self._outcome(True, "", "", width)
                self._move(previous, waypoint.pose, waypoint.speed, waypoint.phase in ("pre_grasp", "approach"))
                previous = waypoint.pose
                if waypoint.gripper == "open":
                    self._open(waypoint.gripper_width)
                elif waypoint.gripper == "close":
                    self._close()
                    if len(sim.contacts()[0]) < 2:
                        return self._outcome(False, "missed", "the jaws closed without both fingers on the object")
                if waypoint.name in ("lift", "transport") and not self._held():
                    return self._outcome(False, "slipped", f"the object slipped out during {waypoint.name}")
                shaken = shaken or waypoint.name.startswith("shake")
        except _Stop as stop:
            return self._outcome(False, stop.cause, stop.message)
        held = self._held()  # a plan without a release step: judge at its end
        return self._outcome(held, "" if held else "slipped", "" if held else "the object was not held at the end")

    def _outcome(self, success: bool, cause: str, message: str, width: float | None = None) -> ExecutionOutcome:
        width = self.sim.jaw_opening() if width is None else width
        return ExecutionOutcome(success, cause, message, width, self.sim.data.time, list(self.phases))

    def _step(self, watch_collisions: bool) -> None:
        sim = self.sim
        mujoco.mj_step(sim.model, sim.data)
        self.steps += 1
        if watch_collisions:
            _, on_table, force = sim.contacts()
            if on_table:
                raise _Stop("collision", "the gripper hit the table on the way down")
            if force > sim.settings.sim_collision_force:
                raise _Stop("collision", f"the gripper pushed the object with {force:.1f} N on the way down")
        if self.steps % self.CHECK_EVERY == 0 and self.should_cancel():
            raise _Stop("canceled", "canceled")

    def _move(self, start: np.ndarray, goal: np.ndarray, speed: float, watch_collisions: bool) -> None:
        sim = self.sim
        distance = float(np.linalg.norm(goal[:3, 3] - start[:3, 3]))
        rotations = Rotation.from_matrix(np.stack([start[:3, :3], goal[:3, :3]]))
        angle = (rotations[0].inv() * rotations[1]).magnitude()
        duration = max(distance / speed, angle / sim.config.max_angular_speed)
        steps = max(math.ceil(duration / sim.model.opt.timestep), 1)
        alphas = _smoothstep(np.arange(1, steps + 1) / steps)
        positions = (1 - alphas)[:, None] * start[:3, 3] + alphas[:, None] * goal[:3, 3]
        quaternions = Slerp([0.0, 1.0], rotations)(alphas).as_quat()[:, [3, 0, 1, 2]]  # MuJoCo: w first
        for position, quaternion in zip(positions, quaternions, strict=True):
            sim.data.mocap_pos[sim._mocap] = position
            sim.data.mocap_quat[sim._mocap] = quaternion
            self._step(watch_collisions)
        for _ in range(int(0.05 / sim.model.opt.timestep)):  # let the weld catch up with the target
            self._step(watch_collisions)

    def _open(self, width: float) -> None:
        sim = self.sim
        sim.data.ctrl[sim._jaws] = width
        for _ in range(int(1.0 / sim.model.opt.timestep)):
            self._step(False)
            if abs(sim.jaw_opening() - width) < 1e-3:
                break

    def _close(self) -> None:
        """Ramp the jaw target to zero at the gripper speed; the actuator's force limit sets the grip force."""
        sim = self.sim
        dt = sim.model.opt.timestep
        target = sim.jaw_opening()
        while target > 0:
            target = max(target - sim.settings.sim_gripper_speed * dt, 0.0)
            sim.data.ctrl[sim._jaws] = target
            self._step(False)
        for _ in range(int(0.3 / dt)):  # the force builds up and the object settles in the jaws
            self._step(False)

    def _held(self) -> bool:
        fingers, _, _ = self.sim.contacts()
        height = float(self.sim.data.xpos[self.sim._object_body][2])
        return len(fingers) == 2 and height > self.start_height + 0.5 * self.sim.config.lift_height


class _Stop(Exception):  # noqa: N818 - control flow inside a trial, never escapes it
    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause
        self.message = message


def box_mesh(extents: tuple[float, float, float] = (0.035, 0.09, 0.05)) -> trimesh.Trimesh:
    """The default sim object: a box centred on its frame (the demo's 35 x 90 x 50 mm box)."""
    return trimesh.creation.box(extents)


def load_sim_mesh(path: str) -> trimesh.Trimesh:
    """A mesh file as a single closed trimesh (dexnet's loader is not used: it rescales objects)."""
    if not path:
        return box_mesh()
    if not Path(path).is_file():
        raise FileNotFoundError(f"sim mesh file not found: {path}")
    mesh = trimesh.load(path, force="mesh")
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ValueError(f"{path}: no triangles in the file")
    return mesh
