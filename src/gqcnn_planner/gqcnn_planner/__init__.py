"""Dex-Net 2.0 GQ-CNN grasp planner: the antipodal and CEM policies (ROS-free) and the rclpy nodes on top.

The geometry it shares with the dataset generator and the robot bridge lives in `gqcnn_core`.
"""

__version__ = "0.1.0"
