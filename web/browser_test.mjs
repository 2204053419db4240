// browser_test.mjs - the page in a real browser (headless Chromium driven by
// playwright-core), checked against the native build of the same glue.
//
//   node web/browser_test.mjs ROOT CHROMIUM NATIVE.txt NATIVE_WHATIF.txt OUT_DIR [NATIVE_BIG.txt [NATIVE_TRAIN]]
//
// ROOT is the built page (build/web); NATIVE.txt is web_parity's output for
// models/block.safetensors with PROMPT, N_NEW, T, TOP_P, SEED below, and
// NATIVE_WHATIF.txt the same with the pseudo-query of row WHATIF_ROW zeroed.
// Serves ROOT on a free port of 127.0.0.1, then, as a user would:
//   desktop (1280x900): picks nothing (Block AttnRes is the default), types
//     the prompt and settings, clicks Generate; the text must be the native
//     text byte for byte; hovering position POS must show every alpha row
//     with the native float32 bits, the partial sums marked where Block
//     AttnRes has them, and the native argmax as the most likely next byte;
//     dragging one pseudo-query's slider to 0 (faster than the page reruns)
//     must give the native what-if alpha (a uniform row), "trained value"
//     the native alpha again, "zero it" the what-if again; a file that is
//     not a model must give a message, not a crash
//   phone (390x844, touch): Full AttnRes from a link, a tap selects a
//     character, nothing is wider than the screen
//   standard model: says there are no depth weights, offers no what-if
//   a context past 4 GiB (with NATIVE_BIG.txt, web_parity's output for
//     BIG_MODEL, PROMPT, BIG_N_NEW, T, TOP_P, SEED): the file loads from the
//     disk, generates the native text (its KV-cache sized for those bytes,
//     not for its 2^20 positions), and asking for all 2^20 positions gives
//     the library's refusal as a message
//   the Train view (with NATIVE_TRAIN, the prefix of web_train_parity's
//     output for TRAIN_ARGS: NATIVE_TRAIN.txt and its two checkpoints): a
//     link starts training a 4-layer model for 200 steps; pause stops the
//     steps and resume continues them; every loss, gradient norm and
//     validation loss has the native bits; both losses fall, the alpha rows
//     move away from uniform, tokens/s is shown; "Save AttnRes" downloads
//     the native checkpoint byte for byte and "Open AttnRes in the lab"
//     loads it; samples come from both models; a pasted text too short for
//     one window is refused with a message
// and no request may leave the local server. Writes OUT_DIR/desktop.png,
// OUT_DIR/phone.png and OUT_DIR/train.png. Prints "ok ..." / "FAIL ..." per check and a last line
// "# summary browser: P passed, F failed" (read by tests/test_web.sh).
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { serve } from './serve.mjs';

export const PROMPT = 'The little robot', N_NEW = 60, T = 0.8, TOP_P = 0.9, SEED = 42, POS = 30, WHATIF_ROW = 3;
export const BIG_MODEL = 'tests/regress/kv-cache-over-4gib.OK.safetensors', BIG_N_NEW = 24;
// the Train view's run: web_train_parity TEXT DIM LAYERS S WINDOW BATCH STEPS LR WARMUP SEED VAL_BYTES VAL_EVERY
// (warmup: the page's min(30, steps / 10); 4096 validation bytes)
export const TRAIN_ARGS = ['models/corpus_train.txt', 16, 4, 2, 32, 4, 200, 0.003, 20, 7, 4096, 50];

const [root, chromiumPath, nativePath, whatIfPath, outDir, nativeBigPath, nativeTrain] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: browser_test.mjs ROOT CHROMIUM NATIVE.txt NATIVE_WHATIF.txt OUT_DIR');
  process.exit(2);
}
const { chromium } = createRequire(import.meta.url)('playwright-core');

let passed = 0, failed = 0;
function check(ok, what, detail) {
  if (ok) { passed++; console.log(`ok   ${what}`); } else { failed++; console.log(`FAIL ${what}${detail ? `: ${detail}` : ''}`); }
}

// web_parity's lines: "text HEX", "alphaL POS bits...", "logits POS bits..."
function readNative(path) {
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  const text = lines.find((l) => l.startsWith('text ')).slice(5);
  const rows = (pos) => lines.filter((l) => /^alpha\d+ /.test(l) && l.split(' ')[1] === String(pos))
                             .map((l) => l.split(' ').slice(2));
  const logits = (pos) => lines.find((l) => l.startsWith(`logits ${pos} `)).split(' ').slice(2);
  return { text, rows, logits };
}

