"""Face ids through the real detector and pipeline: fast motion, two faces crossing, and a
crowd that blinks on and off. Real photos (``make photos``) moved over a 640x480 frame, so the
boxes jitter and shrink as RetinaFace's do, not as a synthetic track would."""

import numpy as np
import pytest

from face_photos import crowd_frame, head_patch, needs_photos
from fer_ros.perception.pipeline import EmotionPipeline, PipelineConfig

pytestmark = needs_photos

WIDTH, HEIGHT = 640, 480
BACKGROUND = 70


def paste(frame: np.ndarray, patch: np.ndarray, face: tuple, x: int, y: int) -> None:
    """Put ``patch`` so its face box's top-left lands on (x, y); cut at the frame's edges."""
    px, py = x - face[0], y - face[1]
    h, w = patch.shape[:2]
    x0, y0, x1, y1 = max(px, 0), max(py, 0), min(px + w, WIDTH), min(py + h, HEIGHT)
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = patch[y0 - py:y1 - py, x0 - px:x1 - px]


def blank() -> np.ndarray:
    return np.full((HEIGHT, WIDTH, 3), BACKGROUND, np.uint8)


@pytest.fixture(scope="module")
def pipeline_factory():
    return lambda: EmotionPipeline.from_config(PipelineConfig())


def test_one_id_for_a_face_moving_40_px_a_frame(pipeline_factory):
    """A 70 px face moving 40 px a frame (0.6 of its width: no overlap left with the last box
    once the box jitters), back and forth across the frame: one id for all 40 frames."""
    patch, face = head_patch("sample2.jpg", (895, 249, 182, 182), 70)
    pipeline = pipeline_factory()
    x, step, ids = 10, 40, []
    for _ in range(40):
        frame = blank()
        paste(frame, patch, face, x, 180)
        faces = pipeline.process(frame)
        assert len(faces) == 1, f"face at x={x}: {faces}"
        ids.append(faces[0].face_id)
        if not 0 <= x + step <= WIDTH - 70:
            step = -step
        x += step
    assert set(ids) == {1}


def test_two_crossing_faces_keep_their_own_ids(pipeline_factory):
    """Two people walk past each other, 40 px a frame each, the one 40 px higher than the
    other and in front: halfway, each face is nearer the other's last box than its own, and
    the lower one is hidden for a frame or two. Ids stay with the faces (told apart by
    height), and never merge."""
    upper, upper_face = head_patch("sample1.jpg", (828, 443, 204, 204), 80)
    lower, lower_face = head_patch("sample3.jpg", (585, 352, 214, 214), 80)
    pipeline = pipeline_factory()
    ids: dict[str, list[int]] = {"upper": [], "lower": []}
    for t in range(12):
        frame = blank()
        paste(frame, lower, lower_face, 520 - 40 * t, 220)
        paste(frame, upper, upper_face, 40 + 40 * t, 180)
        for f in pipeline.process(frame):
            ids["upper" if f.box[1] + f.box[3] / 2 < 240 else "lower"].append(f.face_id)
    assert len(ids["upper"]) == 12 and len(ids["lower"]) >= 8, (
        f"the detector lost the faces, the test shows nothing about tracking: {ids}")
    assert set(ids["upper"]) == {1} and set(ids["lower"]) == {2}, ids


def test_a_crowd_blinking_on_and_off_is_four_faces_with_four_ids(pipeline_factory):
    """Four faces, then an empty frame, over and over (a flickering feed, a cut): every crowd
    frame shows exactly the four faces, with the same four ids, and empty frames none."""
    crowd, boxes = crowd_frame(WIDTH, HEIGHT, [60, 90, 120, 70])
    assert len(boxes) == 4
    pipeline = pipeline_factory()
    ids = set()
    for t in range(24):
        on = t % 2 == 0 or t % 5 == 1
        faces = pipeline.process(crowd if on else blank())
        assert len(faces) == (4 if on else 0), (t, [(f.face_id, f.box) for f in faces])
        ids |= {f.face_id for f in faces}
    assert ids == {1, 2, 3, 4}
