"""Camera and emotion node in one namespace: `ros2 launch fer_ros fer.launch.py`.

Topics (namespace `fer` by default), for rqt_image_view and `ros2 topic echo`:
  /fer/image_raw, /fer/camera_info   camera frames (unless use_camera:=false)
  /fer/image_annotated               frames with boxes, labels and emojis
  /fer/emotions                      fer_msgs/EmotionArray, one per processed frame

Examples:
  ros2 launch fer_ros fer.launch.py                       # built-in sample, no camera needed
  ros2 launch fer_ros fer.launch.py source:=0             # first webcam
  ros2 launch fer_ros fer.launch.py use_camera:=false image_topic:=/camera/image_raw
  ros2 launch fer_ros fer.launch.py autostart:=false      # emotion_node waits, unconfigured,
                                                          # for a lifecycle manager
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.parameter_descriptions import ParameterValue

from fer_ros.nodes.launch_signals import leave_sigint_to_launch


def generate_launch_description():
    # A second SIGINT (`timeout -s INT`, a supervisor) must not hang launch: see the module.
    leave_sigint_to_launch()
    config = os.path.join(get_package_share_directory('fer_ros'), 'config')
    arguments = [
        DeclareLaunchArgument(
            'source', default_value='sample',
            description='camera source: device index (0), /dev/videoN, video file, image '
                        'folder, rtsp:// or http:// URL, or sample (built-in moving faces)'),
        DeclareLaunchArgument(
            'image_topic', default_value='image_raw',
            description='image topic the emotion node reads (relative names are inside the '
                        'namespace); with use_camera the camera publishes there'),
        DeclareLaunchArgument(
            'model', default_value='',
            description='expression model file or export folder; empty = bundled model'),
        DeclareLaunchArgument(
            'detector', default_value='retinaface',
            description='face detector: retinaface, blazeface, blazeface_full, '
                        'blazeface_short or haar'),
        DeclareLaunchArgument(
            'namespace', default_value='fer', description='namespace of both nodes'),
        DeclareLaunchArgument(
            'use_camera', default_value='true', choices=['true', 'false'],
            description='start camera_node; false attaches the emotion node to an existing '
                        'camera topic given by image_topic'),
        DeclareLaunchArgument(
            'camera_params', default_value=os.path.join(config, 'camera.yaml'),
            description='camera_node parameter file'),
        DeclareLaunchArgument(
            'autostart', default_value='true', choices=['true', 'false'],
            description='emotion_node configures and activates itself at start; false '
                        'leaves it unconfigured for a lifecycle manager (ros2 lifecycle set)'),
        DeclareLaunchArgument(
            'emotion_params', default_value=os.path.join(config, 'emotion.yaml'),
            description='emotion_node parameter file'),
    ]
    image_topic = LaunchConfiguration('image_topic')
    camera = Node(
        package='fer_ros',
        executable='camera_node',
        name='camera_node',
        output='screen',
        condition=IfCondition(LaunchConfiguration('use_camera')),
        # As a string: a path or URL must never be re-typed by YAML; camera_node reads a
        # string of digits as a device index.
        parameters=[LaunchConfiguration('camera_params'),
                    {'source': ParameterValue(LaunchConfiguration('source'), value_type=str)}],
        remappings=[('image_raw', image_topic)],
    )
    emotion = Node(
        package='fer_ros',
        executable='emotion_node',
        name='emotion_node',
        output='screen',
        # As strings: an empty model would otherwise become a YAML null.
        parameters=[LaunchConfiguration('emotion_params'),
                    {'model': ParameterValue(LaunchConfiguration('model'), value_type=str),
                     'detector': ParameterValue(LaunchConfiguration('detector'),
                                                value_type=str),
                     'autostart': ParameterValue(LaunchConfiguration('autostart'),
                                                 value_type=bool)}],
        remappings=[('image_raw', image_topic)],
    )
    group = GroupAction([PushRosNamespace(LaunchConfiguration('namespace')), camera, emotion])
    return LaunchDescription([*arguments, group])
