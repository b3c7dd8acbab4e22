"""Perception + GQ-CNN planner (+ optional RealSense source).

    ros2 launch gqcnn_planner grasp_planner.launch.py realsense:=true policy:=cem
    ros2 launch gqcnn_planner grasp_planner.launch.py camera:=realsense_ros   # with realsense2_camera's rs_launch.py
    rviz2 -d $(ros2 pkg prefix gqcnn_planner)/share/gqcnn_planner/config/gqcnn.rviz

`ros2 launch gqcnn_planner grasp_planner.launch.py --show-args` lists the arguments. An argument left at its
default ("") leaves the params file's value alone. The nodes and their parameters are described in
gqcnn_planner/launch_description.py, which the tests start in-process.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration

from gqcnn_planner.launch_description import PLANNER_ARGUMENTS, parse_arguments, planner_nodes, to_launch_node


def nodes(context):
    values = {argument.name: LaunchConfiguration(argument.name).perform(context) for argument in PLANNER_ARGUMENTS}
    return [to_launch_node(spec) for spec in planner_nodes(**parse_arguments(values, PLANNER_ARGUMENTS))]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        *(DeclareLaunchArgument(argument.name, default_value=argument.default, description=argument.help)
          for argument in PLANNER_ARGUMENTS),
        OpaqueFunction(function=nodes),
    ])
