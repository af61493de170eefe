"""Frame in, faces with ids and expressions out: detection, crops, classifiers, tracking, drawing.

Imports neither rclpy nor any message package, and TensorFlow only inside the function that
loads a Keras model, so the node, ``fer predict``, training and the benchmarks all run exactly
this code, and a robot that runs only LiteRT models never loads TensorFlow.
"""
