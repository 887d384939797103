// The page: load a model file, show its metadata, sample its posterior for
// an observation and draw a pair plot, all in the browser.
import * as ort from './ort/ort.wasm.min.mjs';
import { boxBounds, evaluate, inBox, noise, readMetadata } from './amortize.mjs';

// onnxruntime-web's WASM files are served beside the page, never from a CDN.
ort.env.wasm.wasmPaths = new URL('./ort/', import.meta.url).href;

const $ = (id) => document.getElementById(id);
let model = null; // {name, meta, session}
let last = null; // the last posterior run, read by the headless check

function show(id, on = true) { $(id).hidden = !on; }
function status(text) { $('status').textContent = text; }
function fail(err) {
  $('error').textContent = String(err && err.message ? err.message : err);
  show('error');
  status('');
}
window.addEventListener('error', (e) => fail(e.error || e.message));
window.addEventListener('unhandledrejection', (e) => fail(e.reason));

const fmt = (v, digits = 4) => (Number.isFinite(v) ? Number(v.toPrecision(digits)).toString() : String(v));

async function load(bytes, name) {
  show('error', false);
  show('result', false);
  status(`loading ${name}…`);
  const meta = readMetadata(bytes);
  if (model) await model.session.release();
  model = null;
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const npe = meta.method === 'npe';
  // A small run while the user reads the metadata: V8 starts compiling the
  // hot WASM code in the background, so that the first posterior is faster.
  if (npe) await evaluate(ort, session, meta, { x: meta.zscore.x_mean, noise: noise(meta, 256, 0), nSample: 256 });
  model = { name, meta, session };
  const t = meta.training;
  const rows = [
    ['file', name],
    ['method', `${meta.method} (format ${meta.formatVersion})`],
    ['estimator', `${meta.estimator} ${JSON.stringify(meta.spec)}`],
    ['θ', `${meta.thetaDim}: ${meta.thetaNames.join(', ')}`],
    ['x', `${meta.xDim}: ${meta.xNames.join(', ')}`],
    ['prior', JSON.stringify(meta.prior)],
    ['training', `${t.simulations} simulations, ${t.epochs} epochs (best ${t.best_epoch}, validation loss ${fmt(t.best_val_loss)}), seed ${t.seed}, ${fmt(t.train_seconds, 3)} s`],
  ];
  if (meta.loss) rows.push(['loss', JSON.stringify(meta.loss)]);
  $('meta-table').replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement('tr');
    tr.append(Object.assign(document.createElement('th'), { textContent: k }), Object.assign(document.createElement('td'), { textContent: v }));
    return tr;
  }));
  $('x-names').textContent = meta.xNames.join(', ');
  $('x').value = meta.zscore.x_mean.map((v) => fmt(v)).join(', ');
  show('meta');
  // An nle or nre file holds a likelihood or a ratio, not a posterior: the
  // page shows what it is and where its posterior comes from.
  // A 2-D θ is scored on a grid and plotted instead.
  const grid = !npe && meta.thetaDim === 2;
  show('observe', npe || grid);
  show('draws', npe);
  show('seeds', npe);
  $('run').textContent = npe ? 'Sample' : 'Score θ grid';
  show('mcmc', !npe);
  show('grid-note', grid);
  $('mcmc-file').textContent = name;
  $('mcmc-what').textContent = meta.method === 'nle' ? 'a likelihood q(x | θ)' : 'a likelihood-to-evidence ratio r(θ, x)';
  status(`${name} loaded`);
  document.body.dataset.model = name;
  return meta;
}

function parseX(text, dim) {
  const parts = text.split(/[\s,;]+/).filter((s) => s !== '');
  const x = parts.map(Number);
  if (x.length !== dim || x.some((v) => !Number.isFinite(v))) throw new Error(`x needs ${dim} numbers (${model.meta.xNames.join(', ')}), got "${text}"`);
  return x;
}

// sample draws n times for x with the seeded noise, keeps the draws inside
// a box prior, and reports their summary and pair plot.
async function sample(x, n, seed) {
  if (!model) throw new Error('load a model file first');
  if (model.meta.method !== 'npe') throw new Error(`${model.name} is an ${model.meta.method} file: its posterior is sampled by MCMC`);
  $('result-title').textContent = '4. Posterior';
  if (!Number.isInteger(n) || n < 1 || n > 1e6) throw new Error('draws must be between 1 and 1000000');
  show('error', false);
  status(`sampling ${n} draws…`);
  const { meta, session } = model;
  const d = meta.thetaDim;
  const t0 = performance.now();
  const eps = noise(meta, n, seed);
  const out = await evaluate(ort, session, meta, { x, b: 1, noise: eps, nSample: n });
  const ms = performance.now() - t0;
  const box = boxBounds(meta.prior);
  const inside = new Uint8Array(n);
  const kept = [];
  for (let i = 0; i < n; i++) {
    if (box === null || inBox(box, out.sample, i, d)) {
      inside[i] = 1;
      kept.push(i);
    }
  }
  const mean = new Array(d).fill(0), std = new Array(d).fill(0);
  for (const i of kept) for (let j = 0; j < d; j++) mean[j] += out.sample[i * d + j] / kept.length;
  for (const i of kept) for (let j = 0; j < d; j++) std[j] += (out.sample[i * d + j] - mean[j]) ** 2 / Math.max(kept.length - 1, 1);
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]);
  last = { x, n, seed, noise: eps, sample: out.sample, sampleLogProb: out.sampleLogProb, inside, kept: kept.length, mean, std, ms };

  $('summary').textContent = `${n.toLocaleString('en')} draws in ${ms.toFixed(0)} ms; ${kept.length.toLocaleString('en')} inside the prior (acceptance ${(100 * kept.length / n).toFixed(1)}%)`;
  $('stats').replaceChildren(
    row('th', ['', 'mean', 'std']),
    ...meta.thetaNames.map((name, j) => row('td', [name, fmt(mean[j], 6), fmt(std[j], 6)])),
  );
  show('result');
  if (kept.length === 0) throw new Error('no draw fell inside the prior: x is implausible under this model');
  pairPlot($('plot'), out.sample, kept, meta.thetaNames);
  status(`${model.name}: posterior for x = [${x.join(', ')}]`);
  document.body.dataset.runs = String(Number(document.body.dataset.runs || 0) + 1);
  return last;
}

