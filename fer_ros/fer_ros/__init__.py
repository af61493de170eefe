"""Facial expression recognition for ROS 2.

One subpackage per part, each with one job; ``test/test_architecture.py`` keeps the rules:

- ``perception``: frame in, faces with ids and expressions out. No ROS, no TensorFlow at import.
- ``sources``: where frames come from (devices, files, folders, streams, the sample). No ROS.
- ``learning``: the TensorFlow side (datasets, architectures, training, export, evaluation).
- ``nodes``: the thin ROS layer on top of perception and sources.

``cli`` (the ``fer`` command) and ``prediction`` (``fer predict``) sit on top of them all.
"""

__version__ = "0.1.0"
