'use strict';
// Writes goldens of the Hugging Face tokenizers library over every Unicode
// scalar value: for each code point c, the ids of the text "c ac b" (c
// alone, then between two letters) and the words that the normalizer and
// pre-tokenizer make of it. See README.md.

const fs = require('fs');
const zlib = require('zlib');
const crypto = require('crypto');
const tokenizers = require('tokenizers');
const { isSurrogate, MAX_RUNE } = require('./tables.js');

// PLACEHOLDER stands for the probed character in the stored text form and
// words; it cannot occur in real words (clean_text removes it).
const PLACEHOLDER = '\u0000';
const FORM = PLACEHOLDER + ' a' + PLACEHOLDER + 'b';
const ROW = 256;

// Non-starters whose order NFD decides and that accent stripping keeps:
// paired with every code point that NFD might reorder around them.
const STEM = 0x1d165; // MUSICAL SYMBOL COMBINING STEM, combining class 216
const FLAG = 0x1d16d; // MUSICAL SYMBOL COMBINING AUGMENTATION DOT, 226

function words(normalizer, pre, text) {
  return pre.preTokenizeString(normalizer.normalizeString(text)).map((w) => w[0]);
}

async function main() {
  const [tokenizerPath, out] = process.argv.slice(2);
  if (!tokenizerPath || !out) {
    console.error('usage: node golden.js tokenizer.json OUT.jsonl.gz');
    process.exit(2);
  }
  const json = fs.readFileSync(tokenizerPath);
  const cfg = JSON.parse(json);
  if (cfg.normalizer.type !== 'BertNormalizer' || cfg.pre_tokenizer.type !== 'BertPreTokenizer') {
    throw new Error('expected a BERT tokenizer.json');
  }
  const n = cfg.normalizer;
  const normalizer = tokenizers.bertNormalizer({
    cleanText: n.clean_text,
    handleChineseChars: n.handle_chinese_chars,
    stripAccents: n.strip_accents === null ? n.lowercase : n.strip_accents,
    lowercase: n.lowercase,
  });
  const pre = tokenizers.bertPreTokenizer();
  const tok = tokenizers.Tokenizer.fromFile(tokenizerPath);
  const special = new Set(cfg.added_tokens.map((a) => a.id));
  const version = require('tokenizers/package.json').version;

  const encode = async (texts) => (await tok.encodeBatch(texts)).map((e) => {
    const ids = e.getIds();
    if (!special.has(ids[0]) || !special.has(ids[ids.length - 1])) throw new Error('no [CLS]/[SEP]');
    return ids.slice(1, -1);
  });

  const lines = [];
  lines.push(JSON.stringify({
    library: 'tokenizers (npm)', version, tokenizer_sha256: crypto.createHash('sha256').update(json).digest('hex'),
    form: FORM, row: ROW,
    note: 'rows: ids[i] are the ids between [CLS] and [SEP] of form with U+0000 replaced by code point first+i; ' +
      'words[i], where given, are the normalized, pre-tokenized words with that code point written as U+0000 ' +
      '(default: the form\'s own words); texts: explicit texts',
  }));

  let total = 0;
  for (let first = 0; first <= MAX_RUNE; first += ROW) {
    if (isSurrogate(first)) continue;
    const texts = [];
    const chars = [];
    for (let cp = first; cp < first + ROW; cp++) {
      const c = String.fromCodePoint(cp);
      chars.push(c);
      texts.push(FORM.split(PLACEHOLDER).join(c));
    }
    const ids = await encode(texts);
    const row = { first, ids };
    const ws = {};
    for (let i = 0; i < texts.length; i++) {
      const got = words(normalizer, pre, texts[i]).map((w) => w.split(chars[i]).join(PLACEHOLDER));
      if (JSON.stringify(got) !== JSON.stringify([PLACEHOLDER, 'a' + PLACEHOLDER + 'b'])) ws[i] = got;
    }
    if (Object.keys(ws).length > 0) row.words = ws;
    lines.push(JSON.stringify(row));
    total += texts.length;
  }

  // Canonical reordering: every non-starter of either NFD table next to two
  // non-starters that survive accent stripping.
  const nfd = tokenizers.nfdNormalizer();
  const explicit = [];
  for (let cp = 0x300; cp <= MAX_RUNE; cp++) {
    if (isSurrogate(cp)) continue;
    const c = String.fromCodePoint(cp);
    const hfD = nfd.normalizeString(c), jsD = c.normalize('NFD');
    const hfNonStarter = nfd.normalizeString('a\u0345' + c) !== 'a\u0345' + hfD ||
      nfd.normalizeString('a' + c + '\u0301') !== 'a' + hfD + '\u0301';
    const jsNonStarter = ('a\u0345' + c).normalize('NFD') !== 'a\u0345' + jsD ||
      ('a' + c + '\u0301').normalize('NFD') !== 'a' + jsD + '\u0301';
    if (!hfNonStarter && !jsNonStarter) continue;
    const stem = String.fromCodePoint(STEM), flag = String.fromCodePoint(FLAG);
    explicit.push('a' + flag + c + stem + 'b', 'a' + c + flag + 'b', 'a' + stem + c + 'b');
  }
  const explicitIDs = await encode(explicit);
  for (let i = 0; i < explicit.length; i++) {
    lines.push(JSON.stringify({ text: explicit[i], ids: explicitIDs[i], words: words(normalizer, pre, explicit[i]) }));
  }

  fs.writeFileSync(out, zlib.gzipSync(lines.join('\n') + '\n', { level: 9 }));
  console.error(`${out}: ${total} code points, ${explicit.length} explicit texts, ${fs.statSync(out).size} bytes`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
