// Sample and score an amortize model file with onnxruntime-node.
//
//   node posterior.mjs MODEL.onnx REQUEST.json     (REQUEST "-" reads stdin)
//
// REQUEST holds flat row-major arrays in the contract's shapes
// (docs/FORMAT.md):
//   {"x": [...b×x_dim], "b": 1,
//    "noise": [...b×n_samples×noise_dim], "n_samples": 1000,   (or "seed": 1 to draw the noise here)
//    "theta": [...b×n_theta×theta_dim], "n_theta": 5}
// The answer on stdout is the file's metadata, log q of each θ, the draws
// with their log q, and for each draw whether it lies inside the prior's
// box: a posterior keeps only those.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { METHODS, boxBounds, evaluate, inBox, noise, readMetadata } from '../browser/amortize.mjs';

const [model, request] = process.argv.slice(2);
if (!model || !request) {
  console.error('usage: node posterior.mjs MODEL.onnx REQUEST.json');
  process.exit(2);
}
const bytes = await readFile(model);
const meta = readMetadata(bytes);
if (!METHODS.includes(meta.method)) throw new Error(`${model}: method ${meta.method} is not one this example evaluates (${METHODS})`);
const req = JSON.parse(readFileSync(request === '-' ? 0 : request, 'utf8'));
const b = req.b ?? 1;
const nSample = req.n_samples ?? 0;
const eps = req.noise ?? noise(meta, b * nSample, req.seed ?? 1);

// One intra-op thread: results do not depend on it, and a script sharing a
// machine should not take every core.
const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
const out = await evaluate(ort, session, meta, { x: req.x, b, theta: req.theta ?? [], nTheta: req.n_theta ?? 0, noise: eps, nSample });

const box = boxBounds(meta.prior);
const inside = Array.from({ length: b * nSample }, (_, i) => box === null || inBox(box, out.sample, i, meta.thetaDim));
console.log(JSON.stringify({
  metadata: meta,
  log_prob: Array.from(out.logProb),
  sample: Array.from(out.sample),
  sample_log_prob: Array.from(out.sampleLogProb),
  inside,
  acceptance: nSample > 0 ? inside.filter(Boolean).length / inside.length : null,
}));
