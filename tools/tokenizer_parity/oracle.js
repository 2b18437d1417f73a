// oracle.js — runs the Hugging Face tokenizers library (npm @anush008/tokenizers) on the parity corpus
// and compares with tokenize-parity's output, token for token (ids and byte offsets).
//
//   node oracle.js NAME TOKENIZER.json CORPUS.jsonl OURS.txt
//
// Prints mismatches (at most a few per check) and one line "NAME: <check> <passed>/<total>" per check;
// the last line is "RESULT NAME passed failed" where a check is one corpus string × (S, N, P, D, E).
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require(path.join(__dirname, '..', 'node', 'node_modules', '@anush008', 'tokenizers'));

const [name, tokPath, corpusPath, oursPath, invalidPath] = process.argv.slice(2);
const corpus = fs.readFileSync(corpusPath, 'utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
const ours = new Map();
for (const line of fs.readFileSync(oursPath, 'utf8').split('\n')) {
  const m = /^(\d+) ([SNPDE]) ?(.*)$/.exec(line);
  if (m) ours.set(m[1] + ' ' + m[2], m[3]);
}

// char (code point) index -> byte offset
function byteMap(s) {
  const map = [0];
  let b = 0;
  for (const ch of s) { b += Buffer.byteLength(ch, 'utf8'); map.push(b); }
  return map;
}

function fmt(enc, maps) {
  const ids = enc.getIds(), offs = enc.getOffsets(), seq = enc.getSequenceIds();
  const parts = [];
  for (let i = 0; i < ids.length; i++) {
    const m = maps[seq[i] == null ? 0 : seq[i]];
    const [a, b] = offs[i];
    parts.push(`${ids[i]}:${m[a] ?? 'x' + a}:${m[b] ?? 'x' + b}`);
  }
  return parts.join(' ');
}

(async () => {
  const tok = Tokenizer.fromFile(tokPath);
  const stats = {};
  const shown = {};
  function check(kind, i, want, got, text) {
    stats[kind] = stats[kind] || [0, 0];
    if (want === got) { stats[kind][0]++; return; }
    stats[kind][1]++;
    shown[kind] = (shown[kind] || 0) + 1;
    if (shown[kind] <= 3) {
      console.log(`MISMATCH ${name} ${kind} #${i} ${JSON.stringify(text).slice(0, 200)}`);
      console.log(`  hf:   ${String(want).slice(0, 400)}`);
      console.log(`  ours: ${String(got).slice(0, 400)}`);
    }
  }
  for (let i = 0; i < corpus.length; i++) {
    const s = corpus[i];
    const m = byteMap(s);
    const es = await tok.encode(s, null, { addSpecialTokens: true });
    check('S', i, fmt(es, [m]), ours.get(`${i} S`), s);
    const en = await tok.encode(s, null, { addSpecialTokens: false });
    check('N', i, fmt(en, [m]), ours.get(`${i} N`), s);
    if (i % 10 === 0 && i + 1 < corpus.length) {
      const t = corpus[i + 1];
      const ep = await tok.encode(s, t, { addSpecialTokens: true });
      check('P', i, fmt(ep, [m, byteMap(t)]), ours.get(`${i} P`), s + ' ||| ' + t);
    }
    // decode: not for text holding U+0000 (a C string, like PostgreSQL text, cannot carry it)
    if (i % 5 === 0 && !s.includes('\u0000')) {
      const ids = es.getIds().filter((_, k) => es.getAttentionMask()[k] === 1);
      const d = await tok.decode(ids, true);
      const o = ours.get(`${i} D`);
      let od = o;
      try { od = JSON.stringify(JSON.parse(o)); } catch (e) { /* an error line stays as it is */ }
      check('D', i, JSON.stringify(d), od, s);
    }
  }
  if (invalidPath) {
    const inv = fs.readFileSync(invalidPath, 'utf8').split('\n').filter((l) => l.length);
    for (let k = 0; k < inv.length; k++) check('E', k, '22021', ours.get(`${k} E`), inv[k]);
  }
  let p = 0, f = 0;
  for (const [k, [a, b]] of Object.entries(stats)) {
    console.log(`${name}: ${k} ${a}/${a + b}`);
    p += a; f += b;
  }
  console.log(`RESULT ${name} ${p} ${f}`);
})();
