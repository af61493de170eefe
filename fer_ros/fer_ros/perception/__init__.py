"""Frame in, faces with ids and expressions out; no ROS.

A frame goes through three stages, each a subpackage: detection/ (where the faces are),
tracking/ (which face is which over time, what needs searching again) and expressions/ (what
each face shows). pipeline.py runs them in that order for a stream and stills.py for single
images; annotation.py draws the results. What a ``model`` value means is resolved in
model_files.py, and the limits every file and image read must respect are in limits/. The one
table of the pipeline's parameters is pipeline_parameters.py (with parameter_spec.py, the shape
of one entry).

Imports neither rclpy nor any message package, and TensorFlow only inside the function that
loads a Keras model, so the node, ``fer predict``, training and the benchmarks all run exactly
this code, and a robot that runs only LiteRT models never loads TensorFlow.
"""
