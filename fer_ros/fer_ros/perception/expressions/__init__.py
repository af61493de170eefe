"""Expressions: what each found face shows, as seven probabilities.

The labels and their spellings (labels.py); a model's description (model_metadata.py: input
size, crop, scaling, classes); a face box to a model's input (preprocessing.py, levelled by
alignment.py where asked); the runtimes that run one model on a frame's faces in one batch and
load what perception/model_files.py resolved (classification.py); several models averaged
(ensemble.py); faces that arrive already cut out, as ROS4HRI detectors send them
(crop_classification.py).
"""
