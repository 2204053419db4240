// app.js - the attnres lab page: load a model into the WebAssembly build of
// attnres.h (web/attnres_web.c), generate bytes, and show for any position
// the depth-attention weights alpha of every sublayer and the next-byte
// distribution, with and without a changed pseudo-query.
//
// URL parameters fill the form and can start a run, so a link (or a test)
// reproduces a view: ?model=block&prompt=The%20robot&n=40&t=0.8&p=0.9&seed=42
// &run=1&pos=20&row=3&scale=0. When a run (and its what-if) has finished,
// <body data-state="done">.
'use strict';

// web_config() indices, as in web/attnres_web.c
const CFG = { DIM: 0, N_LAYERS: 1, VOCAB: 2, SEQ_LEN: 3, RESIDUAL: 4, BLOCK_SIZE: 5, L: 6, N: 7 };
const RESIDUAL_ATTNRES = 1;
const TOP_K = 8;

const $ = (id) => document.getElementById(id);
let M = null;          // the WebAssembly module
let model = null;      // { name, L, N, S, vocab, seqLen, attnres, counts }
let run = null;        // { tokens, nPrompt, alpha[pos], logits[pos] } with the trained queries
let whatIf = null;     // { row, scale, alpha[pos], logits[pos] } the same text rerun, or null
let selected = -1;     // the position shown
let busy = false;      // a model load or a generation is running: the module's state is theirs
let whatIfPending = null;   // a what-if rerun is running; a slider move during it queues one more

// ------------------------------------------------------------ the module

function webError() { return M.ccall('web_error', 'string', [], []); }

// bytes: Uint8Array of a .safetensors file, written into the module's
// in-memory file system for attnres_model_load under (a tame copy of) its
// own name, so that the loader's messages name it. Returns null or an error
// message.
function loadModel(name, bytes) {
  const path = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.*/, '') || 'model';
  M.FS.writeFile(path, bytes);
  const rc = M.ccall('web_load', 'number', ['string'], [path]);
  M.FS.unlink(path);
  if (rc !== 0) { model = null; return webError(); }
  const L = M._web_config(CFG.L), attnres = M._web_config(CFG.RESIDUAL) === RESIDUAL_ATTNRES;
  model = {
    name, L, attnres,
    N: M._web_config(CFG.N), S: M._web_config(CFG.BLOCK_SIZE),
    vocab: M._web_config(CFG.VOCAB), seqLen: M._web_config(CFG.SEQ_LEN),
    nLayers: M._web_config(CFG.N_LAYERS), dim: M._web_config(CFG.DIM),
    counts: null,
  };
  return null;
}

// Copies what the last forward pass left: alpha [L+1, N+1] and logits [vocab].
// The heap is read afresh every time: it moves when the memory grows.
function snapshot() {
  const logits = M.HEAPF32.slice(M._web_logits() >> 2, (M._web_logits() >> 2) + model.vocab);
  if (!model.attnres) return { alpha: null, logits };
  const rows = model.L + 1, cols = model.N + 1;
  const alpha = M.HEAPF32.slice(M._web_alpha() >> 2, (M._web_alpha() >> 2) + rows * cols);
  if (!model.counts) model.counts = M.HEAP32.slice(M._web_alpha_count() >> 2, (M._web_alpha_count() >> 2) + rows);
  return { alpha, logits };
}

// One forward pass per position of tokens; with sample = true the bytes after
// the prompt are drawn as it goes (tokens grows to n). onStep(pos) lets the
// page draw; it yields to the browser every few positions.
async function forwardAll(tokens, nPrompt, n, sample, onStep) {
  const alpha = [], logits = [];
  for (let pos = 0; pos < n; pos++) {
    if (M._web_forward(tokens[pos], pos) !== 0) throw new Error(webError());
    const s = snapshot();
    alpha.push(s.alpha);
    logits.push(s.logits);
    if (sample && pos + 1 < n && pos + 1 >= nPrompt) tokens[pos + 1] = M._web_sample();
    if (onStep) onStep(pos);
    if (pos % 16 === 15) await new Promise((r) => setTimeout(r, 0));
  }
  return { alpha, logits };
}

// ------------------------------------------------------------ form

