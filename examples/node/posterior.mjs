// Evaluate an amortize model file with onnxruntime-node.
//
//   node posterior.mjs MODEL.onnx REQUEST.json     (REQUEST "-" reads stdin)
//
// REQUEST holds flat row-major arrays in the contract's shapes
// (docs/FORMAT.md), by the file's method:
//   npe: {"x": [...b×x_dim], "b": 1,
//         "theta": [...b×n_theta×theta_dim], "n_theta": 5,
//         "noise": [...b×n_samples×noise_dim], "n_samples": 1000}   (or "seed": 1 to draw the noise here)
//   nle: {"theta": [...b×theta_dim], "b": 1, "x": [...b×n_x×x_dim], "n_x": 5, "noise"/"seed", "n_samples"}
//   nre: {"x": [...b×x_dim], "b": 1, "theta": [...b×n_theta×theta_dim], "n_theta": 5}
// The answer on stdout is the file's metadata and the graph's outputs:
// npe: log q(θ|x) of each θ (log_prob), θ draws (sample) with their log q,
// and for each draw whether it lies inside the prior's box (inside: a
// posterior keeps only those); nle: log q(x|θ) of each x (log_prob) and x
// draws (sample, the file as a surrogate simulator) with their log q;
// nre: the logit log r(θ, x) of each θ (log_ratio). An nle or nre file's
// posterior is sampled by MCMC (docs/MCMC.md), not here.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { boxBounds, evaluate, inBox, layout, noise, readMetadata } from '../browser/amortize.mjs';

const [model, request] = process.argv.slice(2);
if (!model || !request) {
  console.error('usage: node posterior.mjs MODEL.onnx REQUEST.json');
  process.exit(2);
}
const bytes = await readFile(model);
const meta = readMetadata(bytes);
const l = layout(meta);
const req = JSON.parse(readFileSync(request === '-' ? 0 : request, 'utf8'));
const b = req.b ?? 1;
const nSample = req.n_samples ?? 0;
const eps = l.sampling ? (req.noise ?? noise(meta, b * nSample, req.seed ?? 1)) : [];

// One intra-op thread: results do not depend on it, and a script sharing a
// machine should not take every core.
const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
const out = await evaluate(ort, session, meta, {
  x: req.x, theta: req.theta ?? [], b, nTheta: req.n_theta ?? 0, nX: req.n_x ?? 0, noise: eps, nSample,
});

const answer = { metadata: meta };
if (meta.method === 'nre') {
  answer.log_ratio = Array.from(out.logRatio);
} else {
  answer.log_prob = Array.from(out.logProb);
  answer.sample = Array.from(out.sample);
  answer.sample_log_prob = Array.from(out.sampleLogProb);
}
if (meta.method === 'npe') {
  // The prior bounds θ: only an npe file draws θ.
  const box = boxBounds(meta.prior);
  const inside = Array.from({ length: b * nSample }, (_, i) => box === null || inBox(box, out.sample, i, meta.thetaDim));
  answer.inside = inside;
  answer.acceptance = nSample > 0 ? inside.filter(Boolean).length / inside.length : null;
}
console.log(JSON.stringify(answer));
