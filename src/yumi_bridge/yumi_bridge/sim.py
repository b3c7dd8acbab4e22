"""MuJoCo grasp execution: one object on a table and a floating parallel-jaw gripper with YuMi-like fingers.

The simulation's world frame is the YuMi base frame (z up, table surface at `table_z`), so the motion plans and
safety checks of motion.py apply unchanged; the camera is placed above the table centre with the Dex-Net 2.0
camera model and the scene's depth image is rendered by gqcnn_core.render.ObjectRenderer from the settled pose of the
same mesh the physics uses (physics collides with its convex decomposition, coacd_cache.py).

The pieces: settings, presets and per-scene conditions in sim_settings.py, the MJCF (and why its physics is set
up as it is) in mjcf.py, the MuJoCo world in world.py, the trial protocol and its failure causes in trial.py,
heaps of several objects in heap.py. The run is deterministic: MuJoCo is, and every random choice comes from the
scene's seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.frames import CameraExtrinsics
from gqcnn_core.grasp import Grasp2D
from gqcnn_core.gripper import Gripper
from gqcnn_core.mesh_file import read_mesh_file
from gqcnn_core.render import OBJECT_PLANAR_RANGE, ObjectRenderer, sample_camera_pose
from yumi_bridge.coacd_cache import convex_parts
from yumi_bridge.mjcf import object_body
from yumi_bridge.motion import ExecutionOutcome, MotionConfig, MotionPlan, plan_grasp_motion
from yumi_bridge.scene_view import SceneView
from yumi_bridge.sim_settings import Conditions, SimSettings, draw_conditions, registration_error
from yumi_bridge.trial import Trial
from yumi_bridge.world import World

__all__ = ["GraspSimulator", "SimBackend", "SimScene", "SimSettings", "box_mesh", "load_sim_mesh"]


@dataclass(frozen=True)
class SimScene(SceneView):
    """A settled object and what the camera sees of it. World frame = YuMi base frame."""

    world_object: np.ndarray  # 4x4 pose of the mesh frame
    world_camera: np.ndarray  # 4x4 pose of the camera optical frame
    camera: CameraIntrinsics
    depth: np.ndarray  # float32 metres, NaN where nothing is hit (ideal: see `sensed`)
    seed: int
    registration_error: np.ndarray = field(default_factory=lambda: np.eye(4))  # camera frame, 4x4
    finger_friction: float = 0.8  # the scene's physical conditions (drawn per scene under the paper preset)
    object_density: float = 400.0  # kg/m^3


class GraspSimulator:
    """One object (any closed mesh, in its own frame) on a table, and the gripper; see the module docstring."""

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
        self.parts = convex_parts(mesh, settings.sim_coacd_threshold, settings.sim_coacd_max_parts,
                                  settings.sim_cache_dir)
        body = object_body("object", mesh, self.parts, settings.sim_object_density)
        self.world = World([body], config, settings, self.gripper)
        self._renderer: ObjectRenderer | None = None
        self._settled_state: Any = None
        self._conditions = Conditions(settings.sim_finger_friction, (settings.sim_object_density,))  # as built

    # ---- scene ---------------------------------------------------------------------------------------------------

    def drop_object(self, seed: int) -> SimScene:
        """Drop the object in a random orientation near the table centre, let it settle, render the depth image.
        The scene's physical conditions (finger friction, density) are drawn from the same seed."""
        self._apply_conditions(seed)
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
        conditions = self._conditions
        return SimScene(self.object_pose(), world_camera, self.camera, self.render(world_camera), seed, error,
                        conditions.finger_friction, conditions.object_densities[0])

    def place_object(self, world_object: np.ndarray, max_time: float = 3.0) -> None:
        """Put the object at `world_object` (mesh frame) and simulate until it rests; that state is what every
        trial starts from."""
        world = self.world
        world.reset()
        world.park_gripper(self.settings.sim_table_center)
        world.set_object_pose(0, world_object)
        world.settle([0], max_time)
        self._settled_state = world.get_state()

    def object_pose(self) -> np.ndarray:
        return self.world.object_pose(0)

    def render(self, world_camera: np.ndarray) -> np.ndarray:
        """Depth image of the object's current pose (ObjectRenderer's table is z = 0, so shift by table_z)."""
        if self._renderer is None:
            self._renderer = ObjectRenderer(self.mesh, self.camera)
        shift = np.eye(4)
        shift[2, 3] = -self.config.table_z
        return self._renderer.render(shift @ world_camera, shift @ self.object_pose())

    def _apply_conditions(self, seed: int) -> None:
        conditions = draw_conditions(self.settings, seed)
        if conditions != self._conditions:  # fixed conditions (easy preset) leave the model exactly as built
            self.world.set_conditions(conditions.finger_friction, conditions.object_densities,
                                      self.settings.sim_object_density)
            self._conditions = conditions

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
        self.world.set_state(self._settled_state)
        return Trial(self.world, on_phase, should_cancel).run(plan).outcome


class SimBackend:
    """The simulator as an execute_grasp backend (yumi_bridge.backend.Backend and SceneSource): one object dropped
    with `sim_seed`, the next seed on each `new_scene`."""

    name = "sim"
    Settings = SimSettings

    def __init__(self, settings: SimSettings, config: MotionConfig, gripper: Gripper, logger: Any) -> None:
        self.settings = settings
        self.gripper = gripper
        self.logger = logger
        self.simulator = GraspSimulator(load_sim_mesh(settings.sim_mesh_file), config, settings, gripper)
        self._seed = settings.sim_seed
        self._scene = self.simulator.drop_object(self._seed)

    @property
    def scene(self) -> SimScene:
        return self._scene

    @property
    def extrinsics(self) -> CameraExtrinsics:
        return self._scene.extrinsics()

    def new_scene(self) -> SimScene:
        self._seed += 1
        self._scene = self.simulator.drop_object(self._seed)
        return self._scene

    def execute(
        self,
        plan: MotionPlan,
        on_phase: Callable[[str], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> ExecutionOutcome:
        return self.simulator.execute(plan, on_phase, should_cancel)

    def close(self) -> None:
        pass


def box_mesh(extents: tuple[float, float, float] = (0.035, 0.09, 0.05)) -> trimesh.Trimesh:
    """The default sim object: a box centred on its frame (the demo's 35 x 90 x 50 mm box)."""
    return trimesh.creation.box(extents)


def load_sim_mesh(path: str) -> trimesh.Trimesh:
    """A mesh file in metres as a single trimesh, UV/normal seams welded (dexnet's loader is not used: it rescales
    objects). Raises MeshFileError (a ValueError) naming the problem, FileNotFoundError for a missing file."""
    if not path:
        return box_mesh()
    if not Path(path).is_file():
        raise FileNotFoundError(f"sim mesh file not found: {path}")
    return read_mesh_file(path)