function number(id, lo, hi, integer) {
  const el = $(id), v = Number(el.value);
  if (el.value.trim() === '' || !Number.isFinite(v) || v < lo || v > hi || (integer && !Number.isInteger(v)))
    throw new Error(`${el.closest('label').firstChild.textContent.trim()}: give ${integer ? 'an integer' : 'a number'} from ${lo} to ${hi}`);
  return v;
}

function setStatus(text, isError) {
  $('status').textContent = text;
  $('status').classList.toggle('error', !!isError);
}

function describeModel() {
  const m = model;
  let kind = 'standard residuals: no depth attention';
  if (m.attnres) kind = m.S === 1 ? `Full AttnRes: ${m.N} blocks of 1 sublayer`
                                  : `Block AttnRes: ${m.N} blocks of ${m.S} sublayers`;
  $('model-info').textContent = `${m.name}: ${m.nLayers} layers (L = ${m.L} sublayers), dim ${m.dim}, ` +
                                `context ${m.seqLen} bytes; ${kind}`;
  $('model-info').classList.remove('error');
}

function fillWhatIfRows() {
  const sel = $('wi-row');
  sel.textContent = '';
  if (!model.attnres) {
    sel.append(new Option('(a standard model has none)', '-1'));
    $('whatif').disabled = true;
    return;
  }
  $('whatif').disabled = false;
  for (let l = 0; l <= model.L; l++) sel.append(new Option(rowName(l), String(l)));
  sel.value = String(model.L);   // the output: its mix feeds the next-byte distribution directly
}

// While one run uses the module, nothing else may start another: a model
// load, a generation and a what-if rerun all drive the same state.
function lock(on) {
  busy = on;
  for (const id of ['model', 'generate', 'whatif']) $(id).disabled = on;
  if (!on) {
    $('generate').disabled = !model;
    $('whatif').disabled = !model || !model.attnres;
  }
}

async function chooseModel(name, file) {
  if (busy || whatIfPending) return;
  lock(true);
  $('model-info').textContent = 'loading…';
  try {
    let bytes;
    if (file) bytes = new Uint8Array(await file.arrayBuffer());
    else {
      const response = await fetch(`models/${name}.safetensors`);
      if (!response.ok) throw new Error(`models/${name}.safetensors: HTTP ${response.status} (run make web, which copies models/ next to the page)`);
      bytes = new Uint8Array(await response.arrayBuffer());
    }
    const error = loadModel(file ? file.name : `${name}.safetensors`, bytes);
    if (error) throw new Error(error);
    describeModel();
    fillWhatIfRows();
    run = null; whatIf = null; selected = -1;
    $('wi-scale').value = '1';
    $('wi-value').textContent = '1.00';
    drawText();
    drawInspector();
  } catch (e) {
    model = null;
    $('model-info').textContent = e.message;
    $('model-info').classList.add('error');
  } finally {
    lock(false);
  }
}

async function generate() {
  if (busy || whatIfPending || !model) return;
  let n, temperature, topP, seed;
  const prompt = new TextEncoder().encode($('prompt').value);
  try {
    n = number('n-new', 0, model.seqLen, true);
    temperature = number('temperature', 0, 100, false);
    topP = number('top-p', 0, 1, false);
    seed = number('seed', 0, 4294967295, true);
    if (prompt.length < 1) throw new Error('the prompt is empty: it needs at least one byte');
    if (prompt.length > model.seqLen) throw new Error(`the prompt has ${prompt.length} bytes; the context holds ${model.seqLen}`);
    if (prompt.length + n > model.seqLen)
      throw new Error(`prompt (${prompt.length} bytes) + ${n} new bytes exceed the context of ${model.seqLen}; at most ${model.seqLen - prompt.length} new bytes fit`);
  } catch (e) { setStatus(e.message, true); return; }

  lock(true);
  setStatus('generating…');
  document.body.dataset.state = 'running';
  try {
    applyScale(-1, 1);   // generate with the trained queries
    const total = prompt.length + n;
    // a KV-cache for the positions this run uses, as attnres-run sizes its own:
    // the model's whole seq_len may not fit in the module's memory at all
    if (M._web_context(total) !== 0) throw new Error(webError());
    if (M._web_sampler(temperature, topP, seed) !== 0) throw new Error(webError());
    const tokens = Array.from(prompt);
    run = { tokens, nPrompt: prompt.length, alpha: [], logits: [] };
    whatIf = null;
    selected = -1;
    const t0 = performance.now();
    const out = await forwardAll(tokens, prompt.length, total, true, (pos) => {
      if (pos % 8 === 7 || pos === total - 1) drawText(pos + 1);
    });
    run.alpha = out.alpha;
    run.logits = out.logits;
    const ms = performance.now() - t0;
    select(run.tokens.length - 1);
    await rerunWhatIf();
    setStatus(`${total} forward passes in ${ms.toFixed(0)} ms (seed ${seed}, temperature ${temperature}, top-p ${topP})`);
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    lock(false);
    document.body.dataset.state = 'done';
  }
}

