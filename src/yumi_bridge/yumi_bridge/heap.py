"""Heaps for bin clearing: several objects dropped into a square area on the table, picked one at a time.

    sim = HeapSimulator(meshes, config, preset_settings("paper"), gripper)
    scene = sim.drop(seed)                       # objects settled in the area, depth + ground-truth labels
    while scene.objects:
        grasp = plan(scene.sensed(sim.settings.sim_sensor, rng), ...)   # any planner, in scene.depth's image
        outcome = sim.run_grasp(grasp)            # which object was held, or why not; picks-per-hour time
        scene = sim.scene                         # re-rendered: the held object is gone, the rest where they lie

A heap is built the way objects are poured into a bin: one object at a time, in a random orientation, released
1 cm above the current top of the heap at a random point of the area (shrunk by the object's own radius) and
given up to a second to come to rest before the next one; then the whole heap settles. Objects that roll out of
the area are dropped again nearer the centre each time (four times at most) and otherwise left out of the heap
(`HeapScene.objects` lists those in it). The camera (Dex-Net 2.0 distribution, aimed at the area's centre), the
registration error and the object densities (sim_settings.draw_conditions) come from the heap's seed, the finger
friction of each attempt from the seed and the attempt's number, so the same seed gives the same heap and the
same outcomes.

After each attempt the gripper leaves, a held object (carried to the drop pose, outside the area, and released
there) is removed from the scene, the others settle where the attempt left them, and any object that ended up
outside the area (knocked or dropped out) is removed too and reported in `HeapOutcome.fell_out`.
`snapshot()` / `restore(snapshot)` come back to a heap as it lay (several grasps tried on the same heap).
The image and its labels are rendered in heap_scene.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from gqcnn_core.camera import CameraIntrinsics
from gqcnn_core.grasp import Grasp2D
from gqcnn_core.gripper import Gripper
from gqcnn_core.render import ObjectRenderer, sample_camera_pose
from yumi_bridge.coacd_cache import convex_parts
from yumi_bridge.heap_scene import HeapScene, render_heap
from yumi_bridge.mjcf import object_body
from yumi_bridge.motion import ExecutionOutcome, MotionConfig, MotionPlan, plan_grasp_motion
from yumi_bridge.sim_settings import Conditions, SimSettings, draw_conditions, draw_finger_friction, registration_error
from yumi_bridge.trial import Trial
from yumi_bridge.world import World

__all__ = ["AREA_SIZE", "HeapOutcome", "HeapScene", "HeapSimulator", "HeapSnapshot", "render_heap"]

AREA_SIZE = 0.30  # side of the square area objects are dropped into, m
REDROPS = 4  # times an object that rolled out of the area is dropped again while the heap is built


@dataclass(frozen=True)
class HeapOutcome:
    """One grasp attempt on the heap."""

    success: bool  # an object was held through lift, transport and shake
    cause: str  # "" on success; "collision" (the table or the target), "collision_neighbour" (another object),
    # "missed", "slipped", "dropped_while_shaking", "canceled"
    message: str
    held_object: int | None  # the object carried out (removed from the heap), on success
    target_object: int | None  # the object the grasp aimed at (HeapScene.object_at), if known
    collided_object: int | None  # the object pushed too hard on the way down (cause collision*), if any
    fell_out: tuple[int, ...]  # other objects that ended outside the area and were removed
    motion_time: float  # simulated seconds of the robot's cycle: drop pose -> pre-grasp, the attempt, back to
    # the drop pose (at the executor's speeds): add planning time for picks per hour
    finger_friction: float  # of this attempt (drawn per attempt under the paper preset)
    execution: ExecutionOutcome  # the trial as the single-object simulator reports it


@dataclass(frozen=True)
class HeapSnapshot:
    """A heap as it lay at one moment (HeapSimulator.snapshot), to come back to with HeapSimulator.restore."""

    state: tuple  # World.get_state()
    scene: HeapScene


class HeapSimulator:
    """N objects (meshes in their own frames) heaped in a square area around `sim_table_center`, and the gripper;
    see the module docstring."""

    def __init__(
        self,
        meshes: list[trimesh.Trimesh],
        config: MotionConfig = MotionConfig(),
        settings: SimSettings = SimSettings(),
        gripper: Gripper | None = None,
        camera: CameraIntrinsics | None = None,
        area_size: float = AREA_SIZE,
    ) -> None:
        if not meshes:
            raise ValueError("a heap needs at least one mesh")
        self.meshes = list(meshes)
        self.config = config
        self.settings = settings
        self.gripper = gripper or Gripper()
        self.camera = camera or CameraIntrinsics.primesense()
        self.area_size = float(area_size)
        self.center = np.asarray(settings.sim_table_center, dtype=float)
        cache = (settings.sim_coacd_threshold, settings.sim_coacd_max_parts, settings.sim_cache_dir)
        bodies = [
            object_body(f"object{k}", mesh, convex_parts(mesh, *cache), settings.sim_object_density)
            for k, mesh in enumerate(self.meshes)
        ]
        self.world = World(bodies, config, settings, self.gripper)
        self._renderers = {k: ObjectRenderer(mesh, self.camera) for k, mesh in enumerate(self.meshes)}
        self._state = None
        self._scene: HeapScene | None = None

    @property
    def scene(self) -> HeapScene:
        """The heap as it lies now (after the last attempt)."""
        if self._scene is None:
            raise RuntimeError("no heap yet: call drop(seed) first")
        return self._scene

    def snapshot(self) -> HeapSnapshot:
        """The heap as it lies now; `restore` comes back to it (e.g. to try several grasps on the same heap)."""
        return HeapSnapshot(self._state, self.scene)

    def restore(self, snapshot: HeapSnapshot) -> HeapScene:
        """Put the heap (poses, removed objects, conditions, camera) back as it was at `snapshot`."""
        scene = snapshot.scene
        self.world.set_conditions(self.settings.sim_finger_friction, scene.object_densities,
                                  self.settings.sim_object_density)
        self.world.set_state(snapshot.state)
        self._state, self._scene = snapshot.state, scene
        return scene

    def in_area(self, k: int) -> bool:
        """Whether object k's mesh origin lies inside the area."""
        offset = self.world.object_pose(k)[:2, 3] - self.center
        return bool(np.all(np.abs(offset) <= self.area_size / 2))

    # ---- building a heap -----------------------------------------------------------------------------------------

    def drop(self, seed: int) -> HeapScene:
        """Pour all objects into the area (module docstring), settle them and render the scene."""
        world = self.world
        conditions = draw_conditions(self.settings, seed, len(self.meshes))
        world.set_conditions(self.settings.sim_finger_friction, conditions.object_densities,
                             self.settings.sim_object_density)
        world.reset(parking=[self._parking(k) for k in range(len(self.meshes))])  # out until poured in
        world.park_gripper(tuple(self.center))
        rng = np.random.default_rng(seed)
        for k in range(len(self.meshes)):
            self._drop_one(k, rng)
        heap = list(range(len(self.meshes)))
        world.settle(heap, 3.0)
        for attempt in range(REDROPS):
            outside = [k for k in heap if not self.in_area(k)]
            if not outside:
                break
            for k in outside:
                self._remove(k)
            for k in outside:
                self._drop_one(k, rng, spread=0.5 ** (attempt + 1))
            world.settle(heap, 3.0)
        for k in heap:
            if not self.in_area(k):
                self._remove(k)
        return self._new_scene(seed, rng, conditions)

    def place(self, world_objects: dict[int, np.ndarray], seed: int = 0) -> HeapScene:
        """A hand-made heap: objects `world_objects` (index -> 4x4 pose of the mesh frame) let go where they are
        and settled, the others left out; camera, registration error and conditions from `seed` as for `drop`."""
        world = self.world
        conditions = draw_conditions(self.settings, seed, len(self.meshes))
        world.set_conditions(self.settings.sim_finger_friction, conditions.object_densities,
                             self.settings.sim_object_density)
        world.reset(parking=[self._parking(k) for k in range(len(self.meshes))])
        world.park_gripper(tuple(self.center))
        for k, pose in world_objects.items():
            world.add_object(k, pose)
        world.settle(sorted(world_objects), 3.0)
        return self._new_scene(seed, np.random.default_rng(seed), conditions)

    def _new_scene(self, seed: int, rng: np.random.Generator, conditions: Conditions) -> HeapScene:
        world_camera = sample_camera_pose(rng)
        world_camera[:2, 3] += self.center
        world_camera[2, 3] += self.config.table_z
        error = registration_error(np.random.default_rng([seed, 1]), *self.settings.sim_registration_error)
        self._state = self.world.get_state()
        self._scene = self._render(seed, world_camera, error, conditions.object_densities, attempts=0,
                                   removed=tuple(sorted(self.world.removed)))
        return self._scene

    def _drop_one(self, k: int, rng: np.random.Generator, spread: float = 1.0) -> None:
        """Release object k in a random orientation 1 cm above the heap's top and let it come to rest (<= 1 s);
        `spread` < 1 keeps it nearer the centre (objects that rolled out once)."""
        world = self.world
        rotation = Rotation.from_quat(rng.normal(size=4)).as_matrix()  # normalised: uniform over rotations
        vertices = self.meshes[k].vertices @ rotation.T
        radius = float(np.linalg.norm(vertices[:, :2], axis=1).max())
        reach = spread * max(self.area_size / 2 - radius, 0.0)
        pose = np.eye(4)
        pose[:3, :3] = rotation
        pose[:2, 3] = self.center + rng.uniform(-reach, reach, size=2)
        pose[2, 3] = self._heap_top() - float(vertices[:, 2].min()) + 0.01
        world.add_object(k, pose)
        world.settle([k], 1.0)

    def _heap_top(self) -> float:
        """Height of the highest point of the objects already dropped (the table if none), from their poses."""
        world, top = self.world, self.config.table_z
        for k, mesh in enumerate(self.meshes):
            if k not in world.removed:
                pose = world.object_pose(k)
                top = max(top, float((mesh.vertices @ pose[:3, :3].T)[:, 2].max() + pose[2, 3]))
        return top

    def _remove(self, k: int) -> None:
        self.world.remove_object(k, self._parking(k))

    @staticmethod
    def _parking(k: int) -> np.ndarray:
        return np.array([10.0 + k, 10.0, 1.0])  # far from everything, floating

    def _render(self, seed, world_camera, error, densities, attempts, removed) -> HeapScene:
        poses = {k: self.world.object_pose(k) for k in range(len(self.meshes)) if k not in self.world.removed}
        depth, labels = render_heap(self._renderers, poses, world_camera, self.config.table_z)
        return HeapScene(seed, world_camera, self.camera, depth, labels, poses, error, densities, attempts, removed)

    # ---- attempts ------------------------------------------------------------------------------------------------

    def run_grasp(self, grasp: Grasp2D, q_value: float = 1.0, arm: str = "") -> HeapOutcome:
        """Plan (with the safety checks) and execute a grasp found in the current scene's image; raises
        GraspRefusedError when the plan is refused (nothing moves then)."""
        scene = self.scene
        plan = plan_grasp_motion(
            scene.grasp_pose(grasp), grasp.width, q_value, arm, self.config, scene.extrinsics(), self.gripper
        )
        return self.execute(plan, scene.object_at(grasp))

    def execute(
        self,
        plan: MotionPlan,
        target: int | None = None,
        on_phase: Callable[[str], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> HeapOutcome:
        """Execute a motion plan on the current heap, then update the heap (module docstring)."""
        scene, world = self.scene, self.world
        world.set_state(self._state)
        friction = draw_finger_friction(self.settings, np.random.default_rng([scene.seed, 3, scene.attempts]))
        world.set_finger_friction(friction)
        result = Trial(world, on_phase, should_cancel).run(plan)
        outcome = result.outcome
        end_position = world.hand_position()
        if result.held_object is not None:
            self._remove(result.held_object)
        world.park_gripper(tuple(self.center))
        remaining = [k for k in range(len(self.meshes)) if k not in world.removed]
        world.settle(remaining, 3.0)
        fell_out = tuple(k for k in remaining if not self.in_area(k))
        for k in fell_out:
            self._remove(k)
        self._state = world.get_state()
        newly_removed = tuple(k for k in sorted(world.removed) if k not in scene.removed)
        removed = scene.removed + tuple(k for k in newly_removed if k == result.held_object)
        removed += tuple(k for k in newly_removed if k != result.held_object)
        self._scene = self._render(scene.seed, scene.world_camera, scene.registration_error, scene.object_densities,
                                   scene.attempts + 1, removed)
        cause = outcome.cause
        if cause == "collision" and None not in (target, result.collided_object) and result.collided_object != target:
            cause = "collision_neighbour"
        return HeapOutcome(outcome.success, cause, outcome.message, result.held_object, target,
                           result.collided_object, fell_out, self._cycle_time(plan, outcome, end_position), friction,
                           outcome)

    def _cycle_time(self, plan: MotionPlan, outcome: ExecutionOutcome, end_position: np.ndarray) -> float:
        """The attempt's simulated time plus the free moves at transport speed from the drop pose to the
        pre-grasp and, unless the attempt ended there, from where it ended back to the drop pose."""
        drop = np.asarray(self.config.drop_position, dtype=float)
        to_start = np.linalg.norm(plan.waypoints[0].pose[:3, 3] - drop)
        back = 0.0 if outcome.success else np.linalg.norm(end_position - drop)
        return float(outcome.duration + (to_start + back) / self.config.transport_speed)
