"""The ROS-free core on its own: conversions, metadata, preprocessing, model loading."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fer_ros.nodes.latest_frame import LatestFrame
from fer_ros.nodes.messages.image_conversion import (
    ImageConversionError,
    bgr_to_raw,
    compressed_to_bgr,
    raw_to_bgr,
)
from fer_ros.perception.expressions.classification import load_classifier
from fer_ros.perception.expressions.labels import EMOTIONS, canonical_label
from fer_ros.perception.expressions.model_metadata import (
    CropSpec,
    ModelMetadata,
    ModelMetadataError,
)
from fer_ros.perception.expressions.preprocessing import crop_box, crop_face, prepare_faces
from fer_ros.perception.model_files import ModelLoadError, bundled_model, resolve_model
from fer_ros.perception.pipeline import EmotionPipeline, PipelineConfig
from frames import astronaut_frame
from optional_dependencies import needs_tensorflow


@pytest.mark.parametrize("encoding, code", [
    ("bgr8", None), ("rgb8", cv2.COLOR_BGR2RGB), ("bgra8", cv2.COLOR_BGR2BGRA),
    ("rgba8", cv2.COLOR_BGR2RGBA),
])
@pytest.mark.parametrize("pad", [0, 5])
def test_raw_conversion_is_exact_with_row_padding(encoding, code, pad):
    rng = np.random.default_rng(1)
    bgr = rng.integers(0, 256, (7, 11, 3), dtype=np.uint8)
    pixels = bgr if code is None else cv2.cvtColor(bgr, code)
    rows = np.hstack([pixels.reshape(7, -1), np.full((7, pad), 99, np.uint8)])
    out = raw_to_bgr(encoding, 7, 11, rows.shape[1], rows.tobytes())
    np.testing.assert_array_equal(out, bgr)


def test_mono8_becomes_three_equal_channels():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = raw_to_bgr("mono8", 3, 4, 4, gray.tobytes())
    assert out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out[:, :, 0], gray)
    np.testing.assert_array_equal(out[:, :, 2], gray)


@pytest.mark.parametrize("fields, message", [
    (("16UC1", 2, 2, 4, 8), "unsupported encoding '16UC1'"),
    (("bgr8", 0, 0, 0, 0), "empty image (0x0)"),
    (("bgr8", 2, 2, 5, 10), "step 5 is smaller than width*channels = 6"),
    (("bgr8", 2, 2, 6, 11), "data holds 11 bytes, fewer than step*height = 12"),
])
def test_malformed_raw_images_are_refused_with_the_reason(fields, message):
    encoding, height, width, step, size = fields
    with pytest.raises(ImageConversionError) as error:
        raw_to_bgr(encoding, height, width, step, bytes(size))
    assert message in str(error.value)


def test_compressed_roundtrip_and_corrupt_data():
    frame, _ = astronaut_frame()
    ok, png = cv2.imencode(".png", frame)
    np.testing.assert_array_equal(compressed_to_bgr("png", png.tobytes()), frame)
    with pytest.raises(ImageConversionError, match="corrupt or undecodable"):
        compressed_to_bgr("jpeg", b"\xff\xd8\xff" + bytes(500))
    with pytest.raises(ImageConversionError, match="has no data"):
        compressed_to_bgr("jpeg", b"")


def test_bgr_to_raw_roundtrip():
    frame = np.random.default_rng(2).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    height, width, step, data = bgr_to_raw(frame)
    np.testing.assert_array_equal(raw_to_bgr("bgr8", height, width, step, data), frame)


def test_label_synonyms_and_unknown_names():
    assert [canonical_label(n) for n in ("Angry", "anger", "HAPPINESS", "Surprised")] == [
        "angry", "angry", "happy", "surprise"]
    with pytest.raises(ValueError, match="unknown expression class 'contempt'"):
        canonical_label("contempt")


def test_metadata_roundtrip_and_errors(tmp_path):
    meta = ModelMetadata(input_size=(64, 64), crop=CropSpec(margin_px=10),
                         files={"tflite": "m.tflite"})
    path = tmp_path / "metadata.json"
    meta.save(path)
    assert ModelMetadata.load(path) == meta
    path.write_text(json.dumps({"labels": ["a", "a"], "input_size": [48, 48]}))
    with pytest.raises(ModelMetadataError, match="distinct"):
        ModelMetadata.load(path)
    path.write_text("{not json")
    with pytest.raises(ModelMetadataError, match=str(path)):
        ModelMetadata.load(path)


def test_crop_is_square_with_margin_and_replicates_outside_the_image():
    assert crop_box((10, 20, 40, 60), CropSpec(square=True, margin_px=10)) == (-10, 10, 80, 80)
    assert crop_box((0, 0, 100, 100), CropSpec(square=True, margin_frac=0.1)) == (
        -10, -10, 120, 120)
    gray = np.arange(100, dtype=np.uint8).reshape(10, 10)
    crop = crop_face(gray, (-2, -2, 4, 4), CropSpec(square=True))
    assert crop.shape == (4, 4)
    assert crop[0, 0] == gray[0, 0] and crop[3, 3] == gray[1, 1]


def test_prepare_faces_normalises_like_the_metadata_says():
    meta = ModelMetadata(input_size=(48, 48), normalization="symmetric")
    gray = np.full((100, 100), 255, np.uint8)
    batch = prepare_faces(gray, [(10, 10, 50, 50), (0, 0, 20, 30)], meta)
    assert batch.shape == (2, 48, 48, 1) and batch.dtype == np.float32
    assert np.allclose(batch, 1.0)


def test_mini_xception_batches_match_single_faces():
    classifier = load_classifier("mini_xception")
    frame, face = astronaut_frame()
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    boxes = [face, (face[0] + 3, face[1] - 2, face[2], face[3]), (300, 300, 80, 80)]
    batch = prepare_faces(gray, boxes, classifier.metadata)
    together = classifier.predict(batch)
    alone = np.vstack([classifier.predict(batch[i:i + 1]) for i in range(3)])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(together.sum(axis=1), 1.0, atol=1e-4)
    assert classifier.metadata.labels[int(np.argmax(together[0]))] == "happy"
    assert classifier.predict(batch[:0]).shape == (0, len(EMOTIONS))


def test_model_errors_name_the_file(tmp_path):
    with pytest.raises(ModelLoadError, match="model file not found"):
        load_classifier(tmp_path / "none.tflite")
    lonely = tmp_path / "lonely.tflite"
    lonely.write_bytes(bundled_model("fer_mini_xception.tflite").read_bytes())
    with pytest.raises(ModelLoadError, match="no model metadata found"):
        load_classifier(lonely)
    wrong = tmp_path / "wrong.tflite"
    wrong.write_bytes(lonely.read_bytes())
    ModelMetadata(labels=("a", "b", "c"), input_size=(64, 64)).save(tmp_path / "wrong.json")
    with pytest.raises(ModelLoadError, match=r"7 outputs but its metadata lists 3 labels"):
        load_classifier(wrong)
    (tmp_path / "export").mkdir()
    with pytest.raises(ModelLoadError, match="metadata file not found"):
        resolve_model(tmp_path / "export")


@needs_tensorflow
def test_keras_and_litert_defaults_agree_on_a_real_face():
    """The bundled .h5 and .tflite are the same network; TensorFlow loads only for the .h5."""
    frame, face = astronaut_frame()
    keras_classifier = load_classifier(bundled_model("fer_mini_xception.h5"))
    lite = load_classifier("mini_xception")
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    batch = prepare_faces(gray, [face], lite.metadata)
    assert np.argmax(keras_classifier.predict(batch)) == np.argmax(lite.predict(batch))


def test_pipeline_finds_and_tracks_the_astronaut():
    pipeline = EmotionPipeline.from_config(PipelineConfig())
    frame, face = astronaut_frame()
    first = pipeline.process(frame)
    moved, _ = astronaut_frame(offset_x=84, offset_y=2)
    second = pipeline.process(moved)
    assert len(first) == len(second) == 1
    assert first[0].face_id == second[0].face_id
    assert first[0].label == "happy"


def test_latest_frame_keeps_only_the_newest():
    slot: LatestFrame[int] = LatestFrame()
    for i in range(5):
        slot.put(i)
    delivery = slot.take(timeout=0.1)
    assert delivery is not None and delivery.item == 4
    assert slot.dropped == 4
    assert slot.take(timeout=0.01) is None
    slot.close()
    assert slot.take(timeout=0.01) is None
