// trainer.js - drives the page's trainer (web/attnres_train_web.c, compiled to
// build/web/attnres_train.js) from JavaScript: the Web Worker of the Train
// view (web/train_worker.js) and web/train_parity.mjs under node both use it,
// so the test runs the code the page runs. A classic script: importScripts()
// in the worker, require() in node.
'use strict';

class AttnresTrainer {
  // M: the instantiated module (createAttnresTrain())
  constructor(M) { this.M = M; this.L = 0; this.N = 0; }

  error() { return this.M.ccall('wt_error', 'string', [], []); }

  check(rc) { if (rc !== 0) throw new Error(this.error()); }

  // bytes: Uint8Array, the whole text (the last tenth is held out for validation)
  setText(bytes) {
    const ptr = this.M._wt_text(bytes.length);
    if (!ptr) throw new Error(bytes.length ? 'out of memory for the text' : 'the text is empty');
    this.M.HEAPU8.set(bytes, ptr);
  }

  // p: { dim, layers, S, window, batch, steps, lr, warmup, seed, valBytes }
  init(p) {
    this.check(this.M._wt_init(p.dim, p.layers, p.S, p.window, p.batch, p.steps, p.lr, p.warmup,
                               p.seed >>> 0, p.valBytes));
    this.L = this.M._wt_n_sublayers();
    this.N = this.M._wt_n_blocks();
  }

  // one step of both models; their batch losses and gradient norms
  step() {
    this.check(this.M._wt_step());
    const M = this.M;
    return { step: M._wt_steps_done(), loss: [M._wt_loss(0), M._wt_loss(1)],
             gradNorm: [M._wt_grad_norm(0), M._wt_grad_norm(1)] };
  }

  // what the last step's last window showed: alpha [L+1][N+1] of the AttnRes
  // model (mean over positions), the sources of each row, and the stream RMS
  // [L+1] of both models (copies: the heap moves when memory grows)
  observe() {
    const M = this.M, rows = this.L + 1, cols = this.N + 1;
    const f32 = (ptr, n) => M.HEAPF32.slice(ptr >> 2, (ptr >> 2) + n);
    return { alpha: f32(M._wt_alpha(), rows * cols), cols,
             counts: M.HEAP32.slice(M._wt_alpha_count() >> 2, (M._wt_alpha_count() >> 2) + rows),
             rms: [f32(M._wt_rms(0), rows), f32(M._wt_rms(1), rows)] };
  }

  // the validation losses of both models, nats per byte
  validate() {
    this.check(this.M._wt_validate());
    return [this.M._wt_val_loss(0), this.M._wt_val_loss(1)];
  }

  // model i (0 standard, 1 AttnRes) as checkpoint bytes
  checkpoint(i) {
    const n = this.M._wt_checkpoint(i);
    if (!n) throw new Error(this.error());
    const ptr = this.M._wt_checkpoint_data();
    return this.M.HEAPU8.slice(ptr, ptr + n);
  }

  // model i continues prompt (Uint8Array) by nNew bytes
  sample(i, prompt, nNew, temperature, seed) {
    const ptr = this.M._wt_prompt(prompt.length);
    if (!ptr) throw new Error('an empty prompt');
    this.M.HEAPU8.set(prompt, ptr);
    this.check(this.M._wt_sample(i, prompt.length, nNew, temperature, seed >>> 0));
    const out = this.M._wt_sample_data();
    return this.M.HEAPU8.slice(out, out + prompt.length + nNew);
  }
}

// the float32 / float64 bits of a number, as web_train_parity prints them
function bits32(x) {
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, x, true);
  return v.getUint32(0, true).toString(16).padStart(8, '0');
}
function bits64(x) {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x, true);
  return v.getBigUint64(0, true).toString(16).padStart(16, '0');
}

// the lines web_train_parity prints for a step (s: what step() returns) and
// for a validation after step k (v: what validate() returns); the worker
// posts them, so the page's numbers can be compared with the native ones
function stepLine(s) {
  return `step ${s.step} ${bits32(s.loss[0])} ${bits64(s.gradNorm[0])} ${bits32(s.loss[1])} ${bits64(s.gradNorm[1])}`;
}
function valLine(k, v) {
  return `val ${k} ${bits64(v[0])} ${bits64(v[1])} ${v[0].toFixed(4)} ${v[1].toFixed(4)}`;
}

if (typeof module !== 'undefined') module.exports = { AttnresTrainer, bits32, stepLine, valLine };
