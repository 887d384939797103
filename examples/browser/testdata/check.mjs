// Drives the page in headless Chromium for examples/browser's Go test:
//   node testdata/check.mjs CONFIG.json
// CONFIG (written by the test): url, chromium, profile, screenshot, plot,
// ui {file, x, n, seed}, perf {model, x, n, seed}, evals [{model, req}],
// grids [{model, x, plot}] (nle and nre files scored on a θ grid).
// It prints one JSON object with what the page reported.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const t0 = Date.now();
const laps = {};
const lap = (what) => { laps[what] = Date.now() - t0; };
const browser = await chromium.launchPersistentContext(cfg.profile, {
  executablePath: cfg.chromium,
  headless: true,
  // Offline and quiet: nothing but the test server is ever contacted.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  viewport: { width: 1000, height: 1400 },
});
const out = { console: [], requests: [], laps };
lap('launched');
try {
  const page = browser.pages()[0] ?? await browser.newPage();
  page.on('console', (m) => out.console.push(m.text()));
  page.on('pageerror', (e) => out.console.push(`pageerror: ${e.message}`));
  page.on('request', (r) => out.requests.push(r.url()));
  page.setDefaultTimeout(cfg.timeout_ms);
  await page.goto(cfg.url);
  await page.waitForSelector('body[data-ready]');
  out.isolated = await page.evaluate(() => self.crossOriginIsolated);
  lap('page ready');

  const error = () => page.evaluate(() => (document.getElementById('error').hidden ? '' : document.getElementById('error').textContent));
  const runs = async () => Number(await page.evaluate(() => document.body.dataset.runs || 0));
  const waitRuns = async (n) => {
    await page.waitForFunction((k) => Number(document.body.dataset.runs || 0) >= k || !document.getElementById('error').hidden, n);
    const e = await error();
    if (e) throw new Error(`page error: ${e}`);
  };

  // The user's path: pick a file, type x, press Sample.
  await page.setInputFiles('#file', cfg.ui.file);
  await page.waitForFunction(() => !document.getElementById('observe').hidden || !document.getElementById('error').hidden);
  if (await error()) throw new Error(`page error: ${await error()}`);
  out.metadata = await page.textContent('#meta-table');
  lap('file loaded');
  await page.fill('#x', cfg.ui.x.join(', '));
  await page.fill('#n', String(cfg.ui.n));
  await page.fill('#seed', String(cfg.ui.seed));
  await page.click('#run');
  await waitRuns(1);
  out.summary = await page.textContent('#summary');
  out.stats = await page.textContent('#stats');
  out.ui = await page.evaluate(() => {
    const l = window.amortize.last;
    return { noise: Array.from(l.noise), sample: Array.from(l.sample), sampleLogProb: Array.from(l.sampleLogProb),
      inside: Array.from(l.inside), kept: l.kept, mean: l.mean, std: l.std, ms: l.ms };
  });
  lap('sampled');
  await page.screenshot({ path: cfg.screenshot, fullPage: true });
  await page.locator('#plot').screenshot({ path: cfg.plot });

  lap('screenshots');
  // Both paths of every golden file, loaded from the served directory.
  out.evals = [];
  for (const e of cfg.evals) {
    out.evals.push(await page.evaluate(async ({ model, req }) => {
      await window.amortize.loadURL(model);
      const r = await window.amortize.evaluate(req);
      const text = (id) => (document.getElementById(id).hidden ? '' : document.getElementById(id).textContent);
      return { model, logProb: Array.from(r.logProb ?? []), logRatio: Array.from(r.logRatio ?? []), sample: Array.from(r.sample),
        sampleLogProb: Array.from(r.sampleLogProb), metadata: text('meta-table'), mcmc: text('mcmc'), observe: text('observe') };
    }, e));
  }

  lap('evaluated');
  // nle and nre files: type x, press the button, get the θ grid's plot.
  out.grids = [];
  for (const g of cfg.grids) {
    await page.selectOption('#models', g.model);
    await page.waitForFunction((m) => document.body.dataset.model === m, g.model);
    await page.fill('#x', g.x.join(', '));
    const before = await runs();
    await page.click('#run');
    await waitRuns(before + 1);
    const r = await page.evaluate(() => {
      const l = window.amortize.last;
      return { theta: Array.from(l.theta), values: Array.from(l.values), ms: l.ms };
    });
    r.summary = await page.textContent('#summary');
    await page.locator('#plot').screenshot({ path: g.plot });
    out.grids.push(r);
  }
  lap('grids');
  // Speed: an sbi-sized NSF chosen from the served list; the first run
  // includes V8's tier-up of the WASM code, the next ones are steady.
  await page.selectOption('#models', cfg.perf.model);
  await page.waitForFunction((m) => document.body.dataset.model === m, cfg.perf.model);
  await page.fill('#x', cfg.perf.x.join(', '));
  await page.fill('#n', String(cfg.perf.n));
  out.perf_ms = [];
  for (let k = 0; k < cfg.perf.runs; k++) {
    const before = await runs();
    await page.click('#run');
    await waitRuns(before + 1);
    out.perf_ms.push(await page.evaluate(() => window.amortize.last.ms));
  }
  lap('speed');
  out.error = await error();
} catch (e) {
  out.error = String(e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
