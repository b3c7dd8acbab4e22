"""The plain-Python core shared by the planner, the dataset generator and the robot bridge.

Camera model, depth conversion, grasp geometry, the gripper, the grasp-aligned crop transform, the ONNX
GQ-CNN wrapper, depth rendering and workspace paths. Nothing here imports rclpy or a message package, so
`dexnet` (training, no ROS) and the ROS packages `gqcnn_planner` and `yumi_bridge` all build on it.
"""

__version__ = "0.1.0"