// ------------------------------------------------------------ what if

// Row `row` of the pseudo-queries scaled by `scale`; row -1 resets them all.
function applyScale(row, scale) {
  if (!model.attnres) return;
  for (let l = 0; l <= model.L; l++)
    if (M._web_set_query_scale(l, l === row ? scale : 1) !== 0) throw new Error(webError());
}

async function rerunWhatIf() {
  const row = Number($('wi-row').value), scale = Number($('wi-scale').value);
  $('wi-value').textContent = scale.toFixed(2);
  if (!run || !model.attnres || scale === 1) {
    whatIf = null;
    drawInspector();
    return;
  }
  applyScale(row, scale);
  try {
    if (M._web_context(run.tokens.length) !== 0) throw new Error(webError());   // the run's size: kept, emptied
    const out = await forwardAll(run.tokens, run.tokens.length, run.tokens.length, false, null);
    whatIf = { row, scale, alpha: out.alpha, logits: out.logits };
  } finally {
    applyScale(-1, 1);
  }
  drawInspector();
}

async function onWhatIfChange() {
  $('wi-value').textContent = Number($('wi-scale').value).toFixed(2);
  if (busy) return;   // a generation in progress reruns the what-if when it ends
  if (whatIfPending) { whatIfPending.again = true; return; }
  whatIfPending = { again: false };
  $('generate').disabled = true;
  $('model').disabled = true;
  document.body.dataset.state = 'running';
  try {
    do { whatIfPending.again = false; await rerunWhatIf(); } while (whatIfPending.again);
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    whatIfPending = null;
    $('generate').disabled = !model;
    $('model').disabled = false;
    document.body.dataset.state = 'done';
  }
}

// ------------------------------------------------------------ drawing

// "attn 0", "mlp 0", ..., "output"
function rowName(l) {
  if (l === model.L) return 'output';
  return `${l % 2 === 0 ? 'attn' : 'mlp'} ${l >> 1}`;
}

// A sublayer that is not the first of its block reads the partial sum of
// its block as its last source; Full AttnRes (S = 1) and the output never do.
function hasPartial(l) { return l < model.L && model.S > 1 && l % model.S !== 0; }

function byteText(b) {
  if (b === 10) return { text: '↵\n', esc: true };
  if (b >= 32 && b < 127) return { text: String.fromCharCode(b), esc: false };
  return { text: `\\x${b.toString(16).padStart(2, '0')}`, esc: true };
}

function drawText(upTo) {
  const box = $('text');
  box.textContent = '';
  if (!run) return;
  const n = upTo === undefined ? run.tokens.length : upTo;
  const frag = document.createDocumentFragment();
  for (let pos = 0; pos < n; pos++) {
    const b = run.tokens[pos], t = byteText(b), span = document.createElement('span');
    span.textContent = t.text;
    span.dataset.pos = String(pos);
    span.dataset.byte = String(b);
    if (pos < run.nPrompt) span.classList.add('prompt');
    if (t.esc) span.classList.add('esc');
    if (pos === selected) span.classList.add('selected');
    if (pos === selected + 1) span.classList.add('next');
    frag.append(span);
  }
  box.append(frag);
}

function select(pos) {
  if (!run || pos < 0 || pos >= run.alpha.length || pos === selected) return;
  selected = pos;
  for (const span of $('text').querySelectorAll('span.selected, span.next')) span.classList.remove('selected', 'next');
  const spans = $('text').children;
  if (spans[pos]) spans[pos].classList.add('selected');
  if (spans[pos + 1]) spans[pos + 1].classList.add('next');
  drawInspector();
}

