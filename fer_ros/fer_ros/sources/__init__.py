"""Where frames come from: devices, video files, image folders, streams and the built-in sample.

No ROS here: the camera node only decides what to do with a frame, the end of a finite source,
or a source that is gone for now, and other tools can read the same sources.
"""
