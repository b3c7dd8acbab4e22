from setuptools import find_packages, setup

package_name = "gqcnn_planner"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/config", ["config/planner.yaml", "config/gqcnn.rviz"]),
        ("share/" + package_name + "/launch", ["launch/grasp_planner.launch.py"]),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},  # colcon test runs pytest (setup.cfg: which tests)
    zip_safe=True,
    maintainer="gqcnn-ros2 maintainers",
    maintainer_email="maintainers@gqcnn-ros2.dev",
    description="Dex-Net 2.0 GQ-CNN grasp planner for ROS 2",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "planner_node = gqcnn_planner.planner_node:main",
            "perception_node = gqcnn_planner.perception_node:main",
            "realsense_node = gqcnn_planner.realsense_node:main",
            "camera_tf_node = gqcnn_planner.camera_tf_node:main",
            "gqcnn-plan = gqcnn_planner.cli:main",
        ],
    },
)
