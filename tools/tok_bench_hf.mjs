// tools/tok_bench_hf.mjs NODE_MODULES_DIR TOKENIZER.json FILE - Hugging Face's
// tokenizer library (npm's tokenizers) encodes FILE's bytes as one text, as
// tools/tok_bench_hf.sh times it against tests/tok_dump. Prints
// "BYTES bytes -> TOKENS tokens, load L s, encode E s" (wall time in process).
import fs from 'fs';
import path from 'path';
import { createRequire } from 'module';

const [dir, file, input] = process.argv.slice(2);
const { Tokenizer } = createRequire(path.join(path.resolve(dir), 'package.json'))('tokenizers');
const t0 = performance.now();
const tk = Tokenizer.fromFile(file);
const text = fs.readFileSync(input, 'utf8');
const t1 = performance.now();
const ids = (await tk.encode(text, null, { addSpecialTokens: false })).getIds();
const t2 = performance.now();
console.log(`${Buffer.byteLength(text)} bytes -> ${ids.length} tokens, load ${((t1 - t0) / 1000).toFixed(3)} s, ` +
            `encode ${((t2 - t1) / 1000).toFixed(3)} s`);
