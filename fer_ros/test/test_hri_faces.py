"""The REP-155 pieces without ROS traffic: ids, face images, the label mapping, and crops
classified in one batch exactly as each alone."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_ros.nodes.hri.expressions import TO_EXPRESSION, expression_name
from fer_ros.nodes.hri.face_images import aligned_face, cropped_face, fit, normalized_box
from fer_ros.nodes.hri.ids import FaceIds, base36, is_valid_id
from fer_ros.perception.expressions.classification import load_classifier
from fer_ros.perception.expressions.crop_classification import classify_crops
from fer_ros.perception.expressions.labels import EMOTIONS
from frames import astronaut_frame


def test_ids_name_topics_and_sessions_never_share_them():
    first, later = FaceIds(1_796_000_000_000), FaceIds(1_796_000_000_001)
    ids = {first.of(n) for n in range(1, 500)} | {later.of(n) for n in range(1, 500)}
    assert len(ids) == 998
    assert all(is_valid_id(i) for i in ids)
    assert base36(35) == "z" and base36(36) == "10" and base36(0) == "0"
    for bad in ("", "1abc", "a b", "a/b", "a__b", "é", "a-b"):
        assert not is_valid_id(bad), bad


def test_every_class_maps_to_an_expression_constant():
    from hri_msgs.msg import Expression

    assert set(TO_EXPRESSION) == set(EMOTIONS)
    constants = {getattr(Expression, n) for n in dir(Expression) if n.isupper()
                 and isinstance(getattr(Expression, n), str)}
    assert set(TO_EXPRESSION.values()) <= constants
    assert expression_name("Surprised") == Expression.SURPRISED
    with pytest.raises(ValueError):
        expression_name("bored")


def test_face_images_keep_the_face_and_its_aspect():
    frame, box = astronaut_frame()
    crop = cropped_face(frame, box, 128, 128)
    assert crop.shape == (128, 128, 3)
    x, y, w, h = box
    face = cv2.resize(frame[y:y + h, x:x + w], (128, 128), interpolation=cv2.INTER_AREA)
    if w == h:
        assert np.abs(crop.astype(int) - face).mean() < 2
    wide = fit(np.full((10, 40, 3), 200, np.uint8), 128, 128)
    assert wide[64, 64].tolist() == [200, 200, 200] and wide[5, 64].tolist() == [0, 0, 0]
    assert aligned_face(frame, box, (), 160, 96).shape == (96, 160, 3)
    level = aligned_face(frame, box, ((x + w * 0.3, y + h * 0.35), (x + w * 0.7, y + h * 0.5)),
                         128, 128)
    assert level.shape == (128, 128, 3) and not np.array_equal(level, crop)
    xmin, ymin, xmax, ymax = normalized_box((-10, 470, 50, 50), 640, 480)
    assert (xmin, xmax) == (0.0, 40 / 640) and ymax == 1.0 and 0 <= ymin < ymax


def test_crops_classified_together_read_as_each_alone():
    """The batch (perception/expressions/crop_classification.py) gives each crop what the models
    give it on its own, with its edge replicated into the margin as crop_face does at an image
    edge."""
    classifier = load_classifier(None)
    rng = np.random.default_rng(3)
    frame, box = astronaut_frame()
    crops = [cropped_face(frame, box, 128, 128),
             *(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8) for _ in range(3))]
    together = classify_crops(classifier, crops)
    for crop, row in zip(crops, together):
        alone = classifier.classify(crop, cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY),
                                    [(0, 0, 128, 128)])[0]
        np.testing.assert_allclose(row, alone, atol=1e-5)
    assert classify_crops(classifier, []).shape == (0, len(EMOTIONS))
