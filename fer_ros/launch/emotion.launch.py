"""The emotion node alone, on a camera that is already running.

  ros2 launch fer_ros emotion.launch.py image_topic:=/camera/image_raw

Publishes /fer/emotions and /fer/image_annotated (namespace `fer` by default). The parameters
come from config/emotion.yaml or the file given as emotion_params:=; model, detector,
autostart and hri (ROS4HRI's /humans/faces topics, docs/hri.md), when given, override the file
(fer_ros/nodes/parameters/launch_arguments.py). With
`autostart:=false` the node starts unconfigured and a lifecycle manager (or
`ros2 lifecycle set`) drives it.
"""

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from fer_ros.nodes.parameters.launch_arguments import (
    EMOTION_OVERRIDES,
    node_parameters,
    shared_declarations,
)
from fer_ros.nodes.process.launch_signals import leave_sigint_to_launch


def nodes(context):
    return [Node(
        package='fer_ros',
        executable='emotion_node',
        name='emotion_node',
        namespace=LaunchConfiguration('namespace'),
        output='screen',
        parameters=node_parameters(context, 'emotion_params', EMOTION_OVERRIDES),
        remappings=[('image_raw', LaunchConfiguration('image_topic'))],
    )]


def generate_launch_description():
    # A second SIGINT (`timeout -s INT`, a supervisor) must not hang launch: see the module.
    leave_sigint_to_launch()
    share = get_package_share_directory('fer_ros')
    return LaunchDescription([
        *shared_declarations(share, image_topic='/camera/image_raw'),
        OpaqueFunction(function=nodes),
    ])
