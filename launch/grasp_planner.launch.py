"""Perception + GQ-CNN planner (+ optional RealSense source); run by path from the workspace.

    ros2 launch launch/grasp_planner.launch.py realsense:=true policy:=cem
    rviz2 -d config/gqcnn.rviz

The policy launch argument overrides the params file's `policy`.
"""

from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

CONFIG = str(Path(__file__).resolve().parents[1] / "config" / "planner.yaml")


def generate_launch_description() -> LaunchDescription:
    params = LaunchConfiguration("params_file")
    namespace = LaunchConfiguration("camera_namespace")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=CONFIG, description="node parameters"),
        DeclareLaunchArgument("realsense", default_value="false", description="start the RealSense source"),
        DeclareLaunchArgument("policy", default_value="cem", description="ranking | cem | random | igq"),
        DeclareLaunchArgument("camera_namespace", default_value="camera", description="namespace of depth topics"),
        Node(package="gqcnn_planner", executable="realsense_node", name="realsense_depth", namespace=namespace,
             parameters=[params], condition=IfCondition(LaunchConfiguration("realsense"))),
        Node(package="gqcnn_planner", executable="perception_node", name="gqcnn_perception", parameters=[params],
             remappings=[("depth/image_raw", [namespace, "/depth/image_raw"]),
                         ("depth/camera_info", [namespace, "/depth/camera_info"])]),
        Node(package="gqcnn_planner", executable="planner_node", name="gqcnn_planner",
             parameters=[params, {"policy": LaunchConfiguration("policy")}],
             remappings=[("depth/image_raw", [namespace, "/depth/image_raw"]),
                         ("depth/camera_info", [namespace, "/depth/camera_info"])]),
    ])
