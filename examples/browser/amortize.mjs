// The amortize model file contract (docs/FORMAT.md) in plain JavaScript,
// shared by the browser page and the Node example. It never imports a
// runtime: callers pass the onnxruntime namespace (onnxruntime-web or
// onnxruntime-node), so the same code runs under both.

// The contract's names (package format in Go).
export const FORMAT_MAJOR = 1;
export const PREFIX = 'amortize.';
export const INPUTS = ['x', 'theta', 'noise'];
export const OUTPUTS = ['log_prob', 'sample', 'sample_log_prob', 'log_ratio'];
export const KEYS = ['format_version', 'method', 'estimator', 'spec', 'theta_dim', 'x_dim',
  'theta_names', 'x_names', 'prior', 'zscore', 'noise', 'training', 'loss'];
// Methods whose graph this module evaluates (docs/FORMAT.md, Methods).
export const METHODS = ['npe', 'nle', 'nre'];

// layout returns how a method's graph is called (format.Layout in Go): the
// per-row input (cond) and the input of n values scored against each row
// (values, with their count's name in evaluate's request), the output of
// their log-density, and whether the file draws samples (of values).
export function layout(meta) {
  switch (meta.method) {
    case 'nle': return { cond: 'theta', values: 'x', count: 'nX', condDim: meta.thetaDim, valueDim: meta.xDim, logOut: 'log_prob', sampling: true };
    case 'nre': return { cond: 'x', values: 'theta', count: 'nTheta', condDim: meta.xDim, valueDim: meta.thetaDim, logOut: 'log_ratio', sampling: false };
    case 'npe': return { cond: 'x', values: 'theta', count: 'nTheta', condDim: meta.xDim, valueDim: meta.thetaDim, logOut: 'log_prob', sampling: true };
    default: throw new Error(`method ${meta.method} is not one this reader evaluates (${METHODS.join(', ')})`);
  }
}

// readMetadata returns the contract's metadata of a model file's bytes.
// onnxruntime's JavaScript API does not expose an ONNX model's
// metadata_props, so they are read from the protobuf here: ModelProto field
// 14, each a StringStringEntryProto {key = 1, value = 2}. Every length is
// checked against the bytes left, so a hostile file throws, never hangs.
export function readMetadata(bytes) {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const props = new Map();
  for (const [field, value] of fields(buf, 0, buf.length)) {
    if (field !== 14 || !(value instanceof Uint8Array)) continue;
    let key = '', val = '';
    for (const [f, v] of fields(value, 0, value.length)) {
      if (f === 1 && v instanceof Uint8Array) key = utf8.decode(v);
      if (f === 2 && v instanceof Uint8Array) val = utf8.decode(v);
    }
    if (props.has(key)) throw new Error(`metadata key ${key} appears twice`);
    props.set(key, val);
  }
  const get = (k) => {
    if (!props.has(PREFIX + k)) throw new Error(`metadata key ${PREFIX + k} missing (not an amortize model file?)`);
    return props.get(PREFIX + k);
  };
  const json = (k) => {
    try { return JSON.parse(get(k)); } catch (e) { throw new Error(`metadata ${PREFIX + k}: ${e.message}`); }
  };
  const int = (k) => {
    const s = get(k);
    if (!/^[0-9]+$/.test(s)) throw new Error(`metadata ${PREFIX + k} is "${s}", not an integer`);
    return Number(s);
  };
  const optional = (k) => (props.has(PREFIX + k) ? json(k) : null);
  const version = get('format_version');
  const major = Number(version.split('.')[0]);
  if (!/^[0-9]+\.[0-9]+$/.test(version)) throw new Error(`format_version "${version}" is not major.minor`);
  if (major > FORMAT_MAJOR) throw new Error(`model file has a newer major format version: file ${version}, this reader ${FORMAT_MAJOR}.0`);
  const meta = {
    formatVersion: version,
    // A file without a method (format 1.0) is npe.
    method: props.has(PREFIX + 'method') ? get('method') : 'npe', estimator: get('estimator'), spec: json('spec'),
    thetaDim: int('theta_dim'), xDim: int('x_dim'), thetaNames: json('theta_names'), xNames: json('x_names'),
    prior: json('prior'), zscore: json('zscore'), noise: json('noise'), training: json('training'),
    loss: optional('loss'),
  };
  if (!METHODS.includes(meta.method)) throw new Error(`method ${meta.method} is not one this reader knows (${METHODS.join(', ')})`);
  if (meta.thetaDim < 1 || meta.xDim < 1) throw new Error(`metadata dims θ ${meta.thetaDim}, x ${meta.xDim} must be ≥ 1`);
  if (!Array.isArray(meta.thetaNames) || meta.thetaNames.length !== meta.thetaDim) throw new Error('theta_names does not match theta_dim');
  if (!Array.isArray(meta.xNames) || meta.xNames.length !== meta.xDim) throw new Error('x_names does not match x_dim');
  const z = meta.zscore ?? {};
  const dims = { theta_mean: meta.thetaDim, theta_std: meta.thetaDim, x_mean: meta.xDim, x_std: meta.xDim };
  for (const [k, n] of Object.entries(dims)) {
    if (!Array.isArray(z[k]) || z[k].length !== n || !z[k].every(Number.isFinite)) throw new Error(`zscore.${k} needs ${n} numbers`);
  }
  const { normal, uniform } = meta.noise ?? {};
  // An nre file draws nothing: its noise is empty.
  const empty = meta.method === 'nre';
  if (!Number.isInteger(normal) || !Number.isInteger(uniform) || normal < 0 || uniform < 0 || (normal + uniform < 1) !== empty) {
    throw new Error(`bad noise layout ${JSON.stringify(meta.noise)}`);
  }
  meta.noiseDim = normal + uniform;
  return meta;
}

