// parity.mjs - the WebAssembly module under node, printing what the native
// build of the same glue prints (web_parity in web/attnres_web.c), then
// comparing the two.
//
//   node web/parity.mjs MODULE.js MODEL PROMPT N_NEW TEMPERATURE TOP_P SEED [ROW SCALE]
//       prints the lines of web_parity, from the wasm module
//   node web/parity.mjs --compare NATIVE.txt WASM.txt
//       compares them: tokens and text must be equal; every logit and alpha
//       is compared by its float bits. Prints the count of floats compared,
//       how many differ in their bits and the largest difference, and the
//       first line that disagrees. Exit 0 only when every bit agrees.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

function fail(message) {
  console.error(`parity.mjs: ${message}`);
  process.exit(2);
}

function hex32(x, view) {
  view.setFloat32(0, x, true);
  return view.getUint32(0, true).toString(16).padStart(8, '0');
}

async function run(args) {
  if (args.length !== 7 && args.length !== 9)
    fail('usage: parity.mjs MODULE.js MODEL PROMPT N_NEW TEMPERATURE TOP_P SEED [ROW SCALE]');
  const [modulePath, modelPath, prompt, nNewText, tText, pText, seedText, rowText, scaleText] = args;
  const createAttnres = createRequire(import.meta.url)(resolve(modulePath));
  // the wasm bytes given, not fetched: this emscripten's loader would pass a
  // file path to node's fetch(), which takes only URLs
  const M = await createAttnres({ wasmBinary: readFileSync(modulePath.replace(/\.js$/, '.wasm')) });
  const bytes = readFileSync(modelPath);
  M.FS.writeFile('/model.safetensors', bytes);
  const say = (rc) => { if (rc !== 0) fail(M.ccall('web_error', 'string', [], [])); };
  say(M.ccall('web_load', 'number', ['string'], ['/model.safetensors']));
  M.FS.unlink('/model.safetensors');
  say(M._web_context(Buffer.from(prompt, 'utf8').length + Number(nNewText)));   // as web_parity
  say(M._web_sampler(Number(tText), Number(pText), Number(seedText) >>> 0));
  if (rowText !== undefined) say(M._web_set_query_scale(Number(rowText), Number(scaleText)));
  const cfg = (i) => M._web_config(i);
  const vocab = cfg(2), residual = cfg(4), L = cfg(6), N = cfg(7);
  const promptBytes = Buffer.from(prompt, 'utf8');   // the bytes C's argv holds
  const nNew = Number(nNewText), n = promptBytes.length + nNew;
  const tokens = Array.from(promptBytes);
  const view = new DataView(new ArrayBuffer(4));
  const out = [];
  const floats = (name, pos, ptr, count) => {
    const heap = M.HEAPF32.subarray(ptr >> 2, (ptr >> 2) + count);   // re-read: memory may grow
    out.push(`${name} ${pos} ` + Array.from(heap, (x) => hex32(x, view)).join(' '));
  };
  for (let pos = 0; pos < n; pos++) {
    say(M._web_forward(tokens[pos], pos));
    if (pos + 1 < n && pos + 1 >= promptBytes.length) tokens[pos + 1] = M._web_sample();
    out.push(`token ${pos} ${tokens[pos]}`);
    floats('logits', pos, M._web_logits(), vocab);
    if (residual === 1) {
      const counts = M.HEAP32.subarray(M._web_alpha_count() >> 2, (M._web_alpha_count() >> 2) + L + 1);
      for (let l = 0; l <= L; l++) floats(`alpha${l}`, pos, M._web_alpha() + 4 * l * (N + 1), counts[l]);
    }
  }
  out.push('text ' + tokens.map((t) => t.toString(16).padStart(2, '0')).join(''));
  process.stdout.write(out.join('\n') + '\n');
}

function compare(nativePath, wasmPath) {
  const a = readFileSync(nativePath, 'utf8').trimEnd().split('\n');
  const b = readFileSync(wasmPath, 'utf8').trimEnd().split('\n');
  const view = new DataView(new ArrayBuffer(4));
  const value = (h) => { view.setUint32(0, parseInt(h, 16), true); return view.getFloat32(0, true); };
  let compared = 0, differ = 0, maxAbs = 0, maxRel = 0, first = null;
  if (a.length !== b.length) first = `native has ${a.length} lines, wasm ${b.length}`;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i].split(' '), y = b[i].split(' ');
    const numeric = x[0] === 'logits' || x[0].startsWith('alpha');
    if (!numeric || x.length !== y.length || x[0] !== y[0] || x[1] !== y[1]) {
      if (a[i] !== b[i] && !first) first = `line ${i + 1}: native '${a[i].slice(0, 60)}' wasm '${b[i].slice(0, 60)}'`;
      continue;
    }
    for (let j = 2; j < x.length; j++) {
      compared++;
      if (x[j] === y[j]) continue;
      const u = value(x[j]), v = value(y[j]), d = Math.abs(u - v);
      differ++;
      maxAbs = Math.max(maxAbs, d);
      maxRel = Math.max(maxRel, d / Math.max(Math.abs(u), 1e-30));
      if (!first) first = `line ${i + 1} (${x[0]} at position ${x[1]}), value ${j - 2}: native ${u} (${x[j]}) wasm ${v} (${y[j]})`;
    }
  }
  console.log(`compared ${compared} floats: ${differ} differ in their bits; ` +
              `max |diff| ${maxAbs.toExponential(2)}, max relative ${maxRel.toExponential(2)}`);
  if (first) { console.log(`first difference: ${first}`); process.exit(1); }
}

const args = process.argv.slice(2);
if (args[0] === '--compare') {
  if (args.length !== 3) fail('usage: parity.mjs --compare NATIVE.txt WASM.txt');
  compare(args[1], args[2]);
} else {
  await run(args);
}
