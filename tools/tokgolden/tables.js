'use strict';
// Derives the character tables of Hugging Face's BertNormalizer and
// BertPreTokenizer from the behaviour of the `tokenizers` library itself and
// writes them as Go source (distilbert/tokenize/hftables.go).
//
// The library's classes come from several Unicode versions at once (Rust's
// std for White_Space and lowercase, the unicode_categories crate for
// Cc/Cf/Co, Mn and P*, unicode-normalization-alignments for NFD), so every
// class is probed code point by code point instead of being read from a
// single Unicode table.

const tokenizers = require('tokenizers');

const MAX_RUNE = 0x10ffff;
const isSurrogate = (cp) => cp >= 0xd800 && cp <= 0xdfff;
const hex = (cp) => '0x' + cp.toString(16);
const HANGUL_S = 0xac00, HANGUL_L = 0x1100, HANGUL_V = 0x1161, HANGUL_T = 0x11a7;
const HANGUL_VCOUNT = 21, HANGUL_TCOUNT = 28, HANGUL_NCOUNT = 21 * 28, HANGUL_SCOUNT = 19 * 21 * 28;

function bert(opts) {
  return tokenizers.bertNormalizer(Object.assign(
    { cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false }, opts));
}

function hangulNFD(cp) {
  const s = cp - HANGUL_S;
  const out = [HANGUL_L + Math.floor(s / HANGUL_NCOUNT), HANGUL_V + Math.floor((s % HANGUL_NCOUNT) / HANGUL_TCOUNT)];
  if (s % HANGUL_TCOUNT !== 0) out.push(HANGUL_T + (s % HANGUL_TCOUNT));
  return String.fromCodePoint(...out);
}

// probe classifies every Unicode scalar value. It throws when the library
// does something the Go tokenizer's model of it cannot express.
function probe() {
  const clean = bert({ cleanText: true });
  const chinese = bert({ handleChineseChars: true });
  const strip = bert({ stripAccents: true });
  const lower = bert({ lowercase: true });
  const nfd = tokenizers.nfdNormalizer();
  const pre = tokenizers.bertPreTokenizer();

  const t = {
    drop: [], space: [], punct: [], chinese: [], mn: [],
    lower: [], lowerMulti: [], decomp: [], nonStarters: [],
  };
  for (let cp = 0; cp <= MAX_RUNE; cp++) {
    if (isSurrogate(cp)) continue;
    const c = String.fromCodePoint(cp);

    const cl = clean.normalizeString(c);
    const dropped = cl === '';
    if (dropped) t.drop.push(cp);
    else if (cl !== c && cl !== ' ') throw new Error(`clean_text maps ${hex(cp)} to ${JSON.stringify(cl)}`);

    const words = pre.preTokenizeString('a' + c + 'b').map((w) => w[0]);
    const key = JSON.stringify(words);
    let space = false;
    if (key === JSON.stringify(['a', 'b'])) {
      t.space.push(cp);
      space = true;
    } else if (key === JSON.stringify(['a', c, 'b'])) {
      if (cp >= 0x80) t.punct.push(cp); // ASCII punctuation is a fixed rule
    } else if (key !== JSON.stringify(['a' + c + 'b'])) {
      throw new Error(`pre-tokenizer splits a${hex(cp)}b into ${key}`);
    }
    // clean_text's whitespace is \t \n \r plus char::is_whitespace, the
    // pre-tokenizer's char::is_whitespace: one class for both.
    if (!dropped && (cl === ' ') !== space) throw new Error(`${hex(cp)}: clean_text and pre-tokenizer disagree on whitespace`);

    const ch = chinese.normalizeString(c);
    if (ch === ' ' + c + ' ') t.chinese.push(cp);
    else if (ch !== c) throw new Error(`handle_chinese_chars maps ${hex(cp)} to ${JSON.stringify(ch)}`);

    const lw = lower.normalizeString(c);
    if (lw !== c) {
      const rs = [...lw].map((x) => x.codePointAt(0));
      if (rs.length === 1) t.lower.push([cp, rs[0]]);
      else if (rs.length === 2) t.lowerMulti.push([cp, rs[0], rs[1]]);
      else throw new Error(`${hex(cp)} lowercases to ${rs.length} characters`);
    }

    const d = nfd.normalizeString(c);
    if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_SCOUNT) {
      if (d !== hangulNFD(cp)) throw new Error(`Hangul ${hex(cp)} does not decompose algorithmically`);
      continue;
    }
    if (d !== c) {
      t.decomp.push([cp, [...d].map((x) => x.codePointAt(0))]);
      continue;
    }
    // Mn matters only for characters without a decomposition: accent
    // stripping looks at the NFD, whose characters never decompose further.
    const st = strip.normalizeString(c);
    if (st === '') t.mn.push(cp);
    else if (st !== c) throw new Error(`strip_accents maps ${hex(cp)} to ${JSON.stringify(st)}`);
    // Non-starters: NFD moves them before U+0345 (the highest combining
    // class, 240) or after U+0301 (230).
    if (nfd.normalizeString('a\u0345' + c) === 'a' + c + '\u0345' ||
        nfd.normalizeString('a' + c + '\u0301') === 'a\u0301' + c) {
      t.nonStarters.push(cp);
    }
  }

  // Every decomposition is full: its characters do not decompose again.
  const decomposable = new Set(t.decomp.map((e) => e[0]));
  for (const [cp, parts] of t.decomp) {
    for (const p of parts) {
      if (decomposable.has(p)) throw new Error(`${hex(cp)} decomposes to ${hex(p)}, which decomposes`);
    }
  }

  // Canonical ordering: sort the non-starters by what NFD does to each pair;
  // equal classes keep their order. The rank of each class (1, 2, ...) is
  // all that reordering needs.
  const before = (x, y) => { // NFD puts x before y when y comes first
    const s = String.fromCodePoint(0x61, y, x);
    return nfd.normalizeString(s) === String.fromCodePoint(0x61, x, y);
  };
  const sorted = t.nonStarters.slice().sort((x, y) => (before(x, y) ? -1 : before(y, x) ? 1 : 0));
  let rank = 1;
  t.ccc = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0) {
      const lt = before(sorted[i - 1], sorted[i]);
      const gt = before(sorted[i], sorted[i - 1]);
      if (gt) throw new Error(`combining classes are not a total order at ${hex(sorted[i])}`);
      if (lt) rank++;
    }
    t.ccc.push([sorted[i], rank]);
  }
  if (rank > 255) throw new Error(`${rank} combining classes do not fit a byte`);
  t.ccc.sort((a, b) => a[0] - b[0]);
  return t;
}

