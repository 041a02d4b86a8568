#!/usr/bin/env bash
# Benchmark (not a test): `layerlens tsne` against openTSNE and scikit-learn on the same
# matrices, one thread each, every embedding scored by tests/tsne/tsne_metrics.py; then a
# scaling run of layerlens on a seeded 50-D Gaussian mixture. Prints Markdown tables and
# writes them to benches/results/tsne-<date>.md for the README.
#
# This script only prepares things (the Python environment, the layerlens binary, the
# one-thread environment) and hands over to benches/tsne_bench.py, which generates data,
# runs and times every method, and scores the embeddings.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: benches/tsne_bench.sh [options]

Times `layerlens tsne` (exact and Barnes-Hut, CPU) against openTSNE (Barnes-Hut, FFT) and
scikit-learn (Barnes-Hut, exact) on tests/fixtures/digits.csv, scores all with
tests/tsne/tsne_metrics.py (one P), then times layerlens `--method auto` on a seeded 50-D
Gaussian mixture at N = 1k, 3k, 10k, 30k, 100k. Everything runs on one thread.

Options handled here:
  -h, --help                this text
  --no-build                never run cargo: fail if the layerlens binary is missing
  --no-layerlens            only the Python libraries (no binary needed)

Options passed on to benches/tsne_bench.py:
  --quick                   skip scikit-learn exact (about 75 s on digits, 2-core machine)
  --skip-digits | --skip-scaling
  --scaling-opentsne        also time openTSNE at each scaling N
  --scaling-opentsne-methods bh,fft   (default both)
  --sizes 1000,3000,...     scaling sizes (default 1000,3000,10000,30000,100000)
  --max-n N                 drop scaling sizes above N (default $LAYERLENS_BENCH_MAX_N or 100000)
  --score-max-n N           trustworthiness/5-NN in the scaling run up to N (default 10000)
  --seed N                  t-SNE seed for every method (default 0)
  --repeat R                runs per row, median time reported (default 1)
  --reference-seeds K       openTSNE Barnes-Hut on digits with K seeds; the goal is checked
                            against their mean (default 5)
  --timeout S               seconds per run before it is killed (default none)
  --layerlens-args "..."    extra flags for every `layerlens tsne` (or $LAYERLENS_TSNE_ARGS)
  --work-dir DIR            keep embeddings and logs there (default: temp dir, removed)
  --results FILE            Markdown output (default benches/results/tsne-<date>.md)

Environment:
  LAYERLENS_BENCH_VENV      Python venv (default ~/.cache/layerlens/bench-venv), created and
                            filled from PyPI on first use: numpy, scipy, scikit-learn, openTSNE
  LAYERLENS_BENCH_PYTHON    interpreter that creates the venv (default python3)
  LAYERLENS_BIN             layerlens binary (default
                            ${CARGO_TARGET_DIR:-~/.cache/layerlens/target}/release/layerlens);
                            built with `cargo build --release --bin layerlens` only if missing
  LAYERLENS_BENCH_MAX_N     largest scaling N (default 100000)
  LAYERLENS_BENCH_QUICK=1   same as --quick

Examples:
  benches/tsne_bench.sh                              # everything (~15-30 min on 2 cores)
  benches/tsne_bench.sh --quick --max-n 10000        # a few minutes
  benches/tsne_bench.sh --no-layerlens --quick --skip-scaling   # Python libraries only
EOF
}

cd "$(dirname "$0")/.."   # the repository root: every path below is relative to it

build=1
layerlens=1
forward=()
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --no-build) build=0 ;;
    --no-layerlens) layerlens=0; forward+=("$arg") ;;
    *) forward+=("$arg") ;;
  esac
done
if [ "${LAYERLENS_BENCH_QUICK:-0}" = 1 ]; then forward+=(--quick); fi

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The scoring code and the data must be the repository's own copies: results must not
# depend on anything outside the clone.
[ -f tests/tsne/tsne_metrics.py ] || die "tests/tsne/tsne_metrics.py is missing (the repository copy of the scoring code)"
[ -f tests/fixtures/digits.csv ] || die "tests/fixtures/digits.csv is missing"

# One thread everywhere: the goal is "openTSNE's quality at no more than openTSNE's time on
# one core's worth of work", and a 2-core machine would otherwise let BLAS/OpenMP pools and
# the benchmark fight over cores. tsne_bench.py also sets these before importing numpy.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMEXPR_NUM_THREADS=1 \
       VECLIB_MAXIMUM_THREADS=1 RAYON_NUM_THREADS=1

# --- Python environment (PyPI only) -------------------------------------------------------
# Pinned to the versions of the reference figures (tests/tsne and the shared reference), so
# numbers do not move with a library release; if a pin cannot be installed the latest
# versions are used instead and the output names the versions that ran.
VENV="${LAYERLENS_BENCH_VENV:-$HOME/.cache/layerlens/bench-venv}"
PACKAGES=(numpy==2.4.6 scipy==1.17.1 scikit-learn==1.9.1 openTSNE==1.0.4)
stamp="$VENV/.layerlens-bench-packages"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${PACKAGES[*]}" ]; then
  log "creating the benchmark Python environment in $VENV (${PACKAGES[*]}, from PyPI)"
  "${LAYERLENS_BENCH_PYTHON:-python3}" -m venv --clear "$VENV"
  if "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}"; then
    echo "${PACKAGES[*]}" >"$stamp"
  else
    log "pinned versions unavailable; installing the latest numpy scipy scikit-learn openTSNE"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check numpy scipy scikit-learn openTSNE
    echo "unpinned" >"$stamp"   # not equal to the pin list: the next run retries the pins
  fi
fi
PY="$VENV/bin/python"

# --- layerlens binary ---------------------------------------------------------------------
# Same target directory as scripts/lib/setup.sh, so the benchmark reuses the tests' build.
# Built only when missing: a full release build takes many minutes on 2 cores, and an
# existing binary may be the one under test. Rebuild it yourself after changing src/.
if [ "$layerlens" = 1 ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/layerlens/target}"
  BIN="${LAYERLENS_BIN:-$CARGO_TARGET_DIR/release/layerlens}"
  if [ ! -x "$BIN" ]; then
    [ "$build" = 1 ] || die "$BIN is missing and --no-build was given; build it with
  cargo build --release --bin layerlens   (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)
or run only the Python libraries with --no-layerlens"
    [ -z "${LAYERLENS_BIN:-}" ] || die "LAYERLENS_BIN=$BIN does not exist"
    command -v cargo >/dev/null || die "$BIN is missing and cargo is not on PATH; install Rust or use --no-layerlens"
    log "building layerlens (cargo build --release --bin layerlens; many minutes on 2 cores)"
    cargo build --release --bin layerlens
  fi
  "$BIN" tsne --help >/dev/null 2>&1 \
    || die "$BIN has no working \`tsne\` subcommand (an old build?); rebuild with cargo build --release --bin layerlens"
  if [ -n "$(find src Cargo.toml Cargo.lock -newer "$BIN" -print -quit 2>/dev/null)" ]; then
    log "warning: sources are newer than $BIN; the benchmark times the binary as it is"
  fi
  forward+=(--layerlens "$BIN")
fi

export LAYERLENS_BENCH_COMMAND="benches/tsne_bench.sh${*:+ $*}"
exec "$PY" benches/tsne_bench.py "${forward[@]}"
