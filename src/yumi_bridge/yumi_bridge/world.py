"""The MuJoCo world of the simulator: table, free objects and the gripper, with the few operations trials need.

Objects are numbered 0..n-1 in the order given. A removed object (carried out of a heap) stops colliding and
floats where it was put, so the model never has to be rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from gqcnn_core.gripper import Gripper
from yumi_bridge.mjcf import ObjectBody, scene_xml
from yumi_bridge.motion import MotionConfig
from yumi_bridge.sim_settings import SimSettings

PARK_HEIGHT = 0.6  # metres above the table: where the gripper waits while objects settle


def mj_quat(rotation: np.ndarray) -> np.ndarray:
    """MuJoCo quaternion (w first) of a rotation matrix."""
    x, y, z, w = Rotation.from_matrix(rotation).as_quat()
    return np.array([w, x, y, z])


@dataclass
class Contacts:
    """Gripper contacts at one instant."""

    fingers_on: dict[int, set[int]]  # object index -> finger bodies touching it
    gripper_on_table: bool
    force_on: dict[int, float]  # object index -> largest gripper-object normal force, N

    def gripping(self) -> list[int]:
        """Objects touched by both fingers."""
        return sorted(k for k, fingers in self.fingers_on.items() if len(fingers) == 2)


class World:
    """MuJoCo model and data of the scene; see the module docstring."""

    def __init__(self, objects: list[ObjectBody], config: MotionConfig, settings: SimSettings, gripper: Gripper):
        self.config = config
        self.settings = settings
        self.gripper = gripper
        self.model = mujoco.MjModel.from_xml_string(scene_xml(objects, config, settings, gripper))
        self.data = mujoco.MjData(self.model)
        model = self.model
        self.timestep = float(model.opt.timestep)
        self._bodies = [model.body(body.name).id for body in objects]
        self._body_index = {body: k for k, body in enumerate(self._bodies)}
        self._qpos = [model.jnt_qposadr[model.joint(body.name).id] for body in objects]
        self._qvel = [model.jnt_dofadr[model.joint(body.name).id] for body in objects]
        self._base_mass = [float(model.body_mass[b]) for b in self._bodies]
        self._base_inertia = [model.body_inertia[b].copy() for b in self._bodies]
        self._geoms = [np.flatnonzero(model.geom_bodyid == b) for b in self._bodies]
        self._hand_body = model.body("hand").id
        self._mocap = model.body("hand_target").mocapid[0]
        self._hand_qpos = model.jnt_qposadr[model.joint("hand").id]
        self._finger_qpos = [model.jnt_qposadr[model.joint(name).id] for name in ("finger_left", "finger_right")]
        self._finger_geoms = [model.geom(name).id for name in ("finger_left", "finger_right")]
        self._table_geom = model.geom("table").id
        self._finger_bodies = {model.body("finger_left").id, model.body("finger_right").id}
        self._gripper_bodies = self._finger_bodies | {self._hand_body}
        self._jaws = model.actuator("jaws").id
        self._jaw_tendon = model.tendon("jaw_opening").id
        self.removed: set[int] = set()

    @property
    def n_objects(self) -> int:
        return len(self._bodies)

    # ---- physical conditions -------------------------------------------------------------------------------------

    def set_conditions(self, finger_friction: float, densities: tuple[float, ...], base_density: float) -> None:
        """Finger friction and object densities (the model was built with `base_density`); recomputes the
        mass-dependent constants (contact softness is mass-normalised)."""
        self.set_finger_friction(finger_friction)
        for k, body in enumerate(self._bodies):
            scale = densities[k] / base_density
            self.model.body_mass[body] = max(self._base_mass[k] * scale, 1e-3)
            self.model.body_inertia[body] = self._base_inertia[k] * (self.model.body_mass[body] / self._base_mass[k])
        mujoco.mj_setConst(self.model, self.data)

    def set_finger_friction(self, friction: float) -> None:
        for geom in self._finger_geoms:
            self.model.geom_friction[geom, 0] = friction

    # ---- state ---------------------------------------------------------------------------------------------------

    def reset(self, parking: list[np.ndarray] | None = None) -> None:
        """Back to the model's initial state with every object in the scene, or with all of them removed and
        resting at `parking` (one position each) before anything is computed: at the initial state they all
        overlap at the origin."""
        mujoco.mj_resetData(self.model, self.data)
        self.removed = set(range(self.n_objects)) if parking is not None else set()
        for k in range(self.n_objects):
            self._set_collisions(k, parking is None)
            if parking is not None:
                pose = np.eye(4)
                pose[:3, 3] = parking[k]
                self.set_object_pose(k, pose)

    def get_state(self) -> tuple[np.ndarray, frozenset[int]]:
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        state = np.empty(mujoco.mj_stateSize(self.model, spec))
        mujoco.mj_getState(self.model, self.data, state, spec)
        return state, frozenset(self.removed)

    def set_state(self, saved: tuple[np.ndarray, frozenset[int]]) -> None:
        state, removed = saved
        for k in range(self.n_objects):
            self._set_collisions(k, k not in removed)
        self.removed = set(removed)
        mujoco.mj_setState(self.model, self.data, state, mujoco.mjtState.mjSTATE_INTEGRATION)
        mujoco.mj_forward(self.model, self.data)

    def set_object_pose(self, k: int, pose: np.ndarray) -> None:
        address = self._qpos[k]
        self.data.qpos[address : address + 3] = pose[:3, 3]
        self.data.qpos[address + 3 : address + 7] = mj_quat(pose[:3, :3])
        self.data.qvel[self._qvel[k] : self._qvel[k] + 6] = 0.0

    def object_pose(self, k: int) -> np.ndarray:
        pose = np.eye(4)
        pose[:3, :3] = self.data.xmat[self._bodies[k]].reshape(3, 3)
        pose[:3, 3] = self.data.xpos[self._bodies[k]]
        return pose

    def object_height(self, k: int) -> float:
        return float(self.data.xpos[self._bodies[k]][2])

    def object_speed(self, k: int) -> tuple[float, float]:
        velocity = self.data.qvel[self._qvel[k] : self._qvel[k] + 6]
        return float(np.linalg.norm(velocity[:3])), float(np.linalg.norm(velocity[3:]))

    def remove_object(self, k: int, parking: np.ndarray) -> None:
        """Take object k out of the scene: no collisions, no gravity, at rest at `parking` (position)."""
        self.removed.add(k)
        self._set_collisions(k, False)
        pose = np.eye(4)
        pose[:3, 3] = parking
        self.set_object_pose(k, pose)
        mujoco.mj_forward(self.model, self.data)

    def add_object(self, k: int, pose: np.ndarray) -> None:
        """Put a removed object back into the scene at `pose`, at rest."""
        self.removed.discard(k)
        self._set_collisions(k, True)
        self.set_object_pose(k, pose)
        mujoco.mj_forward(self.model, self.data)

    def _set_collisions(self, k: int, on: bool) -> None:
        # The body flags too: the broad phase filters by them, and mj_setConst recomputes them from the geoms'.
        self.model.geom_contype[self._geoms[k]] = int(on)
        self.model.geom_conaffinity[self._geoms[k]] = int(on)
        self.model.body_contype[self._bodies[k]] = int(on)
        self.model.body_conaffinity[self._bodies[k]] = int(on)
        self.model.body_gravcomp[self._bodies[k]] = 0.0 if on else 1.0

    def settle(self, objects: list[int], max_time: float) -> None:
        """Step until `objects` are at rest for 0.1 s (or `max_time` passes); then zero all velocities and time."""
        steps_at_rest, needed = 0, int(0.1 / self.timestep)
        for _ in range(int(max_time / self.timestep)):
            mujoco.mj_step(self.model, self.data)
            at_rest = True
            for k in objects:
                linear, angular = self.object_speed(k)
                if not (linear < 2e-3 and angular < 2e-2):
                    at_rest = False
                    break
            steps_at_rest = steps_at_rest + 1 if at_rest else 0
            if steps_at_rest >= needed:
                break
        self.data.qvel[:] = 0.0
        self.data.time = 0.0

    # ---- gripper -------------------------------------------------------------------------------------------------

    def park_gripper(self, table_center: tuple[float, float]) -> None:
        park = np.eye(4)
        park[:3, :3] = np.diag([1.0, -1.0, -1.0])  # pointing down
        park[:2, 3] = table_center
        park[2, 3] = self.config.table_z + PARK_HEIGHT
        self.teleport_gripper(park, self.gripper.max_width)

    def teleport_gripper(self, pose: np.ndarray, opening: float) -> None:
        quat = mj_quat(pose[:3, :3])
        self.data.mocap_pos[self._mocap] = pose[:3, 3]
        self.data.mocap_quat[self._mocap] = quat
        self.data.qpos[self._hand_qpos : self._hand_qpos + 3] = pose[:3, 3]
        self.data.qpos[self._hand_qpos + 3 : self._hand_qpos + 7] = quat
        for address in self._finger_qpos:
            self.data.qpos[address] = opening / 2
        self.data.ctrl[self._jaws] = opening
        mujoco.mj_forward(self.model, self.data)

    def hand_position(self) -> np.ndarray:
        return self.data.xpos[self._hand_body].copy()

    def set_hand_target(self, position: np.ndarray, quaternion_wxyz: np.ndarray) -> None:
        self.data.mocap_pos[self._mocap] = position
        self.data.mocap_quat[self._mocap] = quaternion_wxyz

    def set_jaw_target(self, opening: float) -> None:
        self.data.ctrl[self._jaws] = opening

    def jaw_opening(self) -> float:
        return float(self.data.ten_length[self._jaw_tendon])

    def step(self) -> None:
        mujoco.mj_step(self.model, self.data)

    @property
    def time(self) -> float:
        return float(self.data.time)

    def contacts(self) -> Contacts:
        """Which fingers touch which object, whether the gripper touches the table, the largest normal forces."""
        model, data = self.model, self.data
        result = Contacts({}, False, {})
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
                result.gripper_on_table = True
                continue
            for body in bodies - gripper_side:
                k = self._body_index.get(body)
                if k is None:
                    continue
                result.fingers_on.setdefault(k, set()).update(gripper_side & self._finger_bodies)
                mujoco.mj_contactForce(model, data, i, wrench)
                result.force_on[k] = max(result.force_on.get(k, 0.0), float(wrench[0]))
        return result
