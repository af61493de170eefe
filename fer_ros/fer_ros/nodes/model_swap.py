"""A new expression model loaded in the background and swapped in between two frames.

Loading a Keras model imports TensorFlow and takes seconds. Done inside the parameter callback,
that blocked the executor: no parameter service answered, no signal was acted on, and with the
pipeline lock held no frame was processed. Here the callback only runs the cheap checks (the
path, the metadata, unsafe layers in a Keras file's configuration), so a hopeless value is still
refused by ``ros2 param set`` itself; the load runs in a thread, and the node's worker takes the
new classifier before its next frame. A newer request supersedes an older one still loading.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from fer_ros.nodes.process.freed_memory import release_freed_memory
from fer_ros.perception.expressions.classification import ExpressionClassifier, load_classifier
from fer_ros.perception.model_files import ModelFileMissing, ModelLoadError, resolve_models
from fer_ros.perception.pipeline import EmotionPipeline, FaceResult, PipelineConfig

LOAD_ERRORS = (ModelLoadError, ModelFileMissing, ValueError, OSError)
"""What a refused or failed model raises; OSError for anything the checks did not foresee,
which must refuse the value, not end the node."""


def check_model(value: str) -> None:
    """Run every check on a ``model`` value that needs no model runtime
    (perception/model_files.py's ``resolve_models``): at most MAX_ENSEMBLE_MEMBERS models,
    each path of bounded length and a regular file under its size cap with metadata that is one
    too, and no unsafe Keras layer. Only stats and bounded reads of regular files, so the
    parameter call is answered at once. Raises one of LOAD_ERRORS."""
    resolve_models(value)


class ModelLoader:
    """At most one wanted model at a time, loaded by a daemon thread; ``take`` hands it over."""

    def __init__(self, num_threads: int):
        self._num_threads = num_threads
        self._lock = threading.Lock()
        self._wanted = 0
        """Number of the newest request; a load that finishes for an older one is dropped."""
        self._ready: tuple[str, ExpressionClassifier] | None = None

    def load(self, value: str, on_failure: Callable[[str, str], None]) -> None:
        """Start loading ``value`` (a ``model`` parameter); ``on_failure(value, reason)`` runs in
        the loading thread if it cannot be loaded and is still the newest request."""
        with self._lock:
            self._wanted += 1
            self._ready = None
            request = self._wanted
        threading.Thread(target=self._load, args=(request, value, on_failure),
                         name="fer_model_loader", daemon=True).start()

    def cancel(self) -> None:
        """Drop any load in flight (the wanted model is the one running)."""
        with self._lock:
            self._wanted += 1
            self._ready = None

    def _load(self, request: int, value: str, on_failure: Callable[[str, str], None]) -> None:
        try:
            classifier = load_classifier(value, num_threads=self._num_threads)
        except LOAD_ERRORS as exc:
            with self._lock:
                current = request == self._wanted
            if current:
                on_failure(value, str(exc))
            return
        with self._lock:
            if request == self._wanted:
                self._ready = (value, classifier)

    def take(self) -> tuple[str, ExpressionClassifier] | None:
        """The newly loaded model's parameter value and classifier, once; else None."""
        with self._lock:
            ready, self._ready = self._ready, None
            return ready


class PipelineSwap:
    """The node's pipeline, rebuilt on parameter changes and swapped only between frames.

    Detector and tracking changes are built at once (milliseconds) with the running classifier;
    a new model is loaded by a ModelLoader and swapped in by ``process`` before the next frame.
    Rebuilt trackers continue the ids of the old one, so no id ever goes to a second face.
    """

    def __init__(self, config: PipelineConfig, log: Callable[[str], None],
                 on_failure: Callable[[str, str, str], None]):
        """``log`` reports a swap; ``on_failure(value, reason, running_value)`` a model that
        could not be loaded in the background (the running one stays)."""
        self._config = config
        self._pipeline = EmotionPipeline.from_config(config)
        self._lock = threading.Lock()
        self._loader = ModelLoader(config.classifier_threads)
        self._log = log
        self._on_failure = on_failure
        self.running_model = config.model
        """The ``model`` value whose classifier is in use."""

    @property
    def pipeline(self) -> EmotionPipeline:
        return self._pipeline

    def reconfigure(self, config: PipelineConfig) -> str | None:
        """Apply new settings; a reason to refuse them, or None once accepted."""
        new_model = config.model != self._config.model
        try:
            if new_model and config.model != self.running_model:
                check_model(config.model)
            pipeline = None
            if replace(config, model="") != replace(self._config, model=""):
                pipeline = EmotionPipeline.from_config(config, self._pipeline.classifier)
        except LOAD_ERRORS as exc:
            return str(exc)
        with self._lock:
            old = None
            if pipeline is not None:
                pipeline.tracker.continue_ids_of(self._pipeline.tracker)
                old, self._pipeline = self._pipeline, pipeline
            self._config = config
        if old is not None:
            old.close()
            del old
            release_freed_memory()
        if new_model:
            if config.model == self.running_model:
                self._loader.cancel()
            else:
                self._loader.load(config.model, self._failed)
        return None

    def _failed(self, value: str, reason: str) -> None:
        self._on_failure(value, reason, self.running_model)

    def process(self, bgr: np.ndarray) -> tuple[EmotionPipeline, list[FaceResult]]:
        """Faces of one frame, by the newest pipeline (swapping in a loaded model first)."""
        with self._lock:
            loaded = self._loader.take()
            if loaded is not None:
                value, classifier = loaded
                pipeline = EmotionPipeline.from_config(self._config, classifier)
                pipeline.tracker.continue_ids_of(self._pipeline.tracker)
                old, self._pipeline, self.running_model = self._pipeline, pipeline, value
                old.close()
                del old, loaded, classifier
                release_freed_memory()
                self._log(f"model {self._pipeline.classifier.path} loaded and in use")
            pipeline = self._pipeline
            return pipeline, pipeline.process(bgr)
