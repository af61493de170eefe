"""Property test of `fer train`'s numeric options: any value is accepted only when it is a
finite number in its range; anything else (NaN, infinities, zero, negatives, out of range)
ends with status 2, one error line naming the option, and nothing written. `--learning-rate
nan` trained and exported a model that outputs NaN; `--epochs 0` trained 50 epochs.

No training runs here: a refused value is refused before TensorFlow is imported, and an
accepted one is only built into the run's configuration."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (requirements-test.txt, "
                    "or python3-hypothesis on a ROS install)")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fer_ros.learning import evaluation, training  # noqa: E402
from test_training import evaluate_args, train_args  # noqa: E402

FLOATS = {
    # option: (TrainConfig field, accepted when)
    "--learning-rate": ("learning_rate", lambda v: 0 < v <= training.MAX_LEARNING_RATE),
    "--val-fraction": ("val_fraction", lambda v: 0 < v < 1),
    "--crop-margin": ("crop_margin", lambda v: 0 <= v < 1),
}
INTEGERS = {
    "--epochs": ("epochs", lambda v: 1 <= v <= training.MAX_EPOCHS),
    "--batch-size": ("batch_size", lambda v: 1 <= v <= training.MAX_BATCH_SIZE),
    "--patience": ("patience", lambda v: 1 <= v <= training.MAX_EPOCHS),
    "--seed": ("seed", lambda v: 0 <= v <= training.MAX_SEED),
}
SPECIAL_FLOATS = st.sampled_from([math.nan, -math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0,
                                  -1.0, 1e-300, 5e-324, 1e300])
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def refused_from_the_command_line(tmp_path: Path, option: str, value: object, capsys) -> None:
    out = tmp_path / "out"
    dataset = tmp_path / "fer2013.csv"  # never read: the option is refused first
    status = training.run(train_args(dataset, "--out", out, f"{option}={value}"))
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fer train: error: {option}"), err
    assert not out.exists() and not dataset.exists()


def accepted(tmp_path: Path, field: str, value: object) -> bool:
    try:
        training.TrainConfig(dataset=tmp_path / "d.csv", out=tmp_path / "out", **{field: value})
    except training.TrainingError:
        return False
    return True


@SETTINGS
@given(option=st.sampled_from(sorted(FLOATS)),
       value=st.floats(allow_nan=True, allow_infinity=True) | SPECIAL_FLOATS)
def test_a_float_option_is_accepted_only_when_finite_and_in_range(tmp_path, capsys, option,
                                                                   value):
    field, in_range = FLOATS[option]
    expected = math.isfinite(value) and in_range(value)
    assert accepted(tmp_path, field, value) == expected, (option, value)
    if not expected:
        refused_from_the_command_line(tmp_path, option, repr(value), capsys)


@SETTINGS
@given(option=st.sampled_from(sorted(INTEGERS)),
       value=st.integers(-2**70, 2**70) | st.integers(-3, 3))
def test_a_whole_number_option_is_accepted_only_in_range(tmp_path, capsys, option, value):
    field, in_range = INTEGERS[option]
    assert accepted(tmp_path, field, value) == in_range(value), (option, value)
    if not in_range(value):
        refused_from_the_command_line(tmp_path, option, value, capsys)


@SETTINGS
@given(threads=st.integers(-2**40, 0) | st.integers(evaluation.MAX_THREADS + 1, 2**40))
def test_evaluate_refuses_a_thread_count_out_of_range_before_any_work(tmp_path, capsys, threads):
    dataset = tmp_path / "fer2013.csv"  # never read
    out = tmp_path / "out"
    assert evaluation.run(evaluate_args("mini_xception", dataset, "--out", out,
                                        f"--threads={threads}")) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"fer evaluate: error: --threads {threads}"), line
    assert not out.exists()