// Five stops of a light-to-dark blue scale (0 light, 1 dark), as in style.css.
const STOPS = [[247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107]];
function colour(a) {
  const x = Math.min(Math.max(a, 0), 1) * (STOPS.length - 1), i = Math.min(Math.floor(x), STOPS.length - 2), f = x - i;
  const c = STOPS[i].map((v, k) => Math.round(v + f * (STOPS[i + 1][k] - v)));
  return { bg: `rgb(${c[0]}, ${c[1]}, ${c[2]})`, fg: a > 0.45 ? '#ffffff' : '#1b1f24' };
}

function drawInspector() {
  const depth = $('depth'), probs = $('probs');
  depth.textContent = '';
  probs.textContent = '';
  $('depth-legend').textContent = '';
  $('depth-caption').textContent = '';
  $('scale').hidden = true;
  if (!model) { $('inspect-title').textContent = 'Depth attention'; return; }
  if (!run || selected < 0) {
    $('inspect-title').textContent = 'Depth attention';
    depth.innerHTML = '<p class="note">Generate, then hover or tap a character.</p>';
    if (!model.attnres) drawNoDepth(depth);
    return;
  }
  const b = run.tokens[selected];
  const what = b === 32 ? 'a space' : b === 10 ? 'a newline' : `“${byteText(b).text}”`;
  $('inspect-title').textContent = `Reading ${what} (byte ${b}) at position ${selected}`;
  if (model.attnres) drawDepthTable(depth); else drawNoDepth(depth);
  drawProbs(probs);
}

function drawNoDepth(box) {
  const p = document.createElement('p');
  p.id = 'no-depth';
  p.textContent = 'This is the standard-residual model: every sublayer adds its output to one running ' +
                  'sum, h ← h + f(h), so no sublayer chooses among earlier ones and there are no depth ' +
                  'weights to show. Pick Block or Full AttnRes to see them.';
  box.append(p);
}

function drawDepthTable(box) {
  const alpha = whatIf ? whatIf.alpha[selected] : run.alpha[selected];
  const trained = run.alpha[selected], cols = model.N + 1;
  const table = document.createElement('table');
  table.className = 'depth';
  table.id = 'depth-table';
  $('depth-caption').textContent = whatIf
    ? `What if the ${rowName(whatIf.row)} pseudo-query were ×${whatIf.scale.toFixed(2)}: hover a cell for its trained value.`
    : `Depth attention α: each row is a sublayer (then the output) reading; the columns are its sources b0..b${model.N}.`;
  const head = table.createTHead().insertRow();
  head.append(document.createElement('th'));
  for (let j = 0; j < cols; j++) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = `b${j}`;
    head.append(th);
  }
  const body = table.createTBody();
  for (let l = 0; l <= model.L; l++) {
    const tr = body.insertRow(), th = document.createElement('th');
    tr.dataset.row = String(l);
    if (whatIf && whatIf.row === l) tr.classList.add('changed');
    th.scope = 'row';
    th.textContent = rowName(l);
    tr.append(th);
    for (let j = 0; j < cols; j++) {
      const td = tr.insertCell();
      if (j >= model.counts[l]) { td.className = 'none'; td.textContent = '·'; continue; }
      const a = alpha[l * cols + j], c = colour(a);
      td.style.background = c.bg;
      td.style.color = c.fg;
      td.textContent = a.toFixed(2);
      td.dataset.alpha = String(a);   // the float32 exactly (shortest decimal that reads back)
      if (hasPartial(l) && j === model.counts[l] - 1) {
        td.classList.add('partial');
        td.title = `partial sum of block ${j} so far: α = ${a.toFixed(4)}`;
      } else {
        td.title = `${j === 0 ? 'b0, the token embedding' : `block b${j}`}: α = ${a.toFixed(4)}`;
      }
      if (whatIf) td.title += ` (trained: ${trained[l * cols + j].toFixed(4)})`;
    }
  }
  const wrap = document.createElement('div');
  wrap.className = 'depth-wrap';
  wrap.append(table);
  box.append(wrap);
  $('scale').hidden = false;
  $('depth-legend').innerHTML = model.S > 1
    ? 'Each row sums to 1. <span class="legend-partial">0.12<sup>p</sup></span> marks the partial sum of the ' +
      'block being built, read by every sublayer that is not the first of its block; b0 is the token embedding.'
    : 'Each row sums to 1. Full AttnRes: every sublayer output is its own block, so there are no partial sums; ' +
      'b0 is the token embedding.';
}

