#!/usr/bin/env bash
# build/core/pgml-embed (embeddings without a server) on a tiny fixture model, against the embeddings
# sentence-transformers gave (core/tests/fixtures/embed/tiny-bert-mean/expected.json, case 0).
set -uo pipefail
cd "$(dirname "$0")/../.."
fix=core/tests/fixtures/embed/tiny-bert-mean
passed=0 failed=0
check() { if [ "$1" = 0 ]; then echo "ok   $2"; passed=$((passed + 1)); else echo "FAIL $2"; failed=$((failed + 1)); fi; }

# inputs without newlines, one per line, and their expected rows
tmp=$(mktemp -d)
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["cases"][0]
rows = [(t, e) for t, e in zip(c["inputs"], c["embeddings"]) if "\n" not in t and "\r" not in t]
open(sys.argv[2] + "/in.txt", "w").write("".join(t + "\n" for t, _ in rows))
json.dump([e for _, e in rows], open(sys.argv[2] + "/want.json", "w"))
' "$fix/expected.json" "$tmp"
# a copy: pgml-embed writes the model's derived weights (f32 panels) into <model>/.pgml, not into the tree
cp -R "$fix" "$tmp/model"
fix=$tmp/model
build/core/pgml-embed --threads 2 "$fix" < "$tmp/in.txt" > "$tmp/got.txt" 2> "$tmp/err.txt"
check $? "pgml-embed runs on a model directory"
python3 -c '
import json, sys
want = json.load(open(sys.argv[1] + "/want.json"))
got = [json.loads(l) for l in open(sys.argv[1] + "/got.txt")]
assert len(got) == len(want), (len(got), len(want))
worst = max(abs(a - b) for g, w in zip(got, want) for a, b in zip(g, w))
assert worst <= 1e-4, worst
print("    %d texts, max |diff| %.2g" % (len(got), worst))
' "$tmp"
check $? "pgml-embed output equals sentence-transformers"
build/core/pgml-embed --info "$fix" > "$tmp/info.json"
grep -q '"pooling": "mean"' "$tmp/info.json"
check $? "pgml-embed --info reports the pooling"
grep -q '"derived_reused": true, "panels": true' "$tmp/info.json" && [ -f "$fix/.pgml/encoder-float32.pgmlw" ]
check $? "pgml-embed: the f32 panels file written by the first run is mapped by the next"
build/core/pgml-embed --no-derived --info "$fix" | grep -q '"derived_mapped_bytes": 0, "derived_reused": false, "panels": false'
check $? "pgml-embed --no-derived: no panels"
build/core/pgml-embed --offline nobody/no-such-model < /dev/null > /dev/null 2>"$tmp/err.txt"
[ $? = 1 ] && grep -q 'not in the model cache' "$tmp/err.txt"
check $? "pgml-embed: a missing model is a clear error"
rm -rf "$tmp"
echo "embed-cli: $passed passed, $failed failed"
