"""Perception + planner + YuMi bridge (sim or rws backend).

    ros2 launch yumi_bridge full_stack.launch.py                              # sim: its camera feeds the planner
    ros2 launch yumi_bridge full_stack.launch.py backend:=rws realsense:=true  # the real YuMi and a RealSense
    ros2 launch yumi_bridge full_stack.launch.py backend:=rws camera:=realsense_ros   # with realsense2_camera
    ros2 run yumi_bridge pick --ros-args -p policy:=cem                      # then: plan one grasp and execute it

With the sim backend the simulated scene's depth stream is remapped onto the camera topics, so leave realsense
off; it also latches its scene's camera pose on /tf_static, so camera_tf_node (the extrinsics file) is started
only with rws. Arguments left at their default ("") leave the params files' values alone. The nodes and their
parameters are described in yumi_bridge/launch_description.py, which the tests start in-process.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration

from gqcnn_planner.launch_description import parse_arguments, to_launch_node
from yumi_bridge.launch_description import FULL_STACK_ARGUMENTS, full_stack_nodes


def nodes(context):
    values = {argument.name: LaunchConfiguration(argument.name).perform(context) for argument in FULL_STACK_ARGUMENTS}
    return [to_launch_node(spec) for spec in full_stack_nodes(**parse_arguments(values, FULL_STACK_ARGUMENTS))]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        *(DeclareLaunchArgument(argument.name, default_value=argument.default, description=argument.help)
          for argument in FULL_STACK_ARGUMENTS),
        OpaqueFunction(function=nodes),
    ])
