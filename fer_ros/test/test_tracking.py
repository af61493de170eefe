import numpy as np
import pytest

from fer_ros.perception.expressions.labels import EMOTIONS
from fer_ros.perception.tracking.tracks import FaceTracker, iou_matrix

HAPPY = EMOTIONS.index("happy")
SAD = EMOTIONS.index("sad")


def one_hot(*indices: int, p: float = 0.9) -> np.ndarray:
    """Score rows that put ``p`` on the given class and spread the rest evenly."""
    rows = np.full((len(indices), len(EMOTIONS)), (1.0 - p) / (len(EMOTIONS) - 1), np.float32)
    rows[np.arange(len(indices)), indices] = p
    return rows


def test_iou_matrix_known_values():
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]], float)
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0]])


def test_ids_stay_while_faces_move_a_few_pixels():
    tracker = FaceTracker()
    ids = None
    for t in range(30):
        boxes = [(100 + 3 * t, 80 + t, 90, 90), (400 - 2 * t, 200, 60, 60)]
        tracks = tracker.update(boxes, one_hot(HAPPY, SAD))
        assert [tr.box for tr in tracks] == boxes
        if ids is None:
            ids = [tr.face_id for tr in tracks]
        assert [tr.face_id for tr in tracks] == ids
    assert ids == [1, 2]
    assert tracks[0].hits == 30 and tracks[0].misses == 0


def test_two_faces_keep_ids_when_input_order_swaps():
    tracker = FaceTracker(smoothing="none")
    left, right = (50, 50, 80, 80), (300, 60, 80, 80)
    first = tracker.update([left, right], one_hot(HAPPY, SAD))
    swapped = tracker.update([(right[0] + 4, 62, 80, 80), (left[0] - 3, 51, 80, 80)],
                             one_hot(SAD, HAPPY))
    assert [t.face_id for t in swapped] == [first[1].face_id, first[0].face_id]
    assert [t.label for t in swapped] == ["sad", "happy"]


def test_fast_small_face_matches_by_centre_distance():
    tracker = FaceTracker()
    first = tracker.update([(100, 100, 20, 20)], one_hot(HAPPY))
    # Moved 7 px diagonally: no IoU >= 0.3 left, but the centre is within half a width.
    moved = tracker.update([(107, 107, 20, 20)], one_hot(HAPPY))
    assert iou_matrix(np.array([[100, 100, 20, 20]], float),
                      np.array([[109, 109, 20, 20]], float))[0, 0] < 0.3
    assert moved[0].face_id == first[0].face_id
    far = tracker.update([(160, 160, 20, 20)], one_hot(HAPPY))
    assert far[0].face_id != first[0].face_id


def test_crossing_faces_keep_ids_by_where_they_are_heading():
    """Two faces on one line swap sides at 30 px a frame (half their width): on the frame
    where each lands on the other's last box, the velocity tells them apart."""
    tracker = FaceTracker(smoothing="none")
    for t in range(8):
        tracks = tracker.update([(100 + 30 * t, 100, 60, 60), (310 - 30 * t, 100, 60, 60)],
                                one_hot(HAPPY, SAD))
        assert [tr.face_id for tr in tracks] == [1, 2], t


def test_a_box_of_another_size_is_another_face():
    tracker = FaceTracker()
    first = tracker.update([(100, 100, 60, 60)], one_hot(HAPPY))[0].face_id
    assert tracker.update([(100, 100, 100, 100)], one_hot(HAPPY))[0].face_id != first


def test_face_gone_longer_than_max_misses_gets_new_id():
    tracker = FaceTracker(max_misses=3)
    box = (100, 100, 80, 80)
    face_id = tracker.update([box], one_hot(HAPPY))[0].face_id
    for _ in range(3):
        assert tracker.update([], one_hot()) == []
    back = tracker.update([box], one_hot(HAPPY))[0]
    assert back.face_id == face_id and back.misses == 3
    for _ in range(4):
        tracker.update([], one_hot())
    assert tracker.update([box], one_hot(HAPPY))[0].face_id == face_id + 1


def test_ids_never_reused_until_reset():
    tracker = FaceTracker(max_misses=0)
    seen = []
    for t in range(4):
        seen.append(tracker.update([(200 * (t % 2), 0, 50, 50)], one_hot(HAPPY))[0].face_id)
    assert seen == [1, 2, 3, 4]
    tracker.reset()
    assert tracker.update([(0, 0, 50, 50)], one_hot(HAPPY))[0].face_id == 1