// ranges turns a sorted list of code points into [lo, hi] pairs.
function ranges(cps) {
  const out = [];
  for (const cp of cps) {
    const last = out[out.length - 1];
    if (last && last[1] === cp - 1) last[1] = cp;
    else if (last && last[1] < 0xd800 && cp === 0xe000 && last[1] === 0xd7ff) last[1] = cp; // across the surrogates
    else out.push([cp, cp]);
  }
  return out;
}

// valueRanges turns sorted [cp, value] pairs into [lo, hi, value] runs.
function valueRanges(pairs) {
  const out = [];
  for (const [cp, v] of pairs) {
    const last = out[out.length - 1];
    if (last && last[1] === cp - 1 && last[2] === v) last[1] = cp;
    else out.push([cp, cp, v]);
  }
  return out;
}

// rows formats Go composite literals a few to a line.
function rows(items, perLine) {
  const lines = [];
  for (let i = 0; i < items.length; i += perLine) {
    lines.push('\t' + items.slice(i, i + perLine).join(', ') + ',');
  }
  return lines.join('\n');
}

function goSource(t, version) {
  const rangeList = (name, doc, cps) => {
    const rs = ranges(cps);
    return `// ${name} ${doc}\nvar ${name} = []runeRange{\n${rows(rs.map(([lo, hi]) => `{${hex(lo)}, ${hex(hi)}}`), 6)}\n}\n`;
  };
  let decompRunes = [];
  const decompEntries = t.decomp.map(([cp, parts]) => {
    const e = `{${hex(cp)}, ${decompRunes.length}, ${parts.length}}`;
    decompRunes = decompRunes.concat(parts);
    return e;
  });
  if (decompRunes.length >= 1 << 16) throw new Error('decomposition table too large');
  return `// Code generated by tools/tokgolden/tables.js; DO NOT EDIT.

// The tables are probed, code point by code point, from the behaviour of the
// Hugging Face tokenizers library (npm tokenizers@${version}).

package tokenize

// hfTokenizersVersion is the version of the library the tables were probed from.
const hfTokenizersVersion = "${version}"

${rangeList('hfDropRanges', 'lists what clean_text removes (U+0000, U+FFFD, is_other but \\t \\n \\r).', t.drop)}
${rangeList('hfSpaceRanges', 'lists char::is_whitespace, where both the normalizer and the pre-tokenizer split.', t.space)}
${rangeList('hfPunctRanges', 'lists the non-ASCII characters the pre-tokenizer isolates (is_punctuation).', t.punct)}
${rangeList('hfChineseRanges', 'lists what handle_chinese_chars surrounds with spaces.', t.chinese)}
${rangeList('hfMnRanges', 'lists the characters without decomposition that strip_accents removes (Mn).', t.mn)}
// hfCombiningRanges gives the non-starters of NFD and the rank of their
// canonical combining class (1 for the lowest class; not the Unicode value).
var hfCombiningRanges = []combiningRange{
${rows(valueRanges(t.ccc).map(([lo, hi, v]) => `{${hex(lo)}, ${hex(hi)}, ${v}}`), 4)}
}

// hfLower maps each character whose lowercase is a single other character.
var hfLower = []lowerPair{
${rows(t.lower.map(([a, b]) => `{${hex(a)}, ${hex(b)}}`), 6)}
}

// hfLowerPairs maps each character whose lowercase is two characters.
var hfLowerPairs = []lowerTwo{
${rows(t.lowerMulti.map(([a, b, c]) => `{${hex(a)}, ${hex(b)}, ${hex(c)}}`), 4)}
}

// hfDecompositions gives each full canonical decomposition (Hangul syllables
// excepted) as a slice of hfDecompositionRunes.
var hfDecompositions = []decomposition{
${rows(decompEntries, 5)}
}

var hfDecompositionRunes = [...]rune{
${rows(decompRunes.map(hex), 10)}
}
`;
}

module.exports = { probe, goSource, ranges, hangulNFD, isSurrogate, MAX_RUNE };

if (require.main === module) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node tables.js OUT.go');
    process.exit(2);
  }
  const version = require('tokenizers/package.json').version;
  const t = probe();
  require('fs').writeFileSync(out, goSource(t, version));
  console.error(`${out}: drop ${t.drop.length}, space ${t.space.length}, punct ${t.punct.length}, chinese ${t.chinese.length}, ` +
    `mn ${t.mn.length}, non-starters ${t.nonStarters.length} in ${Math.max(...t.ccc.map((e) => e[1]))} classes, ` +
    `lower ${t.lower.length}+${t.lowerMulti.length}, decompositions ${t.decomp.length}`);
}
