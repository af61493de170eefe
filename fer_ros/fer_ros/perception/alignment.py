"""How far a face is rolled: the slope of its eye line, from the detector's landmarks.

A head tilted towards a shoulder is common in front of a robot, and the expression models were
trained on roughly upright faces. On bench/accuracy.py's real photos with RetinaFace, the
ensemble read 15 of the 22 faces tilted by 20 degrees, and 19 of 22 with every crop turned
level first (perception/preprocessing.py's ``crop_face``); but on the 198 upright faces
levelling took it from 170 to 163 correct: their small rolls are part of what the models were
trained on, and turning them changes what the models see. So only a face rolled by more than
``LEVEL_ABOVE_DEGREES`` is levelled: 18 of 22 tilted, the upright ones unchanged at 170, 188
of 220 in all against 185 unlevelled. Above 8 degrees the ensemble also gave 188, but
FaceExpressionNet alone lost 4 faces, which it does not at 15 (README, "Expression classifier").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from fer_ros.perception.detection_types import Landmarks

LEVEL_ABOVE_DEGREES = 15.0


def eye_line_roll(landmarks: Landmarks) -> float:
    """Degrees from the eye on the image's left to the one on its right, clockwise on screen
    (image rows grow downwards); 0 for a detector without landmarks. RetinaFace lists those two
    eyes first (perception/retinaface.py)."""
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
