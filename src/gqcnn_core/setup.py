from setuptools import find_packages, setup

package_name = "gqcnn_core"

# An ament_python package so `colcon build` and rosdep see it, and a plain setuptools package so
# `pip install -e src/gqcnn_core` works without ROS (dexnet needs only this).
# config/ and models/ hold symlinks to the workspace's top-level files (the ones users edit); they are installed
# as share data, where gqcnn_core.paths finds them after a plain (non-symlink) colcon build.
setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/config", ["config/gripper_yumi.yaml", "config/camera_extrinsics.yaml"]),
        ("share/" + package_name + "/models", ["models/gqcnn.onnx", "models/gqcnn.json"]),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},  # colcon test runs pytest (setup.cfg: which tests)
    zip_safe=True,
    maintainer="gqcnn-ros2 maintainers",
    maintainer_email="maintainers@gqcnn-ros2.dev",
    description="Plain-Python core of gqcnn-ros2: camera, depth, grasp, gripper, crop transform, ONNX model, rendering",
    license="Apache-2.0",
)
