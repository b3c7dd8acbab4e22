"""Dex-Net 2.0 GQ-CNN grasp planner.

The modules camera, depth, grasp and crop form the ROS-free core shared with the dataset generator
(`dexnet`); nothing imported here pulls in rclpy. ROS nodes and message conversions live in
`gqcnn_planner.ros_conversions` and the node modules.
"""

__version__ = "0.1.0"
