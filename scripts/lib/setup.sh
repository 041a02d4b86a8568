# Shared set-up for scripts/serve and scripts/test: installs what is missing, from crates.io
# and Debian only (nothing is downloaded from anywhere else). Safe to run again: each step
# checks first and does nothing when its tool is already there at the right version.

TRUNK_VERSION=0.21.14   # the newest trunk that builds with Rust 1.95

# Every build shares one target directory outside the clone, so CI repeats and the two
# scripts reuse each other's work.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/layerlens/target}"
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# The wasm-bindgen version the lock file pins; the CLI must match it exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

ensure_wasm_toolchain() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  [ -f Cargo.lock ] || cargo generate-lockfile
  local wbg
  wbg=$(wasm_bindgen_version)
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $wbg\$"; then
    log "installing wasm-bindgen-cli $wbg from crates.io (a few minutes)"
    # Not --locked: its own lock file pins a webpki-roots version crates.io no longer serves.
    cargo install wasm-bindgen-cli --version "$wbg" --force
  fi
  if ! trunk --version 2>/dev/null | grep -q " $TRUNK_VERSION\$"; then
    log "installing trunk $TRUNK_VERSION from crates.io (about 20 minutes on 2 cores, once)"
    cargo install --locked trunk --version "$TRUNK_VERSION" --force
  fi
}

# Installs Debian packages that are missing (apt-get update only when something is).
ensure_debian_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
  fi
}

# npm's binaryen (pinned in scripts/binaryen) for trunk's wasm-opt step; Debian's is too old.
ensure_wasm_opt() {
  local dir="$PWD/scripts/binaryen"
  if ! "$dir/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "(version_132)"; then
    log "installing wasm-opt (npm binaryen 132) into scripts/binaryen"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  export PATH="$dir/node_modules/.bin:$PATH"
}

# Builds the page into dist/: the size-optimised `page` profile, then wasm-opt.
build_page() {
  ensure_wasm_opt
  log "building the page with trunk (release, the page profile, wasm-opt)"
  trunk build --release
}

# A Python virtual environment (packages from PyPI) for the t-SNE quality scoring:
# tests/tsne/tsne_metrics.py needs numpy, scipy and scikit-learn. Pinned so that scores
# do not move with a library release. Prints nothing; sets LAYERLENS_PYTHON.
PY_VENV="${LAYERLENS_PY_VENV:-$HOME/.cache/layerlens/py-venv}"
PY_PACKAGES=(numpy==2.4.6 scipy==1.17.1 scikit-learn==1.9.1)
ensure_python_venv() {
  local stamp="$PY_VENV/.layerlens-packages"
  if [ ! -x "$PY_VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${PY_PACKAGES[*]}" ]; then
    log "creating the Python scoring environment in $PY_VENV (numpy, scipy, scikit-learn from PyPI)"
    python3 -m venv --clear "$PY_VENV"
    "$PY_VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
    echo "${PY_PACKAGES[*]}" >"$stamp"
  fi
  export LAYERLENS_PYTHON="$PY_VENV/bin/python"
}
