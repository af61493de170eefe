"""The TensorFlow side: datasets, architectures, training, export and evaluation.

Only ``fer train`` and ``fer evaluate`` import it, so the nodes never pay for TensorFlow. It uses
``perception`` for crops and metadata, so a trained model sees faces exactly as the node will.
"""