// The side of the θ grid an nle or nre file is scored on.
const GRID = 64;

// scoreGrid evaluates an nle file's log q(x | θ) or an nre file's
// log r(θ, x) for the observation x on a GRID×GRID grid of cell centres
// over the prior's box (or the training θ's mean ± 4 std), in one call,
// and plots it: the posterior up to a constant under a uniform prior.
async function scoreGrid(x) {
  const { meta, session } = model;
  show('error', false);
  status(`scoring ${GRID}×${GRID} θ…`);
  const z = meta.zscore;
  const box = boxBounds(meta.prior) ?? { low: z.theta_mean.map((m, j) => m - 4 * z.theta_std[j]), high: z.theta_mean.map((m, j) => m + 4 * z.theta_std[j]) };
  const g = GRID, rows = g * g;
  const theta = new Float32Array(rows * 2);
  for (let r = 0; r < g; r++) {
    for (let c = 0; c < g; c++) {
      theta[2 * (r * g + c)] = box.low[0] + ((c + 0.5) * (box.high[0] - box.low[0])) / g;
      theta[2 * (r * g + c) + 1] = box.low[1] + ((r + 0.5) * (box.high[1] - box.low[1])) / g;
    }
  }
  const t0 = performance.now();
  let values;
  if (meta.method === 'nle') {
    // Each grid θ is a row scoring the one x.
    const xs = new Float32Array(rows * meta.xDim);
    for (let i = 0; i < rows; i++) xs.set(x, i * meta.xDim);
    values = (await evaluate(ort, session, meta, { theta, b: rows, x: xs, nX: 1 })).logProb;
  } else {
    values = (await evaluate(ort, session, meta, { x, b: 1, theta, nTheta: rows })).logRatio;
  }
  const ms = performance.now() - t0;
  let best = 0;
  for (let i = 1; i < rows; i++) if (values[i] > values[best]) best = i;
  last = { x, grid: g, theta, values, best, ms };
  const what = meta.method === 'nle' ? 'log q(x | θ)' : 'log r(θ, x)';
  $('result-title').textContent = `4. ${what} on a θ grid`;
  $('summary').textContent = `${what} on ${g}×${g} θ over [${box.low.map((v) => fmt(v)).join(', ')}] – [${box.high.map((v) => fmt(v)).join(', ')}] in ${ms.toFixed(0)} ms; largest ${fmt(values[best])} at θ = (${fmt(theta[2 * best])}, ${fmt(theta[2 * best + 1])})`;
  $('stats').replaceChildren();
  show('result');
  heatMap($('plot'), values, g, box, meta.thetaNames);
  status(`${model.name}: ${what} for x = [${x.join(', ')}]`);
  document.body.dataset.runs = String(Number(document.body.dataset.runs || 0) + 1);
  return last;
}

// heatMap draws grid values (row r: θ₂'s r-th cell, column c: θ₁'s) as the
// plot's blue, its opacity linear in the value from the grid's least (or
// 20 nats below its largest, whichever is higher) to its largest.
function heatMap(canvas, values, g, box, names) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width, pad = 36, side = W - pad;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, canvas.height);
  let top = -Infinity, bottom = Infinity;
  for (const v of values) { top = Math.max(top, v); bottom = Math.min(bottom, v); }
  const span = Math.min(20, top - bottom) || 1;
  const s = (side - pad) / g;
  for (let r = 0; r < g; r++) {
    for (let c = 0; c < g; c++) {
      const a = Math.min(1, Math.max(0, (values[r * g + c] - top + span) / span));
      if (a === 0) continue;
      // Opaque, blended over white here: cells overlap by half a pixel.
      const mix = (c) => Math.round(255 + (c - 255) * a);
      ctx.fillStyle = `rgb(${mix(53)}, ${mix(99)}, ${mix(201)})`;
      ctx.fillRect(pad + c * s, side - pad - (r + 1) * s, s + 0.5, s + 0.5);
    }
  }
  ctx.strokeStyle = '#c3c9d4';
  ctx.strokeRect(pad, 0, side - pad, side - pad);
  ctx.fillStyle = '#1d2330';
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillText(`${names[0]}: ${fmt(box.low[0])} … ${fmt(box.high[0])}`, pad, side - pad + 16);
  ctx.save();
  ctx.translate(14, (side - pad) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(`${names[1]}: ${fmt(box.low[1])} … ${fmt(box.high[1])}`, -60, 0);
  ctx.restore();
}

