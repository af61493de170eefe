"""The pipeline's parameters: the one table that `PipelineConfig`, `EmotionPipeline`, the
emotion node's declarations, `fer predict`, config/emotion.yaml and docs/parameters.md take
their names, types, defaults, ranges and descriptions from.

The emotion node declares these and adds its own (topics, annotation, lifecycle:
nodes/parameters/emotion.py). Defaults that belong to one component (the detector, the model) are
that component's constants, named here once.
"""

from __future__ import annotations

from fer_ros.perception.detection.detections import MIN_FACE_SIZE
from fer_ros.perception.detection.detectors import (
    DEFAULT_DETECTION_SIZE,
    DEFAULT_DETECTOR,
    DETECTOR_DEFAULT_THRESHOLD,
    DETECTORS,
)
from fer_ros.perception.expressions.alignment import LEVEL_ABOVE_DEGREES
from fer_ros.perception.model_files import DEFAULT_MODEL
from fer_ros.perception.parameter_spec import ParameterSpec, defaults
from fer_ros.perception.tracking.tracks import SMOOTHING_MODES

PIPELINE_PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("detector", DEFAULT_DETECTOR, "Face detector.", choices=DETECTORS),
    ParameterSpec("model", "", "Expression model: mini_xception, face_expression_net, "
                  "ensemble (their mean), a .tflite/.onnx/.keras/.h5 file with its metadata "
                  "JSON, an export folder of 'fer train', a comma-separated list of these to "
                  f"average, or empty for the default ({DEFAULT_MODEL})."),
    ParameterSpec("min_face_size", MIN_FACE_SIZE, "Smallest face side to report, in pixels.",
                  8, 4000),
    ParameterSpec("detection_threshold", DETECTOR_DEFAULT_THRESHOLD, "Minimum face detector "
                  "score; 0 = the detector's own (retinaface 0.9, blazeface 0.5).", 0.0, 0.99),
    ParameterSpec("detection_size", DEFAULT_DETECTION_SIZE, "RetinaFace: longer side, in "
                  "pixels, the frame is shrunk to before detection (never enlarged); bounds the "
                  "cost per frame. Faces of about 20 px at this size are found.", 160, 3840),
    ParameterSpec("detection_interval", 3, "While faces are tracked: frames between "
                  "searches of the whole frame for new faces; in between, each tracked face is "
                  "found again near its last box, at a fraction of the cost. A new face beside "
                  "tracked ones is reported at most detection_interval-1 frames late.", 1, 30),
    ParameterSpec("empty_detection_interval", 3, "While no face is tracked: frames between "
                  "searches of the whole frame, the most costly step. Trades responsiveness "
                  "for CPU in an empty scene: a face that walks in is reported at most "
                  "empty_detection_interval-1 frames late (3: 67 ms at 30 Hz); 1 searches "
                  "every frame, at a full search's cost per frame.", 1, 30),
    ParameterSpec("change_threshold", 12.0, "A frame due for a search of the whole frame is "
                  "searched only if its grey thumbnail (8x8 pixel blocks at 1280x720) differs "
                  "by at least this many grey levels (0-255) somewhere from the last frame "
                  "searched, leaving out the faces and half a face side around each; while "
                  "faces are tracked, a search still comes at least once a second (30 frames). "
                  "Higher saves more CPU before a still camera but may miss a face that "
                  "differs little from what it covers; 0 searches on the cadence whatever the "
                  "frame. Only the blocks that changed (and with camera_motion, once the "
                  "camera's motion is undone, the strips that entered the view) are searched, "
                  "with a margin, while they cover less than half the frame.", 0.0, 255.0),
    ParameterSpec("camera_motion", True, "Measure how the whole view moved (corners "
                  "followed on a 320 px grey thumbnail, 1-2 ms at 1280x720, in every frame "
                  "while the camera moves, every few frames otherwise) and undo it "
                  "before both change gates compare: a panning or shaking camera then has only "
                  "the strip that entered the view and what really changed searched, and faces "
                  "whose region did not change keep their detections, moved as the camera "
                  "moved them; tracked faces are expected where the camera's and their own "
                  "motion take them. Forward motion and zoom fall back to the cadence. Needs "
                  "change_threshold above 0; false takes the camera as still."),
    ParameterSpec("coarse_regions", True, "Search the regions of a frame (the strips that "
                  "entered a moving camera's view, the blocks that changed) at 2/3 of the whole "
                  "frame's scale for proposals (at half the detection threshold) and confirm "
                  "each new one at the full scale and threshold: 7-11 % less node CPU in fast "
                  "pans and shake, little in slow pans (bench/motion.py, docs/performance.md). "
                  "A small face (under about 60 px at 1280x720) that the coarse pass misses is "
                  "found by the whole-frame search, at the full scale, up to a second later; "
                  "false searches regions at the full scale."),
    ParameterSpec("background_detection", False, "Run the full detections on a thread of "
                  "their own beside the following frames, so no frame waits for one; new "
                  "faces are then reported a frame or two later. Pays off only with a core to "
                  "spare; costs a second detector's memory."),
    ParameterSpec("classification_interval", 4, "Most frames between two classifications "
                  "of a tracked face (new faces at once); in between its last scores are "
                  "reused, at most classification_interval-1 frames old. Faces take turns; "
                  "frames with a full detection classify only the faces that must be.", 1, 30),
    ParameterSpec("level_tilted_faces", False, "Classify a face whose eye line is rolled by "
                  f"more than {LEVEL_ABOVE_DEGREES:g} degrees from a level crop (detectors with "
                  "landmarks: retinaface). Helps where the camera itself rolls; on upright "
                  "photos the tilt is often part of the expression, so it is off by default."),
    ParameterSpec("max_faces", 16, "Most faces classified per frame (largest first); bounds "
                  "the time one frame can take.", 1, 100),
    ParameterSpec("smoothing", "ema", "Temporal smoothing of each track's label/confidence "
                  "(scores stay raw).", choices=SMOOTHING_MODES),
    ParameterSpec("smoothing_alpha", 0.5, "Weight of the newest frame for 'ema'.", 0.01, 1.0),
    ParameterSpec("smoothing_window", 5, "Frames averaged for 'window'.", 1, 100),
    ParameterSpec("track_iou_threshold", 0.3, "Minimum box overlap to keep a face id.",
                  0.05, 0.95),
    ParameterSpec("track_max_misses", 5, "Frames a face may go undetected and keep its id.",
                  0, 100),
    ParameterSpec("num_threads", 2, "CPU threads for the face detector: a whole-frame search "
                  "is the longest step of a frame, and a second thread shortens it.", 1, 16,
                  read_only=True),
    ParameterSpec("classifier_threads", 1, "CPU threads for each expression model: its "
                  "batches are a few small crops, which a second thread speeds up by less than "
                  "the CPU time it adds.", 1, 16, read_only=True),
)
PIPELINE_DEFAULTS = defaults(PIPELINE_PARAMETERS)
