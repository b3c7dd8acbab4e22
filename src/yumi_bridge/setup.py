from setuptools import find_packages, setup

package_name = "yumi_bridge"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="gqcnn-ros2 maintainers",
    maintainer_email="maintainers@gqcnn-ros2.dev",
    description="Execute planned grasps on an ABB YuMi or in MuJoCo",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "yumi_bridge = yumi_bridge.executor_node:main",
            "pick = yumi_bridge.pick_node:main",
            "yumi-register-camera = yumi_bridge.registration:main",
        ],
    },
)
