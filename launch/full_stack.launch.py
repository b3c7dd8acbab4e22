"""Perception + planner + YuMi bridge (sim or rws backend).

    ros2 launch launch/full_stack.launch.py backend:=rws realsense:=true
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
    return LaunchDescription([
        DeclareLaunchArgument("backend", default_value="sim", description="sim (MuJoCo) or rws (real YuMi)"),
        DeclareLaunchArgument("realsense", default_value="false", description="start the RealSense source"),
        DeclareLaunchArgument("bridge_params_file", default_value=BRIDGE_CONFIG, description="yumi_bridge parameters"),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(HERE / "grasp_planner.launch.py")),
                                 launch_arguments={"realsense": LaunchConfiguration("realsense")}.items()),
        Node(package="yumi_bridge", executable="yumi_bridge", name="yumi_bridge",
             parameters=[LaunchConfiguration("bridge_params_file"), {"backend": LaunchConfiguration("backend")}]),
    ])
