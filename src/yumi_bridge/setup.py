from glob import glob

from setuptools import find_packages, setup

package_name = "yumi_bridge"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/config", ["config/yumi_bridge.yaml"]),
        ("share/" + package_name + "/config/rapid", sorted(glob("config/rapid/*.mod"))),
        ("share/" + package_name + "/launch", ["launch/full_stack.launch.py"]),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},  # colcon test runs pytest (setup.cfg: which tests)
    zip_safe=True,
    maintainer="gqcnn-ros2 maintainers",
    maintainer_email="maintainers@gqcnn-ros2.dev",
    description="Execute planned grasps on an ABB YuMi or in MuJoCo",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "execute_grasp_node = yumi_bridge.execute_grasp_node:main",
            "yumi_bridge = yumi_bridge.execute_grasp_node:main",  # the executable's old name, for existing launch files
            "pick = yumi_bridge.pick_node:main",
            "yumi-register-camera = yumi_bridge.registration:main",
        ],
    },
)
