"""MJCF (MuJoCo XML) of the simulated scene: a table, objects as convex parts, a mocap-driven parallel-jaw gripper.

Physics choices, and why:
- The gripper is a free body welded to a mocap target that follows the waypoints (a kinematic mocap body has no
  velocity, which would make friction on a held object wrong). Its fingers are boxes of the `Gripper` it is given
  (the one the sampler and the labels use) on slide joints over the gripper's stroke, coupled (one servo, like the
  YuMi smart gripper) and driven by one force-limited position actuator on their summed opening.
- Elliptic friction cones with impratio 10 and torsional friction (condim 4): pyramidal cones and point contacts
  let held objects creep and spin out of the fingers.
- The finger pads have contact priority, so a finger-object contact takes the finger's friction (the coefficient
  the labels draw, sim_finger_friction): MuJoCo otherwise uses the larger of the two geoms' coefficients, and the
  objects' 0.5 silently replaced every paper-preset draw below 0.5.
- Hard contacts (solimp 0.99-0.999) and the no-slip solver pass: MuJoCo's contact softness is mass-normalised,
  so with its default impedance a 5 g object squeezed with 20 N sank 1-2 mm into the fingers, got contact
  normals from the fingertip faces and was squeezed out; and soft friction let a statically held object creep
  out over the seconds of transport. Rigid objects in a rigid gripper do neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from gqcnn_core.gripper import Gripper
from yumi_bridge.motion import MotionConfig
from yumi_bridge.sim_settings import SimSettings


@dataclass(frozen=True)
class ObjectBody:
    """One free object of the scene: convex parts (vertex arrays, mesh frame) and its mass properties."""

    name: str
    parts: list[np.ndarray]
    center_of_mass: np.ndarray  # mesh frame
    mass: float  # kg
    inertia: np.ndarray  # 3x3 about the centre of mass, mesh frame axes


def object_body(name: str, mesh: trimesh.Trimesh, parts: list[np.ndarray], density: float) -> ObjectBody:
    """Mass properties of the solid (or of its hull if it is not closed) at `density` kg/m^3 (at least 1 g)."""
    solid = mesh if mesh.is_volume else mesh.convex_hull
    mass = max(float(solid.volume) * density, 1e-3)
    inertia = np.asarray(solid.moment_inertia, dtype=float) * (mass / max(float(solid.mass), 1e-12))
    return ObjectBody(name, parts, np.asarray(mesh.center_mass, dtype=float), mass, inertia)


def _floats(values: np.ndarray) -> str:
    return " ".join(f"{v:.6g}" for v in np.asarray(values, dtype=float).ravel())


def _object_xml(body: ObjectBody) -> tuple[str, str]:
    """(asset lines, body element) of one object."""
    inertia = body.inertia
    full = _floats([inertia[0, 0], inertia[1, 1], inertia[2, 2], inertia[0, 1], inertia[0, 2], inertia[1, 2]])
    assets = "\n".join(
        f'    <mesh name="{body.name}_part{i}" vertex="{_floats(v)}"/>' for i, v in enumerate(body.parts)
    )
    geoms = "\n".join(
        f'      <geom name="{body.name}_{i}" type="mesh" mesh="{body.name}_part{i}" class="object"/>'
        for i in range(len(body.parts))
    )
    element = f"""    <body name="{body.name}">
      <freejoint name="{body.name}"/>
      <inertial pos="{_floats(body.center_of_mass)}" mass="{body.mass:.6g}" fullinertia="{full}"/>
{geoms}
    </body>"""
    return assets, element


def scene_xml(objects: list[ObjectBody], config: MotionConfig, settings: SimSettings, gripper: Gripper) -> str:
    """MJCF of table, objects and the gripper (TCP = hand frame, between the fingertips; fingers open along x)."""
    assets, bodies = zip(*(_object_xml(body) for body in objects), strict=True) if objects else ((), ())
    fw, ft, fl = gripper.finger_width, gripper.finger_thickness, gripper.finger_length
    finger_size = f"{fw / 2} {ft / 2} {fl / 2}"
    half_stroke = gripper.max_width / 2
    return f"""
<mujoco model="yumi_bridge_grasp">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{settings.sim_timestep}" integrator="implicitfast" cone="elliptic" impratio="10"
          noslip_iterations="10"/>
  <default>
    <geom condim="4" solref="0.004 1" solimp="0.99 0.999 0.0005"/>
    <default class="object"><geom friction="{settings.sim_object_friction} 0.005 0.0001"/></default>
    <default class="finger">
      <geom friction="{settings.sim_finger_friction} 0.005 0.0001" mass="0.02" priority="1"/>
    </default>
  </default>
  <asset>
{chr(10).join(assets)}
  </asset>
  <worldbody>
    <geom name="table" type="plane" pos="0 0 {config.table_z}" size="2 2 0.01"
          friction="{settings.sim_table_friction} 0.01 0.0001"/>
{chr(10).join(bodies)}
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
    <position name="jaws" tendon="jaw_opening" kp="2000" kv="40" ctrlrange="0 {gripper.max_width}"
              forcerange="{-config.grip_force} {config.grip_force}"/>
  </actuator>
</mujoco>
"""
