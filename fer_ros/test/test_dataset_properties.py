"""Property test of the dataset reader: any valid FER-2013 CSV row reads back unchanged.

hypothesis is a test dependency (python3-hypothesis on a ROS install); without it this file
skips and the other dataset tests still run.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (requirements-test.txt, "
                    "or python3-hypothesis on a ROS install)")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fer_ros.learning.datasets import load_split  # noqa: E402
from synthetic_faces import write_csv  # noqa: E402


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 255), st.integers(0, 2**32 - 1)),
                min_size=1, max_size=6))
def test_any_valid_csv_row_round_trips(tmp_path_factory, rows) -> None:
    path = tmp_path_factory.mktemp("roundtrip") / "fer.csv"
    images = np.stack([np.random.default_rng(seed).integers(0, 256, (48, 48), dtype=np.uint8)
                       for _, _, seed in rows])
    for image, (_, value, _) in zip(images, rows):
        image[0, 0] = value
    labels = np.array([label for label, _, _ in rows])
    write_csv(path, {"Training": (images, labels)})
    faces = load_split(path, "Training")
    np.testing.assert_array_equal(faces.images, images)
    np.testing.assert_array_equal(faces.labels, labels)