const view = new DataView(new ArrayBuffer(4));
const bitsOf = (s) => { view.setFloat32(0, Number(s), true); return view.getUint32(0, true).toString(16).padStart(8, '0'); };
const floatOf = (h) => { view.setUint32(0, parseInt(h, 16), true); return view.getFloat32(0, true); };

// alpha of every table row as the page shows them (data-alpha), as bit strings
async function pageRows(page) {
  return page.$$eval('#depth-table tbody tr', (trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll('td[data-alpha]'), (td) => td.dataset.alpha)));
}

function sameRows(pageRowsText, nativeRows) {
  if (pageRowsText.length !== nativeRows.length) return `${pageRowsText.length} rows on the page, ${nativeRows.length} native`;
  for (let l = 0; l < nativeRows.length; l++) {
    const got = pageRowsText[l].map(bitsOf), want = nativeRows[l];
    if (got.join(' ') !== want.join(' '))
      return `row ${l}: page ${pageRowsText[l].join(' ')} vs native ${want.map(floatOf).join(' ')}`;
  }
  return null;
}

// every request of every page: all must go to the local server
let requests = 0;
const foreign = [];
function watch(page, base) {
  page.on('request', (r) => {
    requests++;
    if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreign.push(r.url());
  });
  return page;
}

// Generates n_new bytes from PROMPT with the run's sampling settings and
// returns the page's bytes, also as hex (to compare with the native run).
async function generate(page, nNew) {
  await page.fill('#prompt', PROMPT);
  await page.fill('#n-new', String(nNew));
  await page.fill('#temperature', String(T));
  await page.fill('#top-p', String(TOP_P));
  await page.fill('#seed', String(SEED));
  await page.click('#generate');
  await whenDone(page, `(seed ${SEED}`);
  const bytes = await page.$$eval('#text span', (spans) => spans.map((s) => Number(s.dataset.byte)));
  return { bytes, hex: bytes.map((b) => b.toString(16).padStart(2, '0')).join('') };
}

async function whenDone(page, statusText) {
  await page.waitForFunction((s) => document.getElementById('status').textContent.includes(s) &&
                                    document.body.dataset.state === 'done', statusText, { timeout: 60000 });
}

