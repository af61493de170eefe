"""Camera and emotion node in one namespace: `ros2 launch fer_ros fer.launch.py`.

Topics (namespace `fer` by default), for rqt_image_view and `ros2 topic echo`:
  /fer/image_raw, /fer/camera_info   camera frames (unless use_camera:=false)
  /fer/image_annotated               frames with boxes, labels and emojis
  /fer/emotions                      fer_msgs/EmotionArray, one per processed frame

Parameters come from config/camera.yaml and config/emotion.yaml, or from the files given as
camera_params:= and emotion_params:=; source, model, detector, autostart and hri, when given,
override the file (fer_ros/nodes/parameters/launch_arguments.py).

Examples:
  ros2 launch fer_ros fer.launch.py                       # built-in sample, no camera needed
  ros2 launch fer_ros fer.launch.py source:=0             # first webcam
  ros2 launch fer_ros fer.launch.py emotion_params:=my.yaml detector:=haar
  ros2 launch fer_ros fer.launch.py use_camera:=false image_topic:=/camera/image_raw
  ros2 launch fer_ros fer.launch.py hri:=true             # also ROS4HRI's /humans/faces topics
  ros2 launch fer_ros fer.launch.py autostart:=false      # emotion_node waits, unconfigured,
                                                          # for a lifecycle manager
"""

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace

from fer_ros.nodes.parameters.launch_arguments import (
    CAMERA_OVERRIDES,
    EMOTION_OVERRIDES,
    config_file,
    node_parameters,
    shared_declarations,
)
from fer_ros.nodes.process.launch_signals import leave_sigint_to_launch


def nodes(context):
    image_topic = LaunchConfiguration('image_topic')
    camera = Node(
        package='fer_ros',
        executable='camera_node',
        name='camera_node',
        output='screen',
        condition=IfCondition(LaunchConfiguration('use_camera')),
        parameters=node_parameters(context, 'camera_params', CAMERA_OVERRIDES),
        remappings=[('image_raw', image_topic)],
    )
    emotion = Node(
        package='fer_ros',
        executable='emotion_node',
        name='emotion_node',
        output='screen',
        parameters=node_parameters(context, 'emotion_params', EMOTION_OVERRIDES),
        remappings=[('image_raw', image_topic)],
    )
    return [GroupAction([PushRosNamespace(LaunchConfiguration('namespace')), camera, emotion])]


def generate_launch_description():
    # A second SIGINT (`timeout -s INT`, a supervisor) must not hang launch: see the module.
    leave_sigint_to_launch()
    share = get_package_share_directory('fer_ros')
    return LaunchDescription([
        *shared_declarations(share, image_topic='image_raw'),
        *(argument.declaration() for argument in CAMERA_OVERRIDES),
        DeclareLaunchArgument(
            'use_camera', default_value='true', choices=['true', 'false'],
            description='start camera_node; false attaches the emotion node to an existing '
                        'camera topic given by image_topic'),
        DeclareLaunchArgument(
            'camera_params', default_value=config_file(share, 'camera.yaml'),
            description='camera_node parameter file'),
        OpaqueFunction(function=nodes),
    ])
