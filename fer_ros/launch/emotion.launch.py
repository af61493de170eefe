"""The emotion node alone, on a camera that is already running.

  ros2 launch fer_ros emotion.launch.py image_topic:=/camera/image_raw

Publishes /fer/emotions and /fer/image_annotated (namespace `fer` by default). The parameters
come from config/emotion.yaml; `model` and `detector` override it. With `autostart:=false` the
node starts unconfigured and a lifecycle manager (or `ros2 lifecycle set`) drives it.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from fer_ros.nodes.launch_signals import leave_sigint_to_launch


def generate_launch_description():
    # A second SIGINT (`timeout -s INT`, a supervisor) must not hang launch: see the module.
    leave_sigint_to_launch()
    config = os.path.join(get_package_share_directory('fer_ros'), 'config')
    arguments = [
        DeclareLaunchArgument(
            'image_topic', default_value='/camera/image_raw',
            description='camera image topic to read (sensor_msgs/Image; with '
                        'image_transport:=compressed in the parameter file, its /compressed)'),
        DeclareLaunchArgument(
            'namespace', default_value='fer',
            description='namespace of the node and of its emotions and image_annotated topics'),
        DeclareLaunchArgument(
            'model', default_value='',
            description='expression model file or export folder; empty = bundled model'),
        DeclareLaunchArgument(
            'detector', default_value='retinaface',
            description='face detector: retinaface, blazeface, blazeface_full, '
                        'blazeface_short or haar'),
        DeclareLaunchArgument(
            'autostart', default_value='true', choices=['true', 'false'],
            description='emotion_node configures and activates itself at start; false '
                        'leaves it unconfigured for a lifecycle manager (ros2 lifecycle set)'),
        DeclareLaunchArgument(
            'emotion_params', default_value=os.path.join(config, 'emotion.yaml'),
            description='emotion_node parameter file'),
    ]
    emotion = Node(
        package='fer_ros',
        executable='emotion_node',
        name='emotion_node',
        namespace=LaunchConfiguration('namespace'),
        output='screen',
        # As strings: an empty model would otherwise become a YAML null.
        parameters=[LaunchConfiguration('emotion_params'),
                    {'model': ParameterValue(LaunchConfiguration('model'), value_type=str),
                     'detector': ParameterValue(LaunchConfiguration('detector'),
                                                value_type=str),
                     'autostart': ParameterValue(LaunchConfiguration('autostart'),
                                                 value_type=bool)}],
        remappings=[('image_raw', LaunchConfiguration('image_topic'))],
    )
    return LaunchDescription([*arguments, emotion])