async function desktop(browser, base, native, whatIfNative) {
  const page = watch(await browser.newPage({ viewport: { width: 1280, height: 900 } }), base);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(base);
  await page.waitForFunction(() => document.getElementById('model-info').textContent.includes('Block AttnRes'), null, { timeout: 60000 });
  const { bytes, hex } = await generate(page, N_NEW);
  check(hex === native.text, `desktop: Block AttnRes, seed ${SEED}: the page generates the native text (${bytes.length} bytes)`,
        `page ${Buffer.from(bytes).toString('latin1')} / native ${Buffer.from(native.text, 'hex').toString('latin1')}`);

  await page.hover(`#text span[data-pos="${POS}"]`);
  await page.waitForFunction((p) => document.getElementById('inspect-title').textContent.includes(`position ${p}`), POS);
  const rows = await pageRows(page);
  const diff = sameRows(rows, native.rows(POS));
  check(!diff, `desktop: hovering position ${POS} shows all ${rows.length} alpha rows with the native float32 bits`, diff);

  // Block AttnRes (S = 2): sublayers 1, 3, 5, 7 read their block's partial sum, as their last source
  const partial = await page.$$eval('#depth-table tbody tr', (trs) => trs.map((tr) => {
    const cells = tr.querySelectorAll('td[data-alpha]');
    return Array.from(cells, (td, j) => td.classList.contains('partial') ? j : -1).filter((j) => j >= 0)
      .map((j) => (j === cells.length - 1 ? 'last' : `column ${j}`)).join(',');
  }));
  const wantPartial = rows.map((_, l) => (l < rows.length - 1 && l % 2 === 1 ? 'last' : ''));
  check(partial.join('|') === wantPartial.join('|'), 'desktop: the partial sum is marked as the last source of the second sublayer of each block, nowhere else',
        `marked: ${JSON.stringify(partial)}`);

  const logits = native.logits(POS).map(floatOf);
  const argmax = logits.indexOf(Math.max(...logits));
  const top = await page.$eval('#probs li .tok', (el) => el.textContent);
  check(top === String.fromCharCode(argmax), `desktop: the most likely next byte is the native argmax '${String.fromCharCode(argmax)}'`, `page shows '${top}'`);
  await page.screenshot({ path: join(outDir, 'desktop.png') });

  // the slider dragged 1 -> 0.5 -> 2 -> 0 faster than the reruns: the last one must win
  await page.selectOption('#wi-row', String(WHATIF_ROW));
  await page.evaluate(() => {
    const range = document.getElementById('wi-scale');
    for (const v of ['0.5', '2', '0']) { range.value = v; range.dispatchEvent(new Event('input')); }
  });
  const settled = (caption) => page.waitForFunction((c) => document.getElementById('depth-caption').textContent.includes(c) &&
                                                           document.body.dataset.state === 'done', caption, { timeout: 60000 });
  await settled('×0.00');
  const wiRows = await pageRows(page);
  const wiDiff = sameRows(wiRows, whatIfNative.rows(POS));
  const uniform = wiRows[WHATIF_ROW].every((a) => Number(a) === Number(wiRows[WHATIF_ROW][0]));
  check(!wiDiff && uniform, `desktop: pseudo-query ${WHATIF_ROW} dragged to 0 gives the native what-if alpha, row ${WHATIF_ROW} uniform (${wiRows[WHATIF_ROW].map((a) => Number(a).toFixed(4)).join(' ')})`,
        wiDiff || 'the row is not uniform');
  await page.click('#wi-reset');
  await settled('Depth attention α');
  check(!sameRows(await pageRows(page), native.rows(POS)), 'desktop: "trained value" restores the native alpha exactly');
  await page.click('#wi-zero');
  await settled('×0.00');
  check(!sameRows(await pageRows(page), whatIfNative.rows(POS)), 'desktop: "zero it" gives the same what-if alpha again');

  await page.setInputFiles('#model-file', { name: 'bad.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('not a model at all') });
  await page.waitForFunction(() => document.getElementById('model-info').classList.contains('error'), null, { timeout: 60000 });
  const message = await page.textContent('#model-info');
  await page.selectOption('#model', 'full');
  await page.waitForFunction(() => document.getElementById('model-info').textContent.includes('Full AttnRes'), null, { timeout: 60000 });
  check(message.startsWith('bad.safetensors: ') && message.length > 30,
        `desktop: a file that is not a model gives a message ("${message}"), and another model loads after it`);
  check(errors.length === 0, 'desktop: no uncaught errors in the page', errors.join('; '));
  await page.close();
}

async function phone(browser, base) {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, deviceScaleFactor: 1 });
  const page = watch(await context.newPage(), base);
  const q = new URLSearchParams({ model: 'full', prompt: PROMPT, n: '40', t: '0.8', p: '0.9', seed: '7', run: '1' });
  await page.goto(`${base}?${q}`);
  await whenDone(page, '(seed 7');
  await page.tap('#text span[data-pos="20"]');
  const title = await page.textContent('#inspect-title');
  const widths = await page.evaluate(() => ({
    page: document.scrollingElement.scrollWidth,
    table: document.getElementById('depth-table').scrollWidth,
    box: document.querySelector('.depth-wrap').clientWidth,
    columns: document.querySelectorAll('#depth-table thead th').length - 1,
  }));
  check(title.includes('position 20'), `phone: a tap selects a character ("${title}")`);
  check(widths.page <= 390 && widths.table <= widths.box,
        `phone: Full AttnRes's ${widths.columns} source columns fit a 390 px screen (page ${widths.page} px, table ${widths.table} of ${widths.box} px)`);
  await page.screenshot({ path: join(outDir, 'phone.png'), fullPage: true });
  await context.close();
}

async function standard(browser, base) {
  const page = watch(await browser.newPage({ viewport: { width: 1000, height: 800 } }), base);
  await page.goto(`${base}?model=standard&run=1&n=20&pos=5`);
  await whenDone(page, 'forward passes');
  const state = await page.evaluate(() => ({
    note: (document.getElementById('no-depth') || {}).textContent || '',
    table: !!document.getElementById('depth-table'),
    whatIf: document.getElementById('whatif').disabled,
    probs: document.querySelectorAll('#probs li').length,
  }));
  check(state.note.includes('no depth') && !state.table && state.whatIf && state.probs > 0,
        'standard model: says there are no depth weights, shows no table, offers no what-if, still shows the next byte',
        JSON.stringify(state));
  await page.close();
}

