"""Expression classifiers that ``fer train`` can build from scratch, by name.

``seed`` is the original project's CNN, kept so new results can be compared with it. ``default``
is a VGG-style network with batch normalisation, the family that reports about 73 % on FER-2013
(Khaireddin & Chen 2021): four stages of two convolutions, then a single 512-unit dense layer
where theirs has larger fully connected layers, to keep the model quick to train and to run.
Augmentation lives in the input pipeline, not in these models, so the exported ``.tflite`` holds
nothing but the classifier.
"""

from __future__ import annotations

from collections.abc import Callable

from fer_ros.perception.expressions.labels import EMOTIONS

DEFAULT_ARCHITECTURE = "default"


def build_seed(input_shape: tuple[int, int, int], num_classes: int):
    """Conv32-Conv64-Pool-Drop-Conv128-Pool-Conv128-Pool-Drop-Dense1024-Drop-Dense7."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, 3, activation="relu"),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Conv2D(128, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(1024, activation="relu"),
            layers.Dropout(0.5),
            # float32 even under mixed precision: softmax in float16 loses small probabilities.
            layers.Dense(num_classes, activation="softmax", dtype="float32"),
        ],
        name="seed",
    )


def build_default(input_shape: tuple[int, int, int], num_classes: int):
    """Four VGG blocks (two 3x3 convolutions with batch norm each), then one dense layer."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape)
    x = inputs
    for filters, dropout in ((64, 0.2), (128, 0.25), (256, 0.3), (512, 0.35)):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(512, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="vgg_bn")


ARCHITECTURES: dict[str, Callable] = {"seed": build_seed, "default": build_default}
DESCRIPTIONS: dict[str, str] = {
    "seed": "seed CNN (original project: 4 conv, dense 1024)",
    "default": "VGG-style CNN with batch normalisation (4 blocks of 2 conv, dense 512)",
}


def build(name: str, input_shape: tuple[int, int, int] = (48, 48, 1),
          num_classes: int = len(EMOTIONS)):
    """A fresh, uncompiled ``keras.Model``; unknown names are a clear error."""
    if name not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {name!r}: expected one of {', '.join(ARCHITECTURES)}"
        )
    return ARCHITECTURES[name](input_shape, num_classes)
