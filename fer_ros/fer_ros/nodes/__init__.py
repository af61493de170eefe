"""The ROS layer: the camera and emotion nodes, ``fer bringup``, and what they share.

Thin on purpose: parameters, topics, QoS, message conversion and shutdown live here; everything
that decides what a face is and what it shows lives in ``perception``. At the top are the nodes
and the commands that compose them (camera_node, emotion_node, viewer_node, bringup) with the
emotion node's worker parts; below them, by concern: ``process`` (signals, spinning, entry
points, DDS profile), ``diagnostics``, ``messages``, ``parameters`` and ``recording``. Those
never import the nodes (test_architecture).
"""
