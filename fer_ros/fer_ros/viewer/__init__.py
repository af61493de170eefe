"""The browser viewer: an HTTP server for the annotated image (MJPEG) and the results
(Server-Sent Events), and the page that shows them. No ROS here: nodes/viewer_node.py feeds it
from topics, and anything else that has JPEG frames and result dicts could.
"""