async function bigContext(browser, base) {
  if (!nativeBigPath) return;
  const page = watch(await browser.newPage({ viewport: { width: 1280, height: 900 } }), base);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(base);
  await page.waitForFunction(() => document.getElementById('model-info').textContent.includes('Block AttnRes'), null, { timeout: 60000 });
  await page.setInputFiles('#model-file', { name: 'kv-cache-over-4gib.OK.safetensors', mimeType: 'application/octet-stream',
                                            buffer: readFileSync(BIG_MODEL) });
  await page.waitForFunction(() => document.getElementById('model-info').textContent.includes('context 1048576'), null, { timeout: 60000 });
  const { bytes, hex } = await generate(page, BIG_N_NEW);
  check(hex === readNative(nativeBigPath).text,
        `a 2^20-position model from the disk (a 17 GB whole-context state): the page generates the native text (${bytes.length} bytes)`,
        `page ${Buffer.from(bytes).toString('latin1')}`);
  await page.fill('#n-new', String(1048576 - PROMPT.length));
  await page.click('#generate');
  await page.waitForFunction(() => document.getElementById('status').classList.contains('error') &&
                                   document.body.dataset.state === 'done', null, { timeout: 60000 });
  const status = await page.textContent('#status');
  check(status.includes('more than one allocation can hold'), `asking it for all 2^20 positions gives the library's refusal ("${status}")`);
  check(errors.length === 0, 'a 2^20-position model: no uncaught errors in the page', errors.join('; '));
  await page.close();
}

