// Reference outputs of face-api.js's own FaceExpressionNet for fixed inputs.
//
// fer_ros rebuilds the network as ONNX (tools/convert_face_expression_net.py); this script runs
// the original TF.js implementation on the CPU backend (pure JavaScript, nothing native) so a
// test can compare the two. Run once, its output is committed:
//   cd tools/face_expression_reference && npm install --ignore-scripts
//   node generate.js ../../fer_ros/fer_ros/perception/models \
//     > ../../fer_ros/test/data/face_expression_net_reference.json
// The inputs are not stored: both sides compute them from the same integer formulas
// (fer_ros/test/test_expression_models.py: reference_input), so the file stays small.
'use strict';

const fs = require('fs');
const path = require('path');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const { tf } = faceapi;
const SIZE = 112;
const KINDS = ['gray128', 'gradient', 'noise1', 'noise2', 'blocks'];

// 31-bit linear congruential generator; Math.imul keeps the low 32 bits like Python's masking.
function lcg(seed) {
  let state = seed >>> 0;
  return () => {
    state = ((Math.imul(state, 1103515245) + 12345) >>> 0) & 0x7fffffff;
    return (state >>> 16) & 255;
  };
}

function referenceInput(kind) {
  const pixels = new Float32Array(SIZE * SIZE * 3);
  const noise = kind.startsWith('noise') ? lcg(Number(kind.slice(5))) : null;
  for (let y = 0; y < SIZE; y += 1) {
    for (let x = 0; x < SIZE; x += 1) {
      for (let c = 0; c < 3; c += 1) {
        let v;
        if (kind === 'gray128') v = 128;
        else if (kind === 'gradient') v = (2 * x + y + 40 * c) % 256;
        else if (kind === 'blocks') v = (((x >> 4) + (y >> 4) + c) % 3) * 100 + 20;
        else v = noise();
        pixels[(y * SIZE + x) * 3 + c] = v;
      }
    }
  }
  return tf.tensor3d(pixels, [SIZE, SIZE, 3]);
}

async function main() {
  const modelDir = process.argv[2];
  if (!modelDir) throw new Error('usage: node generate.js <folder with face_expression_model files>');
  await tf.setBackend('cpu');
  await tf.ready();
  const manifest = JSON.parse(fs.readFileSync(
    path.join(modelDir, 'face_expression_model-weights_manifest.json'), 'utf8'));
  const bin = fs.readFileSync(path.join(modelDir, 'face_expression_model.bin'));
  const buffer = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const weightMap = tf.io.decodeWeights(buffer, manifest[0].weights);
  const net = new faceapi.FaceExpressionNet();
  net.loadFromWeightMap(weightMap);
  const inputs = KINDS.map(referenceInput);
  const probabilities = net.forwardInput(new faceapi.NetInput(inputs, true));
  const rows = await probabilities.array();
  process.stdout.write(`${JSON.stringify({
    comment: 'face-api.js FaceExpressionNet (TF.js CPU backend) on fixed 112x112 RGB inputs; '
      + 'written by tools/face_expression_reference/generate.js',
    versions: { 'face-api': faceapi.version, tfjs: tf.version_core, backend: tf.getBackend() },
    labels: faceapi.FACE_EXPRESSION_LABELS,
    inputs: KINDS,
    probabilities: rows,
  }, null, 1)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
