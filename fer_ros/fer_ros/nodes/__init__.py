"""The ROS layer: the camera and emotion nodes, ``fer bringup``, and what they share.

Thin on purpose: parameters, topics, QoS, message conversion and shutdown live here; everything
that decides what a face is and what it shows lives in ``perception``.
"""
