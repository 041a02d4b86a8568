#!/usr/bin/env bash
# The whole analysis (activations of pool1, conv10 and prob for 341 validation images + three
# t-SNEs) with the native CLI on the CPU: time and peak memory, with the layers kept exactly,
# and again with pool1 reduced by the sparse random projection, to measure what the sketch
# costs in map quality (trustworthiness and 5-NN accuracy of the pool1 map).
#
#   benches/analysis_bench.sh [DIGITS_DIR]      (default ../shared/datasets/digits)
#
# The data set: 972 of the digits PNGs (97 of each class, 99 of the last), which the 0.65
# split leaves at 341 validation images — the workflow's size. The network: the random-weight
# fixture fine-tuned for one epoch (10-class head; speed does not depend on the weights).
# Results go to benches/results/analysis-DATE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/layerlens/target}"
digits="${1:-../shared/datasets/digits}"
bin="${LAYERLENS_BIN:-$CARGO_TARGET_DIR/release/layerlens}"
[ -x "$bin" ] || cargo build --release --bin layerlens
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for class in 0 1 2 3 4 5 6 7 8 9; do
  mkdir -p "$work/data/$class"
  count=97; [ "$class" = 9 ] && count=99
  ls "$digits/$class" | sort | head -n "$count" | while read -r f; do cp "$digits/$class/$f" "$work/data/$class/"; done
done
echo "data: $(find "$work/data" -name '*.png' | wc -l) images" >&2

"$bin" train --data "$work/data" --weights tests/fixtures/squeezenet/squeezenet1_1_random.safetensors \
  --epochs 1 --batch-size 64 --seed 1 --out "$work/model.safetensors" 2>"$work/train.log"
grep "validation accuracy" "$work/train.log" >&2

run() { # name, extra flags…
  local name=$1; shift
  /usr/bin/time -v "$bin" analyze --data "$work/data" --weights "$work/model.safetensors" --seed 1 \
    --out "$work/$name" "$@" >"$work/$name.table" 2>"$work/$name.log"
  local seconds rss
  seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ { split($2, t, ":"); s = 0; for (i = 1; i <= length(t); i++) s = s * 60 + t[i]; print s }' "$work/$name.log")
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/$name.log")
  echo "| $name | $seconds | $rss | $(grep -m1 'validation images' "$work/$name.log" | cut -d' ' -f1) |"
  grep -E "map \(M =" "$work/$name.log" | sed 's/^ */    /' >&2
}

out="benches/results/analysis-$(date +%F).md"
{
  echo "# Analysis benchmark, $(date +%F)"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')."
  echo "\`layerlens analyze\`, CPU backend, MATLAB t-SNE preset (Barnes-Hut, 1,000 iterations), seed 1."
  echo
  echo "| run | wall time (s) | peak RSS (MiB) | validation images |"
  echo "|---|---:|---:|---:|"
  run exact
  run sketch --max-exact-mib 64 --sketch-width 2048
  echo
  for name in exact sketch; do
    echo "$name:"
    echo '```'
    grep -E "activations: .*/|map \(M =|note:|analysis done" "$work/$name.log" | tail -n 8
    echo '```'
  done
} | tee "$out"

# The fair comparison: both pool1 maps scored against the exact pool1 rows (the sketch run's own
# figure above is against its sketched rows), by the shared Python scorer.
source scripts/lib/setup.sh
ensure_python_venv
cut -d, -f2 "$work/exact/map-pool1.csv" | tail -n +2 | sed "s|^|$work/data/|" >"$work/files.txt"
xargs "$bin" activations --weights "$work/model.safetensors" --layers pool1 --out "$work/pool1.safetensors" <"$work/files.txt" 2>/dev/null
"$LAYERLENS_PYTHON" - "$work" <<'PY' | tee -a "$out"
import json, struct, sys
import numpy as np
sys.path.insert(0, "tests/tsne")
from tsne_metrics import trustworthiness, knn_accuracy
work = sys.argv[1]
raw = open(f"{work}/pool1.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
info = json.loads(raw[8:8 + n])["pool1"]
start, end = info["data_offsets"]
X = np.frombuffer(raw[8 + n + start:8 + n + end], dtype="<f4").reshape(info["shape"][0], -1).astype(np.float64)
print()
print("pool1 maps scored against the exact pool1 rows (tests/tsne/tsne_metrics.py):")
print()
print("| pool1 map from | trustworthiness (k = 12) | 5-NN accuracy |")
print("|---|---:|---:|")
for name in ["exact", "sketch"]:
    rows = [l.rstrip("\n").split(",") for l in open(f"{work}/{name}/map-pool1.csv")][1:]
    E = np.array([[float(r[-2]), float(r[-1])] for r in rows])
    y = [r[2] for r in rows]
    print(f"| {name} rows | {trustworthiness(X, E):.4f} | {knn_accuracy(E, y):.4f} |")
PY
echo "wrote $out" >&2
