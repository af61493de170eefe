import itertools

import numpy as np
import pytest

from fer_ros.perception.annotation import (
    COLORS,
    EMOJI_MAX,
    EMOJI_MIN,
    FaceAnnotation,
    draw_annotations,
    emoji_size,
    render_emoji,
)
from fer_ros.perception.expressions.labels import EMOTIONS


@pytest.mark.parametrize("label", EMOTIONS)
@pytest.mark.parametrize("size", [24, 61, 128])
def test_every_label_renders_a_round_emoji_of_the_asked_size(label, size):
    bgr, alpha = render_emoji(label, size)
    assert bgr.shape == (size, size, 3) and bgr.dtype == np.uint8
    assert alpha.shape == (size, size) and 0.0 <= alpha.min() and alpha.max() <= 1.0
    assert alpha[size // 2, size // 2] == pytest.approx(1.0)
    assert alpha[0, 0] == 0.0 and alpha[-1, -1] == 0.0
    assert 0.6 < alpha.mean() < 0.75  # a disc covers pi/4 of its square
    opaque = bgr[alpha > 0.99]
    assert opaque.std(axis=0).max() > 20  # features drawn, not a plain disc


def test_emoji_differ_between_labels():
    emoji = {label: render_emoji(label, 64)[0].astype(int) for label in EMOTIONS}
    for a, b in itertools.combinations(EMOTIONS, 2):
        assert np.abs(emoji[a] - emoji[b]).mean() > 3, (a, b)


def test_emoji_are_cached_and_read_only():
    first, alpha = render_emoji("happy", 50)
    assert render_emoji("happy", 50)[0] is first
    with pytest.raises(ValueError):
        first[0, 0] = 0
    with pytest.raises(ValueError):
        alpha[0, 0] = 0


def test_unknown_label_raises_naming_the_known_ones():
    with pytest.raises(ValueError, match="happy"):
        render_emoji("smug", 32)
    image = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(ValueError, match="neutral"):
        draw_annotations(image, [FaceAnnotation((10, 10, 30, 30), 1, "smug", 0.5)])
    assert not image.any()


def test_emoji_size_scales_with_face_and_is_clamped():
    assert emoji_size((0, 0, 10, 10)) == EMOJI_MIN
    assert emoji_size((0, 0, 1000, 1000)) == EMOJI_MAX
    assert EMOJI_MIN < emoji_size((0, 0, 100, 100)) < EMOJI_MAX


def test_draws_in_place_box_label_and_emoji():
    image = np.zeros((240, 320, 3), np.uint8)
    face = FaceAnnotation((60, 80, 100, 100), 3, "happy", 0.87)
    out = draw_annotations(image, [face])
    assert out is image and out.shape == (240, 320, 3) and out.dtype == np.uint8
    assert tuple(image[130, 60]) == COLORS["happy"]  # left edge of the box
    assert image[60:80, 60:160].any()  # label line above the box
    size = emoji_size(face.box)
    emoji_area = image[80:80 + size, 160:160 + size + 20]
    assert (emoji_area.sum(axis=2) > 300).mean() > 0.3  # yellow disc right of the face
    assert not image[100:170, 70:150].any()  # the face itself is not painted over


def test_without_emoji_only_box_and_label():
    with_emoji = np.zeros((240, 320, 3), np.uint8)
    without = with_emoji.copy()
    face = FaceAnnotation((60, 80, 100, 100), 1, "sad", 0.5)
    draw_annotations(with_emoji, [face])
    draw_annotations(without, [face], draw_emoji=False)
    assert not without[100:170, 175:240].any()
    assert with_emoji[100:170, 175:240].any()


@pytest.mark.parametrize("box", [
    (0, 0, 80, 80), (260, 180, 60, 60), (-30, -20, 90, 90), (280, 200, 100, 100),
    (-200, 50, 150, 150), (0, 0, 320, 240), (319, 239, 5, 5), (500, 500, 50, 50),
])
def test_faces_at_or_past_the_border_are_safe(box):
    image = np.full((240, 320, 3), 40, np.uint8)
    out = draw_annotations(image, [FaceAnnotation(box, 12, label, 1.0) for label in EMOTIONS])
    assert out.shape == (240, 320, 3) and out.dtype == np.uint8


def test_emoji_moves_left_when_no_room_on_the_right():
    image = np.zeros((200, 300, 3), np.uint8)
    draw_annotations(image, [FaceAnnotation((200, 60, 90, 90), 1, "neutral", 0.9)])
    assert (image[70:110, 130:195].sum(axis=2) > 300).mean() > 0.3


def test_rejects_non_bgr_images():
    with pytest.raises(ValueError):
        draw_annotations(np.zeros((10, 10), np.uint8), [])
    with pytest.raises(ValueError):
        draw_annotations(np.zeros((10, 10, 3), np.float32), [])
