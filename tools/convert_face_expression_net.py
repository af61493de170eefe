#!/usr/bin/env python3
"""Rebuild face-api.js's FaceExpressionNet as an ONNX graph, from its TF.js weights.

Run at set-up (``make models``), after ``fetch_models.py`` has taken the weights out of the
pinned ``@vladmandic/face-api`` npm tarball. TensorFlow is not needed: the TF.js weights file is
a flat list of uint8-quantized tensors described by a JSON manifest, and the architecture is
small enough to write down here. The graph is built with the ``onnx`` package, which is needed
at set-up only; OpenCV's dnn module runs it on the robot.

The architecture, as face-api defines it (src/faceFeatureExtractor, src/faceProcessor):
four dense blocks of four 3x3 convolutions each (the very first a plain convolution, every
other one depthwise-separable; the first of each block has stride 2 and every later one is fed
the ReLU of the sum of all earlier outputs of its block), a 7x7 average pool and one fully
connected layer over 256 features, 7 logits, softmax. Input: 112x112 RGB, minus face-api's
mean colour, divided by 255. Both steps are inside the graph, so the model's input is plain
0..255 RGB (NHWC) and its output face-api's probabilities, in face-api's class order.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MODELS_DIR = Path(__file__).resolve().parents[1] / "fer_ros" / "fer_ros" / "perception" / "models"
TFJS_DIR = MODELS_DIR / "face-api"
MANIFEST = "face_expression_model-weights_manifest.json"
WEIGHTS = "face_expression_model.bin"
OUTPUT = "face_expression_net.onnx"
INPUT_SIZE = 112
MEAN_RGB = (122.782, 117.001, 104.298)
BLOCKS = ("dense0", "dense1", "dense2", "dense3")
CONVS_PER_BLOCK = 4
OPSET = 13


def read_weights(manifest_path: Path, weights_path: Path) -> dict[str, np.ndarray]:
    """Decode TF.js weights: tensors stored back to back, uint8 ones as q * scale + min.

    TF.js dequantizes in double precision and stores float32; doing the same here keeps the
    converted model bit-identical in its weights.
    """
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    data = weights_path.read_bytes()
    tensors: dict[str, np.ndarray] = {}
    offset = 0
    for group in manifest:
        for spec in group["weights"]:
            shape = tuple(spec["shape"])
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            if quant is None:
                if spec["dtype"] != "float32":
                    raise SystemExit(f"{spec['name']}: dtype {spec['dtype']} is not supported")
                values = np.frombuffer(data, dtype="<f4", count=count, offset=offset)
                offset += 4 * count
            elif quant["dtype"] == "uint8":
                raw = np.frombuffer(data, dtype=np.uint8, count=count, offset=offset)
                values = (raw.astype(np.float64) * quant["scale"] + quant["min"])
                offset += count
            else:
                raise SystemExit(f"{spec['name']}: quantization {quant['dtype']} is not supported")
            tensors[spec["name"]] = values.astype(np.float32).reshape(shape)
    if offset != len(data):
        raise SystemExit(f"{weights_path.name}: {len(data)} bytes, manifest describes {offset}")
    return tensors


class GraphBuilder:
    """Collects nodes and initializers with unique names while the network is written out."""

    def __init__(self, weights: dict[str, np.ndarray]):
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def conv(self, x: str, name: str, weight_hwio: np.ndarray, bias: np.ndarray | None,
             stride: int, group: int = 1) -> str:
        """TF 'same' padding: with stride 2 on an even size TF pads only after, never before."""
        kernel = weight_hwio.shape[0]
        total = kernel - stride if stride > 1 else kernel - 1
        before, after = total // 2, total - total // 2
        inputs = [x, self.constant(f"{name}/W", weight_hwio.transpose(3, 2, 0, 1))]
        if bias is not None:
            inputs.append(self.constant(f"{name}/B", bias))
        return self.node("Conv", inputs, name, kernel_shape=[kernel, kernel],
                         strides=[stride, stride], pads=[before, before, after, after],
                         group=group)

    def plain_conv(self, x: str, prefix: str, stride: int) -> str:
        return self.conv(x, prefix, self.weights[f"{prefix}/filters"],
                         self.weights[f"{prefix}/bias"], stride)

    def separable_conv(self, x: str, prefix: str, stride: int) -> str:
        """TF's separableConv2d: a per-channel 3x3 (no bias), a 1x1 across channels, then bias."""
        depthwise = self.weights[f"{prefix}/depthwise_filter"]  # (3, 3, C, 1)
        channels = depthwise.shape[2]
        depthwise_hwio = depthwise.transpose(0, 1, 3, 2)  # (3, 3, 1, C): one filter per channel
        out = self.conv(x, f"{prefix}/depthwise", depthwise_hwio, None, stride, group=channels)
        return self.conv(out, f"{prefix}/pointwise", self.weights[f"{prefix}/pointwise_filter"],
                         self.weights[f"{prefix}/bias"], 1)

    def dense_block(self, x: str, block: str, first_layer: bool) -> str:
        """out_k = conv_k(relu(sum of out_1..out_k-1)); the block returns relu(sum of all)."""
        outputs: list[str] = []
        for index in range(CONVS_PER_BLOCK):
            prefix = f"{block}/conv{index}"
            if index == 0:
                conv = self.plain_conv if first_layer else self.separable_conv
                outputs.append(self.node("Relu", [conv(x, prefix, 2)], f"{prefix}/relu"))
                continue
            summed = self.sum(outputs, f"{block}/sum{index}")
            relu = self.node("Relu", [summed], f"{block}/in{index}")
            outputs.append(self.separable_conv(relu, prefix, 1))
        return self.node("Relu", [self.sum(outputs, f"{block}/sum")], f"{block}/out")

    def sum(self, terms: list[str], name: str) -> str:
        """Adds in TF.js's order (out1 + (out2 + (out3 + ...))) so rounding matches it."""
        if len(terms) == 1:
            return terms[0]
        total = terms[-1]
        for position in range(len(terms) - 2, -1, -1):
            total = self.node("Add", [terms[position], total], f"{name}/{position}")
        return total


