"""ament_python package definition: colcon and pip both install it from here."""

from glob import glob

from setuptools import find_packages, setup

package_name = "fer_ros"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={
        package_name + ".perception": ["models/*.tflite", "models/*.h5", "models/*.onnx",
                                        "models/*.json"],
        package_name + ".nodes": ["dds/*.xml"],
        package_name + ".viewer": ["static/*"],
    },
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="fer_ros maintainers",
    maintainer_email="fer-ros@example.com",
    description="Facial expression recognition for robots (ROS 2)",
    license="Apache-2.0",
    # colcon test reads the test dependencies from here (setuptools >= 72 ignores tests_require,
    # and colcon then runs no test at all).
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "emotion_node = fer_ros.nodes.process.entry_points:emotion_node",
            "camera_node = fer_ros.nodes.process.entry_points:camera_node",
            "hri_expression_node = fer_ros.nodes.process.entry_points:hri_expression_node",
            "fer = fer_ros.cli:main",
        ],
    },
)