function row(cell, values) {
  const tr = document.createElement('tr');
  values.forEach((v, k) => tr.append(Object.assign(document.createElement(cell), { textContent: v, className: k > 0 && cell === 'td' ? 'num' : '' })));
  return tr;
}

// pairPlot draws histograms on the diagonal and 2-D histograms below it,
// over the range of the kept draws.
function pairPlot(canvas, sample, kept, names) {
  const d = Math.min(names.length, 8);
  const D = names.length;
  const ctx = canvas.getContext('2d');
  const W = canvas.width, pad = 36, gap = 6;
  const cell = (W - pad - gap * (d - 1)) / d;
  const bins = 40;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, canvas.height);
  const lo = [], hi = [];
  for (let j = 0; j < d; j++) {
    let a = Infinity, b = -Infinity;
    for (const i of kept) { const v = sample[i * D + j]; if (v < a) a = v; if (v > b) b = v; }
    const m = (b - a) * 0.02 || 0.5;
    lo.push(a - m); hi.push(b + m);
  }
  const bin = (v, j) => Math.min(bins - 1, Math.floor((v - lo[j]) / (hi[j] - lo[j]) * bins));
  ctx.font = '12px system-ui, sans-serif';
  for (let r = 0; r < d; r++) {
    for (let c = 0; c <= r; c++) {
      const x0 = pad + c * (cell + gap), y0 = r * (cell + gap);
      ctx.strokeStyle = '#c3c9d4';
      ctx.strokeRect(x0, y0, cell, cell);
      if (r === c) {
        const h = new Array(bins).fill(0);
        for (const i of kept) h[bin(sample[i * D + c], c)]++;
        const top = Math.max(...h);
        ctx.fillStyle = '#3563c9';
        h.forEach((k, b) => {
          const bh = (k / top) * (cell - 4);
          ctx.fillRect(x0 + (b * cell) / bins, y0 + cell - bh, cell / bins - 0.5, bh);
        });
      } else {
        const h = new Array(bins * bins).fill(0);
        for (const i of kept) h[bin(sample[i * D + r], r) * bins + bin(sample[i * D + c], c)]++;
        const top = Math.max(...h);
        const s = cell / bins;
        h.forEach((k, idx) => {
          if (k === 0) return;
          const by = Math.floor(idx / bins), bx = idx % bins;
          ctx.fillStyle = `rgba(53, 99, 201, ${0.15 + 0.85 * Math.sqrt(k / top)})`;
          ctx.fillRect(x0 + bx * s, y0 + cell - (by + 1) * s, s + 0.5, s + 0.5);
        });
      }
    }
    ctx.fillStyle = '#1d2330';
    ctx.fillText(names[r], pad + r * (cell + gap) + 2, d * (cell + gap) + 10);
    ctx.save();
    ctx.translate(14, r * (cell + gap) + cell / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(names[r], -ctx.measureText(names[r]).width / 2, 0);
    ctx.restore();
  }
}

async function loadFile(file) {
  try {
    await load(new Uint8Array(await file.arrayBuffer()), file.name);
  } catch (e) {
    fail(e);
  }
}

async function loadURL(name) {
  const resp = await fetch(`models/${encodeURIComponent(name)}`);
  if (!resp.ok) throw new Error(`models/${name}: ${resp.status} ${resp.statusText}`);
  return load(new Uint8Array(await resp.arrayBuffer()), name);
}

$('file').addEventListener('change', (e) => e.target.files[0] && loadFile(e.target.files[0]));
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files[0]) loadFile(e.dataTransfer.files[0]);
});
$('form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const x = parseX($('x').value, model.meta.xDim);
    if (model.meta.method === 'npe') await sample(x, Number($('n').value), Number($('seed').value));
    else await scoreGrid(x);
  } catch (err) {
    fail(err);
  }
});
$('models').addEventListener('change', async (e) => {
  try {
    if (e.target.value) await loadURL(e.target.value);
  } catch (err) {
    fail(err);
  }
});

// The model directory's list, when the page is served with one.
fetch('models/').then((r) => (r.ok ? r.json() : [])).then((names) => {
  if (!Array.isArray(names) || names.length === 0) return;
  $('models').replaceChildren(new Option('choose…', ''), ...names.map((n) => new Option(n, n)));
  show('served');
}).catch(() => {}).finally(() => { document.body.dataset.ready = '1'; });

// For scripts and the headless check: the same functions the form calls.
window.amortize = {
  loadURL,
  sample,
  evaluate: (req) => evaluate(ort, model.session, model.meta, req),
  get last() { return last; },
  get meta() { return model && model.meta; },
};