function softmax(logits) {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  const p = Array.from(logits, (x) => Math.exp(x - max));
  const sum = p.reduce((s, x) => s + x, 0);
  return p.map((x) => x / sum);
}

function drawProbs(list) {
  const trained = softmax(run.logits[selected]);
  const shown = whatIf ? softmax(whatIf.logits[selected]) : trained;
  const next = selected + 1 < run.tokens.length ? run.tokens[selected + 1] : -1;
  const order = shown.map((p, i) => i).sort((a, b) => shown[b] - shown[a]).slice(0, TOP_K);
  if (next >= 0 && !order.includes(next)) order.push(next);
  for (const i of order) {
    const li = document.createElement('li');
    if (i === next) { li.classList.add('actual'); li.title = 'the byte that came next in the text'; }
    const tok = document.createElement('span');
    tok.className = 'tok';
    tok.textContent = byteText(i).text.replace('\n', '');
    const track = document.createElement('span');
    track.className = 'track';
    const fill = document.createElement('span');
    fill.className = 'fill';
    fill.style.width = `${(100 * shown[i]).toFixed(1)}%`;
    track.append(fill);
    if (whatIf) {
      const was = document.createElement('span');
      was.className = 'was';
      was.style.left = `${(100 * trained[i]).toFixed(1)}%`;
      was.title = `trained: ${(100 * trained[i]).toFixed(1)}%`;
      track.append(was);
    }
    const p = document.createElement('span');
    p.className = 'p';
    p.textContent = `${(100 * shown[i]).toFixed(1)}%`;
    li.append(tok, track, p);
    list.append(li);
  }
}

// ------------------------------------------------------------ start

function wire() {
  const text = $('text');
  const pick = (e) => { const pos = e.target.dataset && e.target.dataset.pos; if (pos !== undefined) select(Number(pos)); };
  text.addEventListener('mouseover', pick);
  text.addEventListener('click', pick);
  text.addEventListener('keydown', (e) => {
    if (!run) return;
    if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      select(Math.min(Math.max(selected + (e.key === 'ArrowLeft' ? -1 : 1), 0), run.tokens.length - 1));
      e.preventDefault();
    }
  });
  $('generate').addEventListener('click', generate);
  $('model').addEventListener('change', () => {
    if ($('model').value === 'file') $('model-file').click();
    else chooseModel($('model').value, null);
  });
  $('model-file').addEventListener('change', () => {
    const f = $('model-file').files[0];
    if (f) chooseModel(f.name, f);
  });
  $('wi-scale').addEventListener('input', onWhatIfChange);
  $('wi-row').addEventListener('change', onWhatIfChange);
  $('wi-zero').addEventListener('click', () => { $('wi-scale').value = '0'; onWhatIfChange(); });
  $('wi-reset').addEventListener('click', () => { $('wi-scale').value = '1'; onWhatIfChange(); });
}

async function start() {
  wire();
  const q = new URLSearchParams(location.search);
  const fields = { prompt: 'prompt', n: 'n-new', t: 'temperature', p: 'top-p', seed: 'seed' };
  for (const [key, id] of Object.entries(fields)) if (q.has(key)) $(id).value = q.get(key);
  const name = q.get('model') || 'block';
  if (['standard', 'block', 'full'].includes(name)) $('model').value = name;
  try {
    // the loader finds attnres.wasm next to attnres.js, on this server
    M = await createAttnres();
  } catch (e) {
    $('model-info').textContent = `the WebAssembly module did not start: ${e}`;
    $('model-info').classList.add('error');
    document.body.dataset.state = 'done';
    return;
  }
  await chooseModel($('model').value, null);
  if (model && q.get('run') === '1') {
    await generate();
    if (q.has('row') && model.attnres) {
      $('wi-row').value = q.get('row');
      $('wi-scale').value = q.get('scale') || '1';
      await onWhatIfChange();
    }
    if (q.has('pos')) { selected = -1; select(Number(q.get('pos'))); }
  }
  document.body.dataset.state = 'done';
}

// the Train view (train.js) opens a model it trained here, as if picked from the disk
window.attnresOpenModel = (file) => { $('model').value = 'file'; return chooseModel(file.name, file); };

start();
