"""Several expression models read one face together: the mean of their probabilities.

Models trained on different data make different mistakes; on bench/accuracy.py's real photos
the mean of mini-Xception (FER-2013, gray 64x64) and FaceExpressionNet (face-api, RGB 112x112)
was right more often than either alone. Each member crops and scales the face its own way
(its metadata says how), and its classes are reordered into FER-2013's order, so the ensemble's
rows sum to 1 over ``EMOTIONS`` whatever order each member was trained with.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from fer_ros.perception.detection.detections import Box
from fer_ros.perception.expressions.labels import EMOTIONS, canonical_label
from fer_ros.perception.expressions.model_metadata import ModelMetadata

MAX_ENSEMBLE_MEMBERS = 8
"""Most models one ensemble averages. Each member costs its runtime's memory and time on every
face; beyond a handful of models the mean no longer changes, only the cost grows."""


class Member(Protocol):
    metadata: ModelMetadata
    path: Path

    def classify(self, bgr: np.ndarray, gray: np.ndarray, boxes: Sequence[Box],
                 rolls: Sequence[float] | None = None) -> np.ndarray:
        ...


def fer_order(labels: Sequence[str], origin: str) -> np.ndarray:
    """Column indices that reorder a model's outputs into ``EMOTIONS``' order.

    Raises ValueError when the model's classes are not the seven FER-2013 expressions (in any
    order and spelling), since averaging different class sets would mean nothing.
    """
    try:
        canonical = [canonical_label(label) for label in labels]
    except ValueError as exc:
        raise ValueError(f"{origin}: cannot join an ensemble: {exc}") from exc
    if sorted(canonical) != sorted(EMOTIONS):
        raise ValueError(f"{origin}: cannot join an ensemble: its classes {tuple(labels)} are "
                         f"not the seven expressions {', '.join(EMOTIONS)}")
    return np.array([canonical.index(label) for label in EMOTIONS])


class EnsembleClassifier:
    """The mean of its members' probabilities, in ``EMOTIONS``' order.

    Its ``metadata`` is for its labels and provenance; input size and crop are each member's.
    """

    def __init__(self, name: str, members: Sequence[Member]):
        if len(members) < 2:
            raise ValueError(f"ensemble {name!r} needs at least two models, got {len(members)}")
        if len(members) > MAX_ENSEMBLE_MEMBERS:
            raise ValueError(f"an ensemble of {len(members)} models is more than the "
                             f"{MAX_ENSEMBLE_MEMBERS} accepted")
        self.path = Path(name)
        self.members = list(members)
        self._orders = [fer_order(m.metadata.labels, str(m.path)) for m in self.members]
        first = self.members[0].metadata
        self.metadata = ModelMetadata(
            labels=EMOTIONS, input_size=first.input_size, channels=first.channels,
            architecture="ensemble(" + ", ".join(m.metadata.architecture or m.path.name
                                                 for m in self.members) + ")",
            source="; ".join(m.metadata.source for m in self.members if m.metadata.source),
        )

    def classify(self, bgr: np.ndarray, gray: np.ndarray, boxes: Sequence[Box],
                 rolls: Sequence[float] | None = None) -> np.ndarray:
        total = np.zeros((len(boxes), len(EMOTIONS)), dtype=np.float32)
        for member, order in zip(self.members, self._orders):
            total += member.classify(bgr, gray, boxes, rolls)[:, order]
        return total / len(self.members)
