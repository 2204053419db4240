// train_parity.mjs - the page's trainer (web/trainer.js over the wasm module)
// under node, printing what the native build of the same glue prints
// (web_train_parity in web/attnres_train_web.c) and writing the same two
// checkpoints; tests/test_web.sh compares the two outputs line for line and
// the checkpoints byte for byte.
//
//   node web/train_parity.mjs MODULE.js TEXT DIM LAYERS S WINDOW BATCH STEPS LR WARMUP SEED VAL_BYTES VAL_EVERY OUT_PREFIX
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const require = createRequire(import.meta.url);
const { AttnresTrainer, bits32, stepLine, valLine } = require('./trainer.js');
const args = process.argv.slice(2);
if (args.length !== 14) {
  console.error('usage: train_parity.mjs MODULE.js TEXT DIM LAYERS S WINDOW BATCH STEPS LR WARMUP SEED VAL_BYTES VAL_EVERY OUT_PREFIX');
  process.exit(2);
}
const [modulePath, textPath, dim, layers, S, window, batch, steps, lr, warmup, seed, valBytes, valEvery, prefix] = args;
const create = require(resolve(modulePath));
const M = await create({ wasmBinary: readFileSync(modulePath.replace(/\.js$/, '.wasm')) });
const t = new AttnresTrainer(M);
const out = [];
try {
  t.setText(readFileSync(textPath));
  t.init({ dim: +dim, layers: +layers, S: +S, window: +window, batch: +batch, steps: +steps, lr: +lr,
           warmup: +warmup, seed: Number(seed), valBytes: +valBytes });
  for (let k = 1; k <= +steps; k++) {
    const s = t.step();
    out.push(stepLine(s));
    if ((+valEvery && k % +valEvery === 0) || k === +steps) {
      const v = t.validate();
      out.push(valLine(k, v));
    }
  }
  const o = t.observe();
  out.push('alpha ' + Array.from(o.alpha, bits32).join(' '));
  out.push('rms0 ' + Array.from(o.rms[0], bits32).join(' '));
  out.push('rms1 ' + Array.from(o.rms[1], bits32).join(' '));
  writeFileSync(`${prefix}.standard.safetensors`, t.checkpoint(0));
  writeFileSync(`${prefix}.attnres.safetensors`, t.checkpoint(1));
} catch (e) {
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
  console.error(`train_parity.mjs: ${e.message}`);
  process.exit(1);
}
process.stdout.write(out.join('\n') + '\n');
