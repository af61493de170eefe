"""Training speed: faces per second of the input pipeline and of training, per architecture.

Run from the repository root: ``PYTHONPATH=fer_ros python bench/training.py [--limit N]``
(or as ``bench/run.py training`` once registered there). The faces are FER-2013-sized (48x48
gray, 28,709 of them by default, the size of its training split) with random pixels: speed does
not depend on what the faces show. Everything runs through ``fer_ros.learning.training``'s own
pipeline and compile settings, with mixed precision on a GPU as ``fer train`` uses it.

- pipeline: one full pass over all faces (shuffle, batch, augment, normalise), no model; with
  ``--seed`` (repeatable runs) ``fer train`` augments one batch at a time, hence its own row.
- training: ``--epochs`` timed epochs of ``--limit`` faces each (default 2 of 1,024, so a
  2-core CPU run takes under two minutes; ``--limit 0`` times full epochs), after a short
  warm-up that pays for tracing. The fastest epoch counts (the first ones are slowed by memory
  allocation and pipeline tuning, not representative of a long run); the last column
  extrapolates it to one full epoch of ``--images`` faces.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from fer_ros.learning.architectures import ARCHITECTURES, build
from fer_ros.learning.datasets import FaceSet
from fer_ros.learning.training import compile_for_training, make_dataset
from fer_ros.perception.expressions.model_metadata import ModelMetadata
from run import Report, standalone

FER2013_TRAINING_FACES = 28_709
WARM_UP_FACES = 256


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=int, default=FER2013_TRAINING_FACES,
                        help="faces in the synthetic training set (default %(default)s)")
    parser.add_argument("--limit", type=int, default=1024,
                        help="faces per timed training epoch, 0 for all (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=2,
                        help="timed epochs per architecture and device; the fastest counts, "
                             "as a long run goes at that pace (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64, help="default %(default)s")
    parser.add_argument("--archs", default=",".join(ARCHITECTURES),
                        help="comma-separated architectures (default %(default)s)")
    parser.add_argument("--devices", default="",
                        help="comma-separated cpu,gpu (default: the CPU, and the GPU if any)")


def synthetic_faces(count: int, seed: int = 0) -> FaceSet:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 48, 48), dtype=np.uint8)
    return FaceSet(images, rng.integers(0, 7, count), f"{count} random 48x48 faces")


def pipeline_rate(faces: FaceSet, batch_size: int, augment: bool, seed: int | None) -> float:
    """Faces per second of one full pass, as ``model.fit`` would draw them."""
    data = make_dataset(faces, ModelMetadata(), batch_size, training=True, augment=augment,
                        seed=seed)
    start = time.perf_counter()
    count = sum(int(x.shape[0]) for x, _ in data)
    return count / (time.perf_counter() - start)


def training_rate(arch: str, device: str, faces: FaceSet, batch_size: int,
                  epochs: int) -> tuple[list[float], int]:
    """Faces per second of each of ``epochs`` epochs of ``faces``, and the parameter count."""
    import keras
    import tensorflow as tf

    metadata = ModelMetadata()
    previous = keras.config.dtype_policy()
    starts: list[float] = []
    rates: list[float] = []
    clock = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs=None: starts.append(time.perf_counter()),
        on_epoch_end=lambda epoch, logs=None: rates.append(
            len(faces) / (time.perf_counter() - starts[-1])),
    )
    try:
        keras.config.set_dtype_policy("mixed_float16" if device == "gpu" else "float32")
        with tf.device("/GPU:0" if device == "gpu" else "/CPU:0"):
            model = build(arch)
            compile_for_training(model, 1e-3)
            warm_up = faces.subset(np.arange(min(WARM_UP_FACES, len(faces))), "warm-up")
            model.fit(make_dataset(warm_up, metadata, batch_size, training=True),
                      epochs=1, verbose=0, shuffle=False)
            data = make_dataset(faces, metadata, batch_size, training=True)
            model.fit(data, epochs=epochs, verbose=0, shuffle=False, callbacks=[clock])
    finally:
        keras.config.set_dtype_policy(previous)
    return rates, model.count_params()


def devices(requested: str) -> list[str]:
    import tensorflow as tf

    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    wanted = [d.strip() for d in requested.split(",") if d.strip()] or (
        ["cpu", "gpu"] if has_gpu else ["cpu"])
    if "gpu" in wanted and not has_gpu:
        raise SystemExit("bench/training.py: --devices gpu, but TensorFlow sees no GPU")
    return wanted


def gpu_name() -> str | None:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)


def run(args: argparse.Namespace) -> Report:
    import tensorflow as tf

    faces = synthetic_faces(args.images)
    limit = args.limit or args.images
    timed = faces.subset(np.arange(min(limit, args.images)), f"{limit} faces")
    report = Report("training", "training: faces per second (synthetic FER-2013-sized data)",
                    ["stage", "arch", "device", "parameters", "faces/s",
                     f"s per epoch of {args.images}"])
    data: dict = {"tensorflow": tf.__version__, "gpu": gpu_name(), "images": args.images,
                  "timed_faces": len(timed), "epochs": args.epochs,
                  "batch_size": args.batch_size, "pipeline": {}, "training": []}
    for key, name, augment, seed in (("augmented", "pipeline, augmented", True, None),
                                     ("augmented_seeded", "pipeline, augmented, --seed", True, 0),
                                     ("plain", "pipeline, no augmentation", False, None)):
        rate = pipeline_rate(faces, args.batch_size, augment, seed)
        report.rows.append([name, "-", "cpu", "-", rate, args.images / rate])
        data["pipeline"][key] = rate
    for arch in [a.strip() for a in args.archs.split(",") if a.strip()]:
        for device in devices(args.devices):
            rates, params = training_rate(arch, device, timed, args.batch_size, args.epochs)
            rate = max(rates)
            report.rows.append(["training", arch, device, params, rate, args.images / rate])
            data["training"].append({"arch": arch, "device": device, "parameters": params,
                                     "faces_per_s": rate, "epoch_s": args.images / rate,
                                     "faces_per_s_each_epoch": rates})
    report.data = data
    report.notes = [
        f"batch {args.batch_size}; training: the fastest of {args.epochs} epoch(s) of "
        f"{len(timed)} augmented faces, after a warm-up; the last column is extrapolated",
        f"GPU: {data['gpu'] or 'none'}; mixed precision (float16) on the GPU, float32 on the CPU",
    ]
    return report


if __name__ == "__main__":
    sys.exit(standalone(sys.modules[__name__]))
