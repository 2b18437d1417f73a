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

// The npm binding encodes with character offsets (encode_char_offsets), and the library then trims
// offsets (ByteLevel / RobertaProcessing trim_offsets) in characters, where ours, like the library's
// byte-offset encode, trims in bytes. The two differ only when a trimmed offset lands inside a multi-byte
// character; ours are mapped to the character form (a begin moves to the next character, an end back to
// its character's start, never before the begin) before the comparison.
function roundOurs(line, texts, seqOf) {
  if (line === undefined || line === '') return line;
  if (line.startsWith('error')) return 'error';
  const bounds = texts.map((t) => {
    const b = Buffer.from(t, 'utf8');
    const down = new Array(b.length + 1), up = new Array(b.length + 1);
    let last = 0;
    for (let i = 0; i <= b.length; i++) {
      if (i === b.length || (b[i] & 0xc0) !== 0x80) last = i;
      down[i] = last;
    }
    let next = b.length;
    for (let i = b.length; i >= 0; i--) {
      if (i === b.length || (b[i] & 0xc0) !== 0x80) next = i;
      up[i] = next;
    }
    return { down, up };
  });
  let k = 0;
  return line.split(' ').map((tok) => {
    const [id, a, e] = tok.split(':');
    const bd = bounds[seqOf(k++)] || bounds[0];
    const s0 = bd.up[+a] ?? +a;
    const e0 = Math.max(bd.down[+e] ?? +e, s0);
    return `${id}:${s0}:${e0}`;
  }).join(' ');
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
    const enc = async (a, b, sp) => {
      try { return await tok.encode(a, b, { addSpecialTokens: sp }); } catch (e) { return null; }
    };
    const es = await enc(s, null, true);
    check('S', i, es ? fmt(es, [m]) : 'error', roundOurs(ours.get(`${i} S`), [s], () => 0), s);
    const en = await enc(s, null, false);
    check('N', i, en ? fmt(en, [m]) : 'error', roundOurs(ours.get(`${i} N`), [s], () => 0), s);
    if (i % 10 === 0 && i + 1 < corpus.length) {
      const t = corpus[i + 1];
      const ep = await enc(s, t, true);
      const seqs = ep ? ep.getSequenceIds() : [];
      check('P', i, ep ? fmt(ep, [m, byteMap(t)]) : 'error',
        roundOurs(ours.get(`${i} P`), [s, t], (k) => (seqs[k] == null ? 0 : seqs[k])), s + ' ||| ' + t);
    }
    if (!es) continue;
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
