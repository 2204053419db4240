// train.js - the page's Train view: two byte-level models, one with standard
// residuals and one with AttnRes, trained side by side in a Web Worker
// (web/train_worker.js) from the same initial weights on the same batches;
// live loss curves, the AttnRes model's depth weights alpha going from
// uniform to selective, the stream RMS across depth of both, tokens/s, a
// sample from each, and the checkpoints to save or open in the lab.
//
// URL parameters fill the form and can start a run, so that a link (or a
// test) reproduces one: ?train=1&tl=4&ts=2&td=16&tlr=0.003&tseed=7&tsteps=200
// &tw=32&tb=4 (tval: validate every N steps). window.attnresTrain.log holds
// the worker's lines (the float bits web_train_parity prints);
// <body data-train="running|paused|done|error">.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const STD = '#c2410c', AR = '#0b5cad';
  const state = { worker: null, ready: false, running: false, paused: false, L: 0, N: 0, run: 0,
                  losses: [[], []], vals: [], last: null, steps: 0 };
  const log = [];   // "step K bits..." and "val K bits..." lines, as web_train_parity prints them
  window.attnresTrain = { log, state };

  function say(text, isError) {
    $('tr-status').textContent = text;
    $('tr-status').classList.toggle('error', !!isError);
  }

  function buttons() {
    const trained = state.last !== null;
    $('tr-start').disabled = !state.ready;
    $('tr-pause').disabled = !state.running;
    $('tr-pause').textContent = state.paused ? 'Resume' : 'Pause';
    for (const id of ['tr-sample', 'tr-save0', 'tr-save1', 'tr-open'])
      $(id).disabled = !trained || (state.running && !state.paused);
  }

  // one number of the form, or an Error naming the field
  function field(id, lo, hi, integer) {
    const el = $(id), x = Number(el.value);
    if (el.value.trim() === '' || !Number.isFinite(x) || x < lo || x > hi || (integer && !Number.isInteger(x)))
      throw new Error(`${el.closest('label') ? el.closest('label').firstChild.textContent.trim() : id}: ` +
                      `${integer ? 'an integer' : 'a number'} from ${lo} to ${hi}`);
    return x;
  }

  async function text() {
    if ($('tr-source').value === 'paste') return new TextEncoder().encode($('tr-text').value);
    const r = await fetch('corpus.txt');
    if (!r.ok) throw new Error(`corpus.txt: HTTP ${r.status} (make web copies it next to the page)`);
    return new Uint8Array(await r.arrayBuffer());
  }

  // Train: a new run at once (what an earlier run still posts is dropped by
  // its number), then the text, then the worker starts it
  async function start() {
    let params;
    const run = ++state.run;
    state.losses = [[], []]; state.vals = []; state.last = null;
    log.length = 0;
    $('tr-samples').textContent = '';
    try {
      params = { layers: field('tr-layers', 1, 16, true), S: field('tr-S', 1, 32, true),
                 dim: field('tr-dim', 16, 64, true), lr: field('tr-lr', 1e-4, 0.1, false),
                 seed: field('tr-seed', 0, 4294967295, true), steps: field('tr-steps', 1, 100000, true),
                 window: field('tr-window', 8, 256, true), batch: field('tr-batch', 1, 64, true) };
      if (params.S > 2 * params.layers) throw new Error(`S: at most L = 2 × layers = ${2 * params.layers}`);
      params.warmup = Math.min(30, Math.max(1, Math.floor(params.steps / 10)));
      params.valBytes = 4096;
      params.valEvery = Math.max(1, Number(new URLSearchParams(location.search).get('tval')) || 25);
      state.steps = params.steps; state.params = params;
      state.running = true; state.paused = false;
      document.body.dataset.train = 'running';
      buttons();
      const bytes = await text();
      if (run !== state.run) return;   // Train was pressed again meanwhile
      say(`training on ${bytes.length} bytes…`);
      state.worker.postMessage({ type: 'start', run, params, text: bytes });
    } catch (e) {
      if (run !== state.run) return;
      state.running = false; buttons();
      say(e.message, true); document.body.dataset.train = 'error';
    }
  }

  // ---------------------------------------------------------------- drawing

  function drawLoss() {
    const c = $('tr-loss'), g = c.getContext('2d'), W = c.width, H = c.height, pad = 28;
    g.clearRect(0, 0, W, H);
    const all = state.losses[0].concat(state.losses[1], state.vals.flatMap((v) => v.val));
    if (!all.length) return;
    const hi = Math.max(...all), lo = Math.min(...all), n = Math.max(state.steps, 1);
    const x = (k) => pad + (W - pad - 6) * (k - 1) / Math.max(n - 1, 1);
    const y = (v) => 6 + (H - pad - 6) * (hi - v) / Math.max(hi - lo, 1e-6);
    g.strokeStyle = '#d0d7de'; g.fillStyle = '#59636e'; g.font = '11px sans-serif';
    g.beginPath(); g.moveTo(pad, 6); g.lineTo(pad, H - pad); g.lineTo(W - 6, H - pad); g.stroke();
    g.fillText(hi.toFixed(2), 2, 14); g.fillText(lo.toFixed(2), 2, H - pad);
    g.fillText(`step ${n}`, W - 60, H - 8); g.fillText('1', pad, H - 8);
    [STD, AR].forEach((colour, i) => {
      g.strokeStyle = colour; g.globalAlpha = 0.45; g.lineWidth = 1; g.beginPath();
      state.losses[i].forEach((v, k) => (k ? g.lineTo(x(k + 1), y(v)) : g.moveTo(x(1), y(v))));
      g.stroke(); g.globalAlpha = 1; g.fillStyle = colour;
      for (const v of state.vals) { g.beginPath(); g.arc(x(v.step), y(v.val[i]), 3.5, 0, 2 * Math.PI); g.fill(); }
    });
  }

  function drawRms(rms) {
    const c = $('tr-rms'), g = c.getContext('2d'), W = c.width, H = c.height, pad = 28;
    g.clearRect(0, 0, W, H);
    const rows = rms[0].length, hi = Math.max(...rms[0], ...rms[1], 1e-6);
    const x = (l) => pad + (W - pad - 10) * l / Math.max(rows - 1, 1), y = (v) => 6 + (H - pad - 6) * (1 - v / hi);
    g.strokeStyle = '#d0d7de'; g.fillStyle = '#59636e'; g.font = '11px sans-serif';
    g.beginPath(); g.moveTo(pad, 6); g.lineTo(pad, H - pad); g.lineTo(W - 6, H - pad); g.stroke();
    g.fillText(hi.toFixed(2), 2, 14); g.fillText('0', 10, H - pad);
    g.fillText('sublayer 0', pad, H - 8); g.fillText('final norm', W - 62, H - 8);
    [STD, AR].forEach((colour, i) => {
      g.strokeStyle = colour; g.fillStyle = colour; g.lineWidth = 2; g.beginPath();
      rms[i].forEach((v, l) => (l ? g.lineTo(x(l), y(v)) : g.moveTo(x(0), y(v))));
      g.stroke();
    });
  }

  // alpha [L+1][cols], row l reads counts[l] sources; a cell's colour is its weight
  function drawAlpha(m) {
    const box = $('tr-alpha'), L = m.counts.length - 1;
    const table = document.createElement('table');
    const head = table.insertRow();
    head.appendChild(document.createElement('th'));
    for (let j = 0; j < m.cols; j++) { const th = document.createElement('th'); th.textContent = `b${j}`; head.appendChild(th); }
    let spread = 0;
    for (let l = 0; l <= L; l++) {
      const row = table.insertRow(), th = document.createElement('th');
      th.textContent = l === L ? 'output' : `${l % 2 ? 'mlp' : 'attn'} ${l >> 1}`;
      row.appendChild(th);
      for (let j = 0; j < m.cols; j++) {
        const td = row.insertCell();
        td.className = 'cell';
        if (j < m.counts[l]) {
          const a = m.alpha[l * m.cols + j];
          spread = Math.max(spread, Math.abs(a - 1 / m.counts[l]));
          const v = Math.round(255 - 200 * Math.min(Math.max(a, 0), 1));
          td.style.background = `rgb(${v}, ${Math.round(v * 0.9 + 25)}, 255)`;
          td.title = `α = ${a.toFixed(3)} (uniform ${(1 / m.counts[l]).toFixed(3)})`;
          td.dataset.alpha = String(a);
        }
      }
    }
    box.replaceChildren(table);
    state.spread = spread;
    $('tr-alpha-note').textContent = `largest distance of any weight from its row's uniform 1/n: ${spread.toFixed(3)} ` +
      '(0 at the start: every pseudo-query starts at zero)';
  }

  // ---------------------------------------------------------------- the worker

  // the status line: the last step's losses, the last validation, tokens/s
  function progress() {
    const m = state.last, v = state.vals.length ? state.vals[state.vals.length - 1] : null;
    if (!m) return;
    say(`step ${m.step}/${m.steps}: loss standard ${m.loss[0].toFixed(3)}, AttnRes ${m.loss[1].toFixed(3)}` +
        (v ? `; validation (step ${v.step}) ${v.val[0].toFixed(3)}, ${v.val[1].toFixed(3)}` : '') +
        `; ${Math.round(m.tokensPerSecond)} tokens/s (both models)`);
    $('tr-status').dataset.tokensPerSecond = String(m.tokensPerSecond);
  }

  function onMessage(e) {
    const m = e.data;
    if (m.run !== 0 && m.run !== state.run) return;   // an earlier run's, posted before this one started
    if (m.type === 'ready') { state.ready = true; say('ready: pick a text and press Train'); buttons(); maybeAutostart(); }
    else if (m.type === 'started') { state.L = m.L; state.N = m.N; }
    else if (m.type === 'step') {
      log.push(m.bits);
      state.losses[0].push(m.loss[0]); state.losses[1].push(m.loss[1]);
      state.last = m;
      drawAlpha(m);
      drawRms(m.rms);
      drawLoss();
      progress();
    } else if (m.type === 'val') { log.push(m.bits); state.vals.push(m); drawLoss(); progress(); }
    else if (m.type === 'done') {
      state.running = false; state.paused = false; buttons();
      say($('tr-status').textContent.replace(/^step/, 'done: step'));
      document.body.dataset.train = 'done';
    } else if (m.type === 'paused') { state.paused = true; buttons(); document.body.dataset.train = 'paused'; }
    else if (m.type === 'resumed') { state.paused = false; buttons(); document.body.dataset.train = 'running'; }
    else if (m.type === 'sample') {
      const text = new TextDecoder().decode(m.bytes);
      $('tr-samples').textContent += `${m.which ? 'AttnRes' : 'standard'}: ${text}\n`;
    } else if (m.type === 'checkpoint') onCheckpoint(m);
    else if (m.type === 'error') {
      state.running = false; buttons(); say(m.message, true); document.body.dataset.train = 'error';
    }
  }

  let openNext = false;
  function onCheckpoint(m) {
    const name = `trained-${m.which ? `attnres-S${state.params.S}` : 'standard'}.safetensors`;
    if (openNext) { openNext = false; window.attnresOpenModel(new File([m.bytes], name)); return; }
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([m.bytes], { type: 'application/octet-stream' }));
    a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  function sample() {
    const prompt = new TextEncoder().encode($('tr-prompt').value);
    const room = state.params.window - prompt.length;
    if (!prompt.length || room < 1) { say(`the prompt must have 1 to ${state.params.window - 1} bytes (the window)`, true); return; }
    $('tr-samples').textContent = '';
    for (const which of [0, 1])
      state.worker.postMessage({ type: 'sample', which, prompt, nNew: room, temperature: 0.8, seed: 42 });
  }

  function maybeAutostart() {
    const q = new URLSearchParams(location.search);
    const fields = { tl: 'tr-layers', ts: 'tr-S', td: 'tr-dim', tlr: 'tr-lr', tseed: 'tr-seed', tsteps: 'tr-steps',
                     tw: 'tr-window', tb: 'tr-batch' };
    for (const [key, id] of Object.entries(fields)) if (q.has(key)) $(id).value = q.get(key);
    if (q.get('train') === '1') start();
  }

  function wire() {
    $('tr-source').addEventListener('change', () => { $('tr-text').hidden = $('tr-source').value !== 'paste'; });
    $('tr-start').addEventListener('click', start);
    $('tr-pause').addEventListener('click', () => state.worker.postMessage({ type: state.paused ? 'resume' : 'pause' }));
    $('tr-sample').addEventListener('click', sample);
    $('tr-save0').addEventListener('click', () => state.worker.postMessage({ type: 'save', which: 0 }));
    $('tr-save1').addEventListener('click', () => state.worker.postMessage({ type: 'save', which: 1 }));
    $('tr-open').addEventListener('click', () => { openNext = true; state.worker.postMessage({ type: 'save', which: 1 }); });
    try {
      state.worker = new Worker('train_worker.js');
      state.worker.onmessage = onMessage;
      state.worker.onerror = (e) => { say(`the trainer did not start: ${e.message}`, true); document.body.dataset.train = 'error'; };
    } catch (e) { say(`the trainer did not start: ${e.message}`, true); }
  }

  wire();
})();
