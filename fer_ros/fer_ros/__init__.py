"""Facial expression recognition for ROS 2.

The modules at this level hold a core that imports neither rclpy nor any message package, so
training, the command line and the tests share exactly the code the nodes run.
"""

__version__ = "0.1.0"
