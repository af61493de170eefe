"""Running a node as a process: signals, the spin loop, the executables' entry points, the DDS
profile chosen before ``rclpy.init``, and the process-wide checks and clean-ups around them.

Nothing here knows what a camera or an emotion is; the nodes above call into it.
"""
