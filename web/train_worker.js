// train_worker.js - the Train view's Web Worker: the page's trainer
// (attnres_train.js, web/attnres_train_web.c) driven by web/trainer.js, off
// the page's thread so the page stays responsive while it trains.
//
// Messages in:  {type: 'start', run, params, text (Uint8Array)}, {type: 'pause'},
//               {type: 'resume'}, {type: 'sample', which, prompt (Uint8Array),
//               nNew, temperature, seed}, {type: 'save', which}
// Messages out: {type: 'ready'}, {type: 'started', L, N}, {type: 'step', ...}
//               after every step, {type: 'val', step, val} after a
//               validation, {type: 'done'}, {type: 'paused'}, {type: 'resumed'},
//               {type: 'sample', which, bytes}, {type: 'checkpoint', which,
//               bytes}, {type: 'error', message}; each carries the run number
//               of the 'start' it belongs to, so the page can drop what an
//               earlier run posted before a new start reached the worker
'use strict';
importScripts('trainer.js', 'attnres_train.js');

let trainer = null, params = null, paused = false, wake = null, run = 0;
// the loop of the latest start: a loop whose number is no longer this one
// stops at its next step (a timer of an old loop may fire after the new one
// began, so a shared "running" flag would not do)
let generation = 0;
const post = (message) => postMessage(Object.assign(message, { run }));
const ready = createAttnresTrain().then((M) => { trainer = new AttnresTrainer(M); postMessage({ type: 'ready', run: 0 }); });

// hand the thread back now and then, so that pause and sample messages arrive
const yieldToMessages = () => new Promise((resolve) => setTimeout(resolve, 0));

async function train() {
  const me = ++generation;
  const tokensPerStep = 2 * params.batch * params.window;   // both models
  let seconds = 0, lastYield = performance.now();
  for (let k = 1; k <= params.steps; k++) {
    while (paused && me === generation) await new Promise((resolve) => { wake = resolve; });
    if (me !== generation) return;
    const t0 = performance.now();
    const s = trainer.step();
    seconds += (performance.now() - t0) / 1000;
    const o = trainer.observe();
    post({ type: 'step', step: s.step, steps: params.steps, loss: s.loss, gradNorm: s.gradNorm,
           bits: stepLine(s),
           alpha: o.alpha, cols: o.cols, counts: o.counts, rms: o.rms,
           tokensPerSecond: k * tokensPerStep / Math.max(seconds, 1e-9) });
    if (k % params.valEvery === 0 || k === params.steps) {
      const v = trainer.validate();
      post({ type: 'val', step: k, val: v,
             bits: valLine(k, v) });
    }
    if (performance.now() - lastYield > 25) {
      await yieldToMessages();
      if (me !== generation) return;
      lastYield = performance.now();
    }
  }
  post({ type: 'done' });
}

onmessage = async (e) => {
  const m = e.data;
  await ready;
  try {
    if (m.type === 'start') {
      generation++;   // a run in progress ends at its next step
      paused = false;
      if (wake) { wake(); wake = null; }
      params = m.params;
      run = m.run;
      trainer.setText(m.text);
      trainer.init(params);
      post({ type: 'started', L: trainer.L, N: trainer.N });
      await train();
    } else if (m.type === 'pause') {
      paused = true;
      post({ type: 'paused' });
    } else if (m.type === 'resume') {
      paused = false;
      if (wake) { wake(); wake = null; }
      post({ type: 'resumed' });
    } else if (m.type === 'sample') {
      post({ type: 'sample', which: m.which,
             bytes: trainer.sample(m.which, m.prompt, m.nNew, m.temperature, m.seed) });
    } else if (m.type === 'save') {
      post({ type: 'checkpoint', which: m.which, bytes: trainer.checkpoint(m.which) });
    }
  } catch (err) {
    if (m.type === 'start') generation++;   // a failed start or step ends the run; a failed sample or save does not
    post({ type: 'error', message: err.message });
  }
};