async function trainView(browser, base) {
  if (!nativeTrain) return;
  const want = readFileSync(`${nativeTrain}.txt`, 'utf8').trimEnd().split('\n').filter((l) => /^(step|val) /.test(l));
  const [, dim, layers, S, window, batch, steps, lr, , seed, , valEvery] = TRAIN_ARGS;
  const page = watch(await browser.newPage({ viewport: { width: 1280, height: 1100 }, acceptDownloads: true }), base);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const q = new URLSearchParams({ train: '1', tl: layers, ts: S, td: dim, tlr: lr, tseed: seed, tsteps: steps, tw: window,
                                  tb: batch, tval: valEvery });
  await page.goto(`${base}?${q}`);
  const steps_ = () => page.evaluate(() => window.attnresTrain.log.filter((l) => l.startsWith('step')).length);
  await page.waitForFunction(() => window.attnresTrain && window.attnresTrain.log.length >= 20, null, { timeout: 120000 });
  const spreadEarly = await page.evaluate(() => window.attnresTrain.state.spread);
  await page.click('#tr-pause');
  await page.waitForFunction(() => document.body.dataset.train === 'paused', null, { timeout: 60000 });
  const atPause = await steps_();
  await page.waitForTimeout(1500);
  const later = await steps_();
  await page.click('#tr-pause');
  check(atPause < steps && later === atPause && (await page.textContent('#tr-pause')) === 'Pause',
        `train: Pause stops the steps (${atPause} taken, still ${later} 1.5 s later), Resume continues`);
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.train), null, { timeout: 300000 });
  const got = await page.evaluate(() => window.attnresTrain.log.slice());
  const first = got.findIndex((l, i) => l !== want[i]);
  check(got.length === want.length && first < 0,
        `train: ${steps} steps of a ${layers}-layer model (dim ${dim}, S=${S}) in the page: every loss, gradient norm and ` +
        `validation loss (${got.length} lines) has the native trainer's bits`,
        first >= 0 ? `line ${first + 1}: page '${got[first]}' native '${want[first]}'` : `${got.length} lines, native ${want.length}`);
  const vals = got.filter((l) => l.startsWith('val')).map((l) => l.split(' ').slice(4).map(Number));
  const info = await page.evaluate(() => ({ spread: window.attnresTrain.state.spread,
    tps: Number(document.getElementById('tr-status').dataset.tokensPerSecond), status: document.getElementById('tr-status').textContent,
    cells: document.querySelectorAll('#tr-alpha td[data-alpha]').length }));
  check(vals.length >= 2 && vals[vals.length - 1][0] < vals[0][0] && vals[vals.length - 1][1] < vals[0][1],
        `train: both validation losses fall (standard ${vals[0][0]} -> ${vals[vals.length - 1][0]}, AttnRes ${vals[0][1]} -> ${vals[vals.length - 1][1]})`);
  check(info.spread > 0.02 && info.spread > spreadEarly && info.cells > 0,
        `train: the alpha rows move away from uniform (largest distance from 1/n: ${spreadEarly.toFixed(4)} at step 20, ${info.spread.toFixed(4)} at the end; ${info.cells} cells)`);
  check(info.tps > 0 && /tokens\/s/.test(info.status), `train: the page reports tokens/s ("${info.status}")`);
  // the curves are drawn: pixels of both models' colours on both canvases
  const inked = await page.evaluate(() => ['tr-loss', 'tr-rms'].map((id) => {
    const c = document.getElementById(id), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let std = 0, ar = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] < 64) continue;
      if (d[i] > 150 && d[i + 2] < 100) std++;        // #c2410c, the standard model
      else if (d[i + 2] > 150 && d[i] < 80) ar++;     // #0b5cad, AttnRes
    }
    return { id, std, ar };
  }));
  check(inked.every((c) => c.std > 50 && c.ar > 50),
        `train: both models' curves are drawn on both canvases (${inked.map((c) => `${c.id}: ${c.std} + ${c.ar} px`).join(', ')})`);
  await page.screenshot({ path: join(outDir, 'train.png'), clip: await page.$eval('#train', (el) => {
    const r = el.getBoundingClientRect(); return { x: r.x, y: r.y + window.scrollY, width: r.width, height: r.height }; }) });
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#tr-save1')]);
  const saved = join(outDir, 'train-download.safetensors');
  await download.saveAs(saved);
  check(readFileSync(saved).equals(readFileSync(`${nativeTrain}.attnres.safetensors`)),
        `train: "Save AttnRes" downloads ${download.suggestedFilename()}, the native trainer's checkpoint byte for byte`);
  await page.click('#tr-open');
  await page.waitForFunction(() => document.getElementById('model-info').textContent.includes('trained-attnres'), null, { timeout: 60000 });
  check(true, `train: "Open AttnRes in the lab" loads it ("${(await page.textContent('#model-info')).slice(0, 80)}")`);
  await page.click('#tr-sample');
  await page.waitForFunction(() => document.getElementById('tr-samples').textContent.split('\n').length >= 3, null, { timeout: 60000 });
  const samples = await page.textContent('#tr-samples');
  check(/^standard: The little robot/m.test(samples) && /^AttnRes: The little robot/m.test(samples),
        `train: a sample from each model ("${samples.replace(/\n/g, ' | ').slice(0, 120)}")`);
  await page.selectOption('#tr-source', 'paste');
  await page.fill('#tr-text', 'too short');
  await page.click('#tr-start');
  await page.waitForFunction(() => document.body.dataset.train === 'error', null, { timeout: 60000 });
  const refusal = await page.textContent('#tr-status');
  check(/needs at least/.test(refusal), `train: a pasted text too short for one window is refused ("${refusal}")`);
  // Train again while a run is going: the new run alone is shown, from its first step
  await page.selectOption('#tr-source', 'corpus');
  await page.fill('#tr-steps', '400');
  await page.click('#tr-start');
  await page.waitForFunction(() => window.attnresTrain.log.length >= 5, null, { timeout: 60000 });
  await page.fill('#tr-steps', '30');
  await page.click('#tr-start');
  await page.waitForFunction(() => document.body.dataset.train === 'done', null, { timeout: 120000 });
  const rerun = await page.evaluate(() => window.attnresTrain.log.filter((l) => l.startsWith('step')).map((l) => Number(l.split(' ')[1])));
  check(rerun.length === 30 && rerun.every((k, i) => k === i + 1),
        `train: Train during a run starts over: the new run's 30 steps alone, in order (${rerun.length} steps shown)`);
  check(errors.length === 0, 'train: no uncaught errors in the page', errors.join('; '));
  await page.close();
}

mkdirSync(outDir, { recursive: true });
const native = readNative(nativePath), whatIfNative = readNative(whatIfPath);
const server = await serve(root, 0);
const base = `http://127.0.0.1:${server.address().port}/`;
// flags for a machine without a network: no background connections, no GPU
const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
try {
  for (const run of [desktop, phone, standard, bigContext, trainView]) {
    try {
      await run(browser, base, native, whatIfNative);
    } catch (e) {
      check(false, `${run.name}: the page did not get through`, e.message.split('\n')[0]);
    }
  }
  check(requests > 0 && foreign.length === 0, `every one of the ${requests} requests went to the local server`, foreign.join(' '));
} finally {
  await browser.close();
  server.close();
}
console.log(`# summary browser: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
