"""How far a face is rolled: the slope of its eye line, from the detector's landmarks.

The expression models were trained on roughly upright faces. With ``level_tilted_faces`` (the
pipeline's and the node's option, off by default) a face rolled by more than
``LEVEL_ABOVE_DEGREES`` is classified from a level crop (preprocessing.py's
``crop_face``). It pays where the camera itself is rolled, a robot's head tilting: on
bench/accuracy.py's real photos turned on purpose, the ensemble read more faces right from level
crops. It costs where the tilt is the person's own and part of the expression (a head tilted in
dismay): on the upright photos it read fewer right, and fewer over all, hence off by default.
Levelling every face, however slightly rolled, did worse still: small rolls are part of what
the models were trained on. The figures are in docs/accuracy.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from fer_ros.perception.detection.detections import Landmarks

LEVEL_ABOVE_DEGREES = 15.0


def eye_line_roll(landmarks: Landmarks) -> float:
    """Degrees from the eye on the image's left to the one on its right, clockwise on screen
    (image rows grow downwards); 0 for a detector without landmarks. RetinaFace lists those two
    eyes first (perception/detection/retinaface.py)."""
    if len(landmarks) < 2:
        return 0.0
    (left_x, left_y), (right_x, right_y) = landmarks[0], landmarks[1]
    return math.degrees(math.atan2(right_y - left_y, right_x - left_x))


def level_rolls(landmarks: Sequence[Landmarks],
                above: float = LEVEL_ABOVE_DEGREES) -> list[float]:
    """For each face, the roll its crop is turned by before classification: its eye line's,
    where that exceeds ``above`` degrees either way, else 0."""
    rolls = [eye_line_roll(points) for points in landmarks]
    return [roll if abs(roll) > above else 0.0 for roll in rolls]
