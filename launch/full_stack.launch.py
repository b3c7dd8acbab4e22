"""Perception + planner + YuMi bridge (sim or rws backend); run by path from the workspace.

    ros2 launch launch/full_stack.launch.py                              # sim: its camera feeds the planner
    ros2 launch launch/full_stack.launch.py backend:=rws realsense:=true  # the real YuMi and a RealSense
    ros2 run yumi_bridge pick --ros-args -p policy:=cem                  # then: plan one grasp and execute it

With backend:=sim the simulated scene's depth stream is remapped onto the camera topics, so leave realsense off.
"""

from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

HERE = Path(__file__).resolve().parent
BRIDGE_CONFIG = str(HERE.parent / "config" / "yumi_bridge.yaml")


def generate_launch_description() -> LaunchDescription:
    namespace = LaunchConfiguration("camera_namespace")
    return LaunchDescription([
        DeclareLaunchArgument("backend", default_value="sim", description="sim (MuJoCo) or rws (real YuMi)"),
        DeclareLaunchArgument("realsense", default_value="false", description="start the RealSense source"),
        DeclareLaunchArgument("bridge_params_file", default_value=BRIDGE_CONFIG, description="yumi_bridge parameters"),
        DeclareLaunchArgument("camera_namespace", default_value="camera", description="namespace of depth topics"),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(HERE / "grasp_planner.launch.py")),
                                 launch_arguments={"realsense": LaunchConfiguration("realsense"),
                                                   "camera_namespace": namespace}.items()),
        Node(package="yumi_bridge", executable="yumi_bridge", name="yumi_bridge",
             parameters=[LaunchConfiguration("bridge_params_file"), {"backend": LaunchConfiguration("backend")}],
             # Only the sim backend publishes these; with rws the rules match nothing.
             remappings=[("~/sim/depth", [namespace, "/depth/image_raw"]),
                         ("~/sim/camera_info", [namespace, "/depth/camera_info"])]),
    ])
