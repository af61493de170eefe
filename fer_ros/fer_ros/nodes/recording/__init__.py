"""What `fer bringup` keeps of a run: the MCAP recording, the ``--output`` folder, the per-face
summary, and the node that subscribes to the results for them.

``mcap_recording`` needs the ``mcap`` package, which a ROS install may lack: import it only
where a recording is asked for.
"""
