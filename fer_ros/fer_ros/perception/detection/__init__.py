"""Detection: where the faces are in one frame.

Three detector families (Haar, BlazeFace, RetinaFace), each in its module, all returning the
same ``Detection`` (detections.py: a box, a score, landmarks where the family gives them), and
the registry that makes one by name (detectors.py). A detector sees one frame and nothing
before it: what the last frames found, and where a search is still needed, is tracking/'s job.
"""