def build_model(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    builder = GraphBuilder(weights)
    nchw = builder.node("Transpose", ["rgb"], "nchw", perm=[0, 3, 1, 2])
    mean = builder.constant("mean_rgb", np.array(MEAN_RGB, np.float32).reshape(1, 3, 1, 1))
    centred = builder.node("Sub", [nchw, mean], "centred")
    x = builder.node("Div", [centred, builder.constant("scale", np.array(255.0))], "normalized")
    for index, block in enumerate(BLOCKS):
        x = builder.dense_block(x, block, first_layer=index == 0)
    pooled = builder.node("AveragePool", [x], "pooled", kernel_shape=[7, 7], strides=[2, 2])
    features = builder.node("Flatten", [pooled], "features", axis=1)
    logits = builder.node("Gemm", [features, builder.constant("fc/W", weights["fc/weights"]),
                                   builder.constant("fc/B", weights["fc/bias"])], "logits")
    builder.node("Softmax", [logits], "probabilities", axis=1)
    graph = helper.make_graph(
        builder.nodes, "face_expression_net",
        [helper.make_tensor_value_info("rgb", TensorProto.FLOAT,
                                       ["batch", INPUT_SIZE, INPUT_SIZE, 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 7])],
        builder.initializers,
    )
    model = helper.make_model(graph, producer_name="fer_ros tools/convert_face_expression_net.py",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=TFJS_DIR,
                        help="folder holding the TF.js manifest and weights fetch_models.py took")
    parser.add_argument("--out", type=Path, default=MODELS_DIR / OUTPUT, help="the ONNX file")
    args = parser.parse_args()
    weights = read_weights(args.weights / MANIFEST, args.weights / WEIGHTS)
    model = build_model(weights)
    out = args.out
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(model.SerializeToString())
    os.replace(partial, out)
    print(f"convert_face_expression_net: {out.name} <- {WEIGHTS} ({len(weights)} tensors)")


if __name__ == "__main__":
    main()
