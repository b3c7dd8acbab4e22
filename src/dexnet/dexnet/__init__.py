"""Dex-Net 2.0 dataset generation, GQ-CNN training, evaluation and ONNX export. No ROS imports."""

__version__ = "0.1.0"