// fields yields [field number, value] of the protobuf message in
// buf[start, end): a Number for varints and fixed-size values (unused
// here), a Uint8Array view for length-delimited ones.
function* fields(buf, start, end) {
  let i = start;
  const varint = () => {
    let v = 0, mul = 1;
    for (let n = 0; n < 10; n++) {
      if (i >= end) throw new Error('not an ONNX model: truncated varint');
      const b = buf[i++];
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
    throw new Error('not an ONNX model: varint too long');
  };
  while (i < end) {
    const tag = varint();
    const field = Math.floor(tag / 8), wire = tag % 8;
    let value;
    switch (wire) {
      case 0: value = varint(); break;
      case 1: i += 8; value = 0; break;
      case 5: i += 4; value = 0; break;
      case 2: {
        const n = varint();
        if (n > end - i) throw new Error('not an ONNX model: field longer than the file');
        value = buf.subarray(i, i + n);
        i += n;
        break;
      }
      default: throw new Error(`not an ONNX model: wire type ${wire}`);
    }
    if (i > end) throw new Error('not an ONNX model: truncated field');
    yield [field, value];
  }
}

// boxBounds returns the prior's {low, high} when it is a box, else null:
// the estimator is a density on all of R^d, and a posterior must reject
// the draws outside the prior's support.
export function boxBounds(prior) {
  if (prior && prior.type === 'box_uniform') return { low: prior.low, high: prior.high };
  return null;
}

// inBox reports whether row i of the n×d array theta lies in the box,
// bounds included.
export function inBox(box, theta, i, d) {
  for (let j = 0; j < d; j++) {
    const v = theta[i * d + j];
    if (!(v >= box.low[j] && v <= box.high[j])) return false;
  }
  return true;
}

// evaluate runs the graph once for b rows of the method's per-row input,
// with the contract's input names: for npe, b observations x, nTheta θ
// rows per observation to score and nSample draws of θ from the given
// noise; for nle, b parameter vectors theta, nX x rows per θ to score and
// nSample draws of x; for nre, b observations x and nTheta θ rows to score
// (no draws). Counts may be 0. Arrays are flat and row-major, as in the
// contract's shapes. It returns logProb (npe, nle) or logRatio (nre), and
// sample and sampleLogProb (empty for nre).
export async function evaluate(ort, session, meta, req) {
  const l = layout(meta);
  const b = req.b ?? 1, n = req[l.count] ?? 0, nSample = req.nSample ?? 0;
  if (!Number.isInteger(b) || b < 1 || !Number.isInteger(n) || n < 0 || !Number.isInteger(nSample) || nSample < 0) {
    throw new Error(`bad counts: b ${b}, ${l.count} ${n}, nSample ${nSample}`);
  }
  if (nSample > 0 && !l.sampling) throw new Error(`an ${meta.method} file draws no samples (nSample ${nSample})`);
  const want = (name, v, shape) => {
    const size = shape.reduce((a, k) => a * k, 1);
    if ((v ?? []).length !== size) throw new Error(`${name} has ${(v ?? []).length} values, want ${shape.join('×')}`);
    return new ort.Tensor('float32', Float32Array.from(v ?? []), shape);
  };
  const feeds = {
    [l.cond]: want(l.cond, req[l.cond], [b, l.condDim]),
    [l.values]: want(l.values, req[l.values], [b, n, l.valueDim]),
  };
  if (l.sampling) feeds.noise = want('noise', req.noise, [b, nSample, meta.noiseDim]);
  const out = await session.run(feeds);
  if (!l.sampling) return { logRatio: out.log_ratio.data, sample: new Float32Array(0), sampleLogProb: new Float32Array(0) };
  return { logProb: out.log_prob.data, sample: out.sample.data, sampleLogProb: out.sample_log_prob.data };
}

// noise returns n draws of the contract's noise: per draw noise.normal
// standard normals (Box–Muller), then noise.uniform uniforms, from a
// seeded generator (splitmix32), so that a page's result can be repeated.
export function noise(meta, n, seed) {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (((z ^ (z >>> 16)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float32Array(n * meta.noiseDim);
  for (let k = 0; k < out.length;) {
    for (let j = 0; j < meta.noise.normal; j++) out[k++] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
    for (let j = 0; j < meta.noise.uniform; j++) out[k++] = u();
  }
  return out;
}
