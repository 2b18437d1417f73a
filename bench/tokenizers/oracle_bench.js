// Single-thread throughput of the Hugging Face tokenizers library through npm @anush008/tokenizers:
// node oracle_bench.js SECONDS TOKENIZER.json CORPUS.jsonl → "strings/s tokens/s". encodeBatch runs in
// Rust's thread pool, so this awaits one encode at a time (RAYON_NUM_THREADS=1 as well).
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require(path.join(__dirname, '..', '..', 'tools', 'node', 'node_modules', '@anush008', 'tokenizers'));
const [secs, tokPath, corpusPath] = process.argv.slice(2);
const corpus = fs.readFileSync(corpusPath, 'utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
(async () => {
  const tok = Tokenizer.fromFile(tokPath);
  tok.disableTruncation();
  tok.disablePadding();
  let strings = 0, tokens = 0;
  const t0 = process.hrtime.bigint();
  let el = 0;
  do {
    for (const s of corpus) {
      const e = await tok.encode(s, null, { addSpecialTokens: false });
      tokens += e.getIds().length;
      strings++;
    }
    el = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (el < Number(secs));
  console.log(`${(strings / el).toFixed(1)} ${(tokens / el).toFixed(1)}`);
})();