def test_a_rebuilt_tracker_continues_the_ids_of_the_old_one():
    old = FaceTracker(max_misses=0)
    for t in range(3):
        old.update([(200 * (t % 2), 0, 50, 50)], one_hot(HAPPY))
    rebuilt = FaceTracker(smoothing="none")
    rebuilt.continue_ids_of(old)
    assert rebuilt.update([(400, 0, 50, 50)], one_hot(HAPPY))[0].face_id == 4
    older = FaceTracker()
    rebuilt.continue_ids_of(older)
    assert rebuilt.update([(400, 300, 50, 50)], one_hot(HAPPY))[0].face_id == 5


def test_ema_flips_only_after_evidence_accumulates():
    tracker = FaceTracker(smoothing="ema", smoothing_alpha=0.3)
    box = (100, 100, 80, 80)
    for _ in range(5):
        tracker.update([box], one_hot(HAPPY))
    labels = []
    for _ in range(5):
        labels.append(tracker.update([box], one_hot(SAD))[0].label)
    assert labels[0] == "happy"
    assert labels[-1] == "sad"
    first_sad = labels.index("sad")
    assert first_sad >= 1 and all(label == "sad" for label in labels[first_sad:])


def test_ema_is_the_documented_average():
    tracker = FaceTracker(smoothing="ema", smoothing_alpha=0.25)
    box = (0, 0, 40, 40)
    a, b = one_hot(HAPPY), one_hot(SAD)
    tracker.update([box], a)
    track = tracker.update([box], b)[0]
    np.testing.assert_allclose(track.smoothed, 0.25 * b[0] + 0.75 * a[0], rtol=1e-6)
    assert track.confidence == pytest.approx(float(track.smoothed.max()))


def test_none_flips_immediately_and_raw_scores_are_untouched():
    tracker = FaceTracker(smoothing="none")
    box = (100, 100, 80, 80)
    for _ in range(5):
        tracker.update([box], one_hot(HAPPY))
    scores = one_hot(SAD, p=0.6)
    before = scores.copy()
    track = tracker.update([box], scores)[0]
    assert track.label == "sad" and track.confidence == pytest.approx(0.6)
    np.testing.assert_array_equal(scores, before)
    track.smoothed[:] = 0
    np.testing.assert_array_equal(scores, before)


def test_window_is_mean_of_last_frames():
    tracker = FaceTracker(smoothing="window", window=3)
    box = (10, 10, 50, 50)
    rows = [one_hot(HAPPY), one_hot(HAPPY), one_hot(SAD), one_hot(SAD)]
    for row in rows:
        track = tracker.update([box], row)[0]
    np.testing.assert_allclose(track.smoothed, np.mean([r[0] for r in rows[-3:]], axis=0),
                               rtol=1e-6)
    assert track.label == "sad"
    assert track.confidence == pytest.approx((0.9 + 0.9 + 0.1 / 6) / 3)


def test_smoothing_is_per_face():
    tracker = FaceTracker(smoothing="ema", smoothing_alpha=0.2)
    boxes = [(0, 0, 50, 50), (300, 0, 50, 50)]
    for _ in range(3):
        tracks = tracker.update(boxes, one_hot(HAPPY, SAD))
    assert [t.label for t in tracks] == ["happy", "sad"]


@pytest.mark.parametrize("kwargs", [
    {"iou_threshold": 0.0}, {"iou_threshold": 1.5}, {"max_misses": -1}, {"max_misses": 1.5},
    {"smoothing": "median"}, {"smoothing_alpha": 0.0}, {"smoothing_alpha": 1.2},
    {"window": 0}, {"labels": []}, {"labels": ["a", "a"]}, {"center_distance": -1.0},
])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        FaceTracker(**kwargs)


def test_bad_update_inputs_raise():
    tracker = FaceTracker()
    with pytest.raises(ValueError, match="shape"):
        tracker.update([(0, 0, 10, 10)], np.zeros((2, len(EMOTIONS)), np.float32))
    with pytest.raises(ValueError, match="shape"):
        tracker.update([(0, 0, 10, 10)], np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="positive"):
        tracker.update([(0, 0, 0, 10)], one_hot(HAPPY))
