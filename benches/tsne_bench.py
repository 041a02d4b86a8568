#!/usr/bin/env python3
"""Benchmark `layerlens tsne` against openTSNE and scikit-learn (driven by tsne_bench.sh).

Two parts, both printed as Markdown tables and written to benches/results/tsne-<date>.md:

1. Digits comparison (tests/fixtures/digits.csv, 1,797 x 64): layerlens exact and
   Barnes-Hut, openTSNE (BH and FFT), scikit-learn (Barnes-Hut and, unless --quick, exact),
   all at perplexity 30, PCA initialisation, one seed, one thread. Every embedding is
   scored by the repository's tests/tsne/tsne_metrics.py with ONE P computed here, so the
   KL / trustworthiness / 5-NN columns are comparable across implementations.
2. Scaling: layerlens alone (`--method auto`) on a seeded 50-D Gaussian mixture at
   N = 1k, 3k, 10k, 30k, 100k (optionally openTSNE at the same N).

Timing, and why it is done this way:
- layerlens: wall clock of the whole process (start, read the file, P, optimise, write the
  CSV), because that is what a user waits for.
- Python libraries: wall clock of fit() only, measured inside a fresh worker process with
  the data already in memory (interpreter start and imports excluded). This favours the
  Python libraries, so a layerlens time ratio <= 1 is a conservative win.
- Each run is a separate process, so no library warms caches or threads for another.
- "threads" is the peak number of OS threads seen in the process (sampled from /proc every
  20 ms), "CPU (s)" its user+system CPU time: CPU/time close to 1 means one core's worth
  of work. Python libraries are limited to one thread (OMP/OpenBLAS/MKL = 1, n_jobs=1,
  threadpoolctl), layerlens is single-threaded by design (RAYON_NUM_THREADS=1 as well).

Needs numpy, scipy, scikit-learn, openTSNE (tsne_bench.sh installs them into a venv).
"""
import os

# Thread limits must be set before numpy/scipy/sklearn load their BLAS/OpenMP runtimes;
# tsne_bench.sh exports them too, this covers running the file directly.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import datetime
import json
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
METRICS_DIR = REPO / "tests" / "tsne"
DIGITS = REPO / "tests" / "fixtures" / "digits.csv"
PERPLEXITY = 30.0
DEFAULT_SIZES = [1000, 3000, 10000, 30000, 100000]
# The mixture is always drawn for this many rows and each N takes the first N rows, so the
# data at a given N does not depend on which sizes (or max N) a run asked for.
MIXTURE_POOL = 100_000
MIXTURE_CLUSTERS = 10
MIXTURE_DIM = 50
# `--method auto` in layerlens: exact up to AUTO_EXACT_MAX points, FFT from AUTO_FFT_MIN,
# Barnes-Hut between (src/embed/config.rs).
AUTO_EXACT_MAX = 2000
AUTO_FFT_MIN = 5000
AUTO_APPROXIMATE_NEIGHBOURS_MIN = 10000


def log(msg):
    print(f"[tsne-bench] {msg}", file=sys.stderr, flush=True)


def import_metrics():
    if not (METRICS_DIR / "tsne_metrics.py").is_file():
        sys.exit(f"error: {METRICS_DIR / 'tsne_metrics.py'} is missing (the repository copy of "
                 "the shared scoring code; the benchmark never reads ../shared)")
    sys.path.insert(0, str(METRICS_DIR))
    sys.dont_write_bytecode = True  # leave no __pycache__ in the clone
    import tsne_metrics  # noqa: E402

    return tsne_metrics


# ----------------------------------------------------------------------------
# worker: one Python-library fit in its own process
# ----------------------------------------------------------------------------
def worker(a):
    """Runs one library once; writes the embedding (.npy) and a JSON with timings."""
    from threadpoolctl import threadpool_info, threadpool_limits

    X = np.load(a.data).astype(np.float64)
    info = {"lib": a.lib, "method": a.method, "n": int(X.shape[0])}
    with threadpool_limits(limits=1):
        if a.lib == "opentsne":
            import openTSNE

            tsne = openTSNE.TSNE(n_components=2, perplexity=PERPLEXITY, initialization="pca",
                                 negative_gradient_method=a.method, n_jobs=1,
                                 random_state=a.seed, verbose=False)
            w0, c0 = time.perf_counter(), time.process_time()
            emb = tsne.fit(X)
            w1, c1 = time.perf_counter(), time.process_time()
            E = np.asarray(emb)
            info["own_kl"] = float(emb.kl_divergence)
            info["version"] = openTSNE.__version__
        elif a.lib == "sklearn":
            import sklearn
            from sklearn.manifold import TSNE

            method = {"bh": "barnes_hut", "exact": "exact"}[a.method]
            tsne = TSNE(n_components=2, perplexity=PERPLEXITY, init="pca", method=method,
                        random_state=a.seed, n_jobs=1)
            w0, c0 = time.perf_counter(), time.process_time()
            E = tsne.fit_transform(X)
            w1, c1 = time.perf_counter(), time.process_time()
            info["own_kl"] = float(tsne.kl_divergence_)
            info["version"] = sklearn.__version__
        else:
            raise SystemExit(f"unknown lib {a.lib}")
        info["blas_threads"] = sorted({p.get("num_threads") for p in threadpool_info()})
    np.save(a.out, np.asarray(E, np.float64))
    info.update({"fit_s": w1 - w0, "fit_cpu_s": c1 - c0})
    Path(a.json).write_text(json.dumps(info))
    return 0


# ----------------------------------------------------------------------------
# running and timing subprocesses
# ----------------------------------------------------------------------------
def run_timed(cmd, log_path, timeout=None):
    """Run cmd; returns dict(wall_s, cpu_s, threads, peak_mib, rc). stdout+stderr go to
    log_path. peak_mib is the process's resident high-water mark (VmHWM) as last sampled."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = 0
    hwm_kib = 0
    status_path = None
    with open(log_path, "w") as logf:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
        status_path = f"/proc/{p.pid}/status"
        while True:
            try:
                with open(status_path) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            hwm_kib = max(hwm_kib, int(line.split()[1]))
                        elif line.startswith("Threads:"):
                            peak = max(peak, int(line.split()[1]))
                            break
            except (OSError, ValueError):
                pass
            try:
                rc = p.wait(timeout=0.02)
                break
            except subprocess.TimeoutExpired:
                if timeout is not None and time.perf_counter() - t0 > timeout:
                    p.kill()
                    p.wait()
                    rc = "timeout"
                    break
        wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "threads": peak, "peak_mib": hwm_kib / 1024, "rc": rc}


def tail(path, n=15):
    try:
        return "".join(Path(path).read_text(errors="replace").splitlines(True)[-n:])
    except OSError:
        return ""


NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def parse_layerlens_log(text):
    """-> (kl or None, method or None) from layerlens's stderr.

    KL: the last line that mentions "KL"; the first number after its last "KL" (the final
    line reads "... KL divergence 0.712345 (exact); wrote PATH", and PATH may hold digits,
    so the number right after "KL" is the one wanted). Method: "(exact)"/"(Barnes-Hut)" on
    that line or the "<method> gradient on the ..." line."""
    kl = None
    method = None
    lines = [ln for ln in text.splitlines() if "KL" in ln]
    if lines:
        last = lines[-1]
        m = NUMBER.search(last[last.rfind("KL") + 2:])
        if m:
            kl = float(m.group(0))
    for pat in (r"\((exact|Barnes-Hut|FFT)\)", r"^(exact|Barnes-Hut|FFT) gradient"):
        found = re.findall(pat, text, flags=re.M)
        if found:
            method = found[-1]
            break
    method = {"Barnes-Hut": "bh", "FFT": "fft"}.get(method, method)
    return kl, method


class Runner:
    def __init__(self, a, work):
        self.a = a
        self.work = work
        self.count = 0

    def _name(self, tag):
        self.count += 1
        return self.work / f"{self.count:02d}-{tag}"

    def layerlens(self, tag, input_path, method, extra_input_args=()):
        """Runs `layerlens tsne` repeat times; returns a result dict (embedding from run 1)."""
        a = self.a
        runs = []
        base = self._name(tag)
        out = base.with_suffix(".csv")
        for r in range(a.repeat):
            cmd = [a.layerlens, "tsne", "--input", str(input_path), *extra_input_args,
                   "--out", str(out if r == 0 else base.with_suffix(f".r{r}.csv")),
                   "--method", method, "--perplexity", f"{PERPLEXITY:g}", "--init", "pca",
                   "--seed", str(a.seed), "--backend", "cpu", *a.layerlens_args]
            log_path = base.with_suffix(".log" if r == 0 else f".r{r}.log")
            log(f"layerlens {tag} (run {r + 1}/{a.repeat}): {shlex.join(cmd)}")
            res = run_timed(cmd, log_path, a.timeout)
            if res["rc"] != 0:
                log(f"layerlens {tag} failed (rc {res['rc']}); log tail:\n{tail(log_path)}")
                return {"error": f"rc {res['rc']}", "log": str(log_path)}
            runs.append(res)
        kl, used = parse_layerlens_log(Path(base.with_suffix(".log")).read_text(errors="replace"))
        E = np.loadtxt(out, delimiter=",", ndmin=2)
        return self._summarise(runs, {"E": E, "own_kl": kl, "used_method": used,
                                      "log": str(base.with_suffix(".log"))})

    def pylib(self, lib, method, data_npy, tag, seed=None):
        a = self.a
        seed = a.seed if seed is None else seed
        runs = []
        infos = []
        base = self._name(tag)
        for r in range(a.repeat):
            emb = base.with_suffix(".npy" if r == 0 else f".r{r}.npy")
            js = base.with_suffix(".json" if r == 0 else f".r{r}.json")
            cmd = [sys.executable, str(Path(__file__).resolve()), "_worker", "--lib", lib,
                   "--method", method, "--data", str(data_npy), "--out", str(emb),
                   "--json", str(js), "--seed", str(seed)]
            log_path = base.with_suffix(".log" if r == 0 else f".r{r}.log")
            log(f"{lib} {method} (run {r + 1}/{a.repeat}) on {data_npy.name}")
            res = run_timed(cmd, log_path, a.timeout)
            if res["rc"] != 0:
                log(f"{lib} {method} failed (rc {res['rc']}); log tail:\n{tail(log_path)}")
                return {"error": f"rc {res['rc']}", "log": str(log_path)}
            info = json.loads(js.read_text())
            infos.append(info)
            # The table's time is fit() alone; CPU likewise. Threads: whole worker process.
            runs.append({"wall_s": info["fit_s"], "cpu_s": info["fit_cpu_s"],
                         "threads": res["threads"], "process_wall_s": res["wall_s"],
                         "peak_mib": res["peak_mib"]})
        E = np.load(base.with_suffix(".npy"))
        return self._summarise(runs, {"E": E, "own_kl": infos[0]["own_kl"],
                                      "version": infos[0]["version"],
                                      "blas_threads": infos[0]["blas_threads"],
                                      "log": str(base.with_suffix(".log"))})

    @staticmethod
    def _summarise(runs, extra):
        out = dict(extra)
        out["time_s"] = statistics.median(r["wall_s"] for r in runs)
        out["cpu_s"] = statistics.median(r["cpu_s"] for r in runs)
        out["threads"] = max(r["threads"] for r in runs)
        out["peak_mib"] = max(r.get("peak_mib", 0) for r in runs)
        out["times"] = [r["wall_s"] for r in runs]
        return out


# ----------------------------------------------------------------------------
# formatting
# ----------------------------------------------------------------------------
def f4(x):
    return "—" if x is None else f"{x:.4f}"


def fs(x):
    return "—" if x is None else f"{x:.2f}"


def md_table(header, rows, align):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


# ----------------------------------------------------------------------------
# part 1: digits
# ----------------------------------------------------------------------------
def digits_part(a, tm, runner, work, versions):
    X, y = tm.load_matrix(str(DIGITS), drop_columns=["index"], label_column="label")
    log(f"digits: {X.shape[0]} x {X.shape[1]}; computing the scoring P once")
    P = tm.joint_probabilities(X, PERPLEXITY)
    data_npy = work / "digits.npy"
    np.save(data_npy, X)

    results = []  # (label, result dict)

    # Floor: the first two principal components (no optimisation at all).
    Xc = X - X.mean(0)
    _, _, Vt = np.linalg.svd(Xc, full_matrices=False)
    results.append(("first two principal components (floor)",
                    {"E": Xc @ Vt[:2].T, "time_s": None, "cpu_s": None, "threads": None}))

    if a.layerlens:
        lab_args = ["--label-column", "label", "--drop-columns", "index"]
        results.append(("layerlens, exact", runner.layerlens("layerlens-exact", DIGITS, "exact", lab_args)))
        results.append(("layerlens, Barnes-Hut", runner.layerlens("layerlens-bh", DIGITS, "bh", lab_args)))
    plan = [("opentsne", "bh", "Barnes-Hut"), ("opentsne", "fft", "FFT"), ("sklearn", "bh", "Barnes-Hut")]
    if not a.quick:
        plan.append(("sklearn", "exact", "exact"))
    for lib, method, mname in plan:
        res = runner.pylib(lib, method, data_npy, f"{lib}-{method}")
        libname = {"opentsne": "openTSNE", "sklearn": "scikit-learn"}[lib]
        ver = versions.get(libname, "")
        results.append((f"{libname} {ver}, {mname}".replace("  ", " "), res))

    # openTSNE's result depends on its seed (Annoy's approximate neighbours), by more than the
    # differences the goal is about: run it with more seeds and compare with their mean.
    extra_seeds = [a.seed + k for k in range(1, a.reference_seeds)]
    seed_runs = [runner.pylib("opentsne", "bh", data_npy, f"opentsne-bh-seed{s}", seed=s) for s in extra_seeds]

    # Score everything with the same code and the same P.
    for label, res in results + [("", r) for r in seed_runs]:
        if "E" in res:
            s = tm.evaluate(X, y, res["E"], P=P, perplexity=PERPLEXITY)
            res.update(kl=s["kl"], trust=s["trustworthiness"], knn=s["knn_accuracy"])

    ref = next((r for lab, r in results if lab.startswith("openTSNE") and lab.endswith("Barnes-Hut")
                and "time_s" in r), None)
    spread = []
    if ref and "kl" in ref and seed_runs and all("kl" in r for r in seed_runs):
        runs = [ref] + seed_runs
        mean = {k: statistics.mean(r[k] for r in runs) for k in ("kl", "trust", "knn")}
        mean["time_s"] = statistics.median(r["time_s"] for r in runs)
        mean["cpu_s"] = statistics.median(r["cpu_s"] for r in runs)
        mean["threads"] = ref["threads"]
        label = next(lab for lab, r in results if r is ref)
        results.append((f"{label}: mean of {len(runs)} seeds ({a.seed}–{extra_seeds[-1]}; median time)", mean))
        for key, name in (("kl", "KL"), ("trust", "trustworthiness"), ("knn", "5-NN accuracy")):
            values = ", ".join(f"{r[key]:.4f}" for r in runs)
            spread.append(f"- openTSNE Barnes-Hut {name} by seed: {values} "
                          f"(range {min(r[key] for r in runs):.4f}–{max(r[key] for r in runs):.4f})")
        ref = mean
    ref_t = ref["time_s"] if ref else None
    rows = []
    for label, r in results:
        if "error" in r:
            rows.append([label, "—", "failed", "—", "—", "—", "—", "—"])
            continue
        ratio = "—" if (r["time_s"] is None or not ref_t) else f"{r['time_s'] / ref_t:.2f}"
        rows.append([label, "—" if r["threads"] is None else r["threads"], fs(r["time_s"]),
                     fs(r["cpu_s"]), ratio, f4(r.get("kl")), f4(r.get("trust")), f4(r.get("knn"))])
    table = md_table(["method", "threads", "time (s)", "CPU (s)", "time / openTSNE BH", "KL",
                      "trustworthiness", "5-NN accuracy"], rows,
                     ["l", "r", "r", "r", "r", "r", "r", "r"])

    # The goal: at least openTSNE's quality at no more than openTSNE's time.
    goal = []
    if ref and "kl" in ref:
        for label, r in results:
            if not label.startswith("layerlens") or "kl" not in r:
                continue
            checks = [("KL", r["kl"], "<=", ref["kl"]), ("trustworthiness", r["trust"], ">=", ref["trust"]),
                      ("5-NN", r["knn"], ">=", ref["knn"]), ("time", r["time_s"], "<=", ref["time_s"])]
            parts = []
            for name, v, op, bar in checks:
                ok = v <= bar if op == "<=" else v >= bar
                if name == "time":
                    parts.append(f"time {v:.2f} s {op} {bar:.2f} s {'yes' if ok else 'NO'}")
                else:  # the difference shows whether a miss is beyond noise
                    parts.append(f"{name} {v:.4f} {op} {bar:.4f} ({v - bar:+.4f}) {'yes' if ok else 'NO'}")
            goal.append(f"- {label} vs openTSNE Barnes-Hut{' (mean over seeds)' if spread else ''}: " + "; ".join(parts))
    if spread:
        goal += ["", "layerlens gives the same embedding for every seed here (PCA initialisation, exact "
                 "neighbours); openTSNE varies with its seed:", *spread]
    return table, goal, results


# ----------------------------------------------------------------------------
# part 2: scaling
# ----------------------------------------------------------------------------
def make_mixture(seed, n_total=MIXTURE_POOL, k=MIXTURE_CLUSTERS, d=MIXTURE_DIM):
    """Seeded 50-D Gaussian mixture: 10 clusters of unequal size and spread.

    Centres ~ N(0, I) in 50-D (so centres are ~10 apart while within-cluster pairs are
    ~8..13 apart: neighbourhoods are mostly, not perfectly, pure); per-cluster std in
    [0.7, 1.3]; weights ~ Dirichlet(2). Rows are i.i.d., so any prefix is a sample too."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, (k, d))
    spread = rng.uniform(0.7, 1.3, k)
    weights = rng.dirichlet(np.full(k, 2.0))
    labels = rng.choice(k, size=n_total, p=weights)
    X = centres[labels] + rng.normal(0.0, 1.0, (n_total, d)) * spread[labels, None]
    return X.astype(np.float32), labels.astype(np.int64)


def scaling_part(a, tm, runner, work, versions):
    sizes = [n for n in a.sizes if n <= a.max_n]
    if not sizes:
        return None, []
    pool = max(MIXTURE_POOL, max(sizes))
    log(f"scaling: drawing a {pool:,} x {MIXTURE_DIM} Gaussian mixture (seed {a.mixture_seed})")
    Xall, yall = make_mixture(a.mixture_seed, n_total=pool)
    rows = []
    for n in sizes:
        X, y = Xall[:n], yall[:n]
        path = work / f"mixture-{n}.npy"
        np.save(path, X)
        np.save(work / f"mixture-{n}.labels.npy", y)
        entries = []
        if a.layerlens:
            res = runner.layerlens(f"layerlens-auto-{n}", path, "auto")
            expected = "exact" if n <= AUTO_EXACT_MAX else ("bh" if n < AUTO_FFT_MIN else "fft")
            if "error" not in res:
                used = res.get("used_method") or f"{expected} (expected; not found in the log)"
                res["label"] = f"layerlens auto → {used}"
            entries.append(("layerlens", res))
        if a.scaling_opentsne:
            for m in a.scaling_opentsne_methods:
                res = runner.pylib("opentsne", m, path, f"opentsne-{m}-{n}")
                res["label"] = f"openTSNE {versions.get('openTSNE', '')}, {'Barnes-Hut' if m == 'bh' else 'FFT'}"
                entries.append(("openTSNE", res))
        for who, res in entries:
            if "error" in res:
                rows.append([f"{n:,}", who, "failed", "—", "—", "—", "—", "—"])
                continue
            # Above --score-max-n the scores are of a seeded subsample of that many points
            # (the same rows for every method): the metrics are O(N^2) in memory.
            sub = np.arange(n)
            if n > a.score_max_n:
                sub = np.sort(np.random.default_rng(12345).choice(n, a.score_max_n, replace=False))
            log(f"scoring {res['label']} at N = {n:,} on {len(sub):,} points (trustworthiness, 5-NN)")
            trust = tm.trustworthiness(X[sub].astype(np.float64), res["E"][sub])
            knn = tm.knn_accuracy(res["E"][sub], y[sub])
            rows.append([f"{n:,}", res["label"], res["threads"], fs(res["time_s"]), fs(res["cpu_s"]),
                         f"{res.get('peak_mib', 0):.0f}", f4(res.get("own_kl")), f4(trust), f4(knn)])
    table = md_table(["N", "method", "threads", "time (s)", "CPU (s)", "peak memory (MiB)",
                      "final KL (own report)", "trustworthiness", "5-NN accuracy"], rows,
                     ["r", "l", "r", "r", "r", "r", "r", "r", "r"])
    return table, sizes


# ----------------------------------------------------------------------------
# environment description
# ----------------------------------------------------------------------------
def describe_environment(a):
    versions = {}
    for mod, name in (("numpy", "numpy"), ("scipy", "scipy"), ("sklearn", "scikit-learn"),
                      ("openTSNE", "openTSNE"), ("threadpoolctl", "threadpoolctl")):
        try:
            versions[name] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - report whatever is missing
            versions[name] = "missing"
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ll = "not run"
    if a.layerlens:
        try:
            ll = subprocess.run([a.layerlens, "--version"], capture_output=True, text=True,
                                timeout=30).stdout.strip() or a.layerlens
        except (OSError, subprocess.SubprocessError):
            ll = a.layerlens
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return versions, cpu, ll, rev


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_worker":
        wp = argparse.ArgumentParser(prog="tsne_bench.py _worker")
        for opt in ("--lib", "--method", "--data", "--out", "--json"):
            wp.add_argument(opt, required=True)
        wp.add_argument("--seed", type=int, default=0)
        return worker(wp.parse_args(argv[1:]))

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layerlens", help="path of the layerlens binary (omit with --no-layerlens)")
    ap.add_argument("--no-layerlens", action="store_true", help="only the Python libraries")
    ap.add_argument("--layerlens-args", default=os.environ.get("LAYERLENS_TSNE_ARGS", ""),
                    help="extra flags for every `layerlens tsne` run (default $LAYERLENS_TSNE_ARGS)")
    ap.add_argument("--quick", action="store_true", help="skip scikit-learn exact (~75 s on digits)")
    ap.add_argument("--skip-digits", action="store_true")
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--scaling-opentsne", action="store_true",
                    help="also time openTSNE at each scaling N")
    ap.add_argument("--scaling-opentsne-methods", default="bh,fft",
                    help="openTSNE gradient methods for the scaling run (default bh,fft)")
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    ap.add_argument("--max-n", type=int, default=int(os.environ.get("LAYERLENS_BENCH_MAX_N", "100000")))
    ap.add_argument("--score-max-n", type=int, default=10000,
                    help="score trustworthiness/5-NN on at most this many points (a seeded subsample "
                         "above it; the metrics are O(N^2) in memory)")
    ap.add_argument("--seed", type=int, default=0, help="t-SNE seed for every method")
    ap.add_argument("--mixture-seed", type=int, default=20240917)
    ap.add_argument("--repeat", type=int, default=1, help="runs per row; the median time is reported")
    ap.add_argument("--reference-seeds", type=int, default=5,
                    help="openTSNE Barnes-Hut runs on digits with seeds seed..seed+K-1; the goal is "
                         "checked against their mean (default 5)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per run (default none)")
    ap.add_argument("--work-dir", help="keep embeddings and logs here (default: a temp dir, removed)")
    ap.add_argument("--results", help="Markdown output (default benches/results/tsne-<date>.md)")
    a = ap.parse_args(argv)
    a.layerlens_args = shlex.split(a.layerlens_args)
    a.sizes = [int(s) for s in a.sizes.split(",") if s]
    a.scaling_opentsne_methods = [m for m in a.scaling_opentsne_methods.split(",") if m]
    if a.no_layerlens:
        a.layerlens = None
    elif not a.layerlens:
        ap.error("give --layerlens BIN or --no-layerlens")
    elif not os.access(a.layerlens, os.X_OK):
        sys.exit(f"error: layerlens binary {a.layerlens} is missing or not executable")
    if a.repeat < 1:
        ap.error("--repeat must be >= 1")

    tm = import_metrics()
    versions, cpu, ll_version, rev = describe_environment(a)
    missing = [k for k, v in versions.items() if v == "missing"]
    if missing:
        sys.exit(f"error: missing Python packages: {', '.join(missing)} (run benches/tsne_bench.sh)")

    tmp = None
    if a.work_dir:
        work = Path(a.work_dir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="layerlens-tsne-bench-")
        work = Path(tmp.name)
    runner = Runner(a, work)

    now = datetime.datetime.now()
    results_path = Path(a.results) if a.results else REPO / "benches" / "results" / f"tsne-{now:%Y-%m-%d}.md"
    head = [f"# t-SNE benchmark, {now:%Y-%m-%d %H:%M}", "",
            f"- machine: {cpu}, {os.cpu_count()} logical CPUs; {platform.system()} {platform.release()}",
            f"- layerlens: {ll_version} (repository {rev or 'unknown'})"
            + (f", extra flags `{shlex.join(a.layerlens_args)}`" if a.layerlens_args else ""),
            f"- Python {platform.python_version()}: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
            f"- settings: perplexity {PERPLEXITY:g}, PCA initialisation, seed {a.seed}, 2-D, "
            f"{a.repeat} run(s) per row (median time); every process limited to one thread "
            "(OMP/OPENBLAS/MKL/RAYON_NUM_THREADS=1, n_jobs=1)",
            "- time: layerlens = whole process (read file, P, optimise, write CSV); Python "
            "libraries = fit() only, data in memory (favours them). CPU = user+system CPU "
            "seconds of the same span; threads = peak OS threads seen in the process "
            "(openTSNE's 2 is Annoy's index-building thread: with n_jobs=1 it builds in one "
            "worker thread while the main thread waits, so CPU stays about equal to time).",
            "- command: `" + os.environ.get("LAYERLENS_BENCH_COMMAND",
                                             shlex.join(["benches/tsne_bench.py", *argv])) + "`", ""]
    sections = []
    if not a.skip_digits:
        table, goal, _ = digits_part(a, tm, runner, work, versions)
        sections += ["## Digits (1,797 × 64), scored by tests/tsne/tsne_metrics.py", "",
                     "KL = exact KL(P‖Q) over all pairs with the metric code's own P (one P for all "
                     "rows), trustworthiness with 12 neighbours, leave-one-out 5-NN accuracy.", "",
                     table, ""]
        if goal:
            sections += ["Goal (at least openTSNE's quality at no more than openTSNE's time, one core):", "",
                         *goal, ""]
    if not a.skip_scaling:
        table, sizes = scaling_part(a, tm, runner, work, versions)
        if table:
            sections += [f"## Scaling: seeded {MIXTURE_DIM}-D Gaussian mixture, {MIXTURE_CLUSTERS} clusters "
                         f"(seed {a.mixture_seed}), N = {', '.join(f'{n:,}' for n in sizes)}", "",
                         f"layerlens `--method auto` (exact up to {AUTO_EXACT_MAX:,} points, Barnes-Hut "
                         f"below {AUTO_FFT_MIN:,}, FFT from there, neighbours approximate from "
                         f"{AUTO_APPROXIMATE_NEIGHBOURS_MIN:,}; the method shown is the one its log reports). KL is each "
                         "program's own final figure (layerlens: its stderr; openTSNE: "
                         "embedding.kl_divergence), each with its own neighbour search and Z estimate, "
                         "not the metric code's. Trustworthiness/5-NN on all points up to "
                         f"N = {a.score_max_n:,}, above that on a seeded subsample of {a.score_max_n:,} "
                         "(the same rows for every method). Peak memory: the process's resident "
                         "high-water mark (VmHWM; for openTSNE the whole Python worker, data and "
                         "interpreter included).", "",
                         table, ""]
    text = "\n".join(head + sections)
    print(text)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(text)
    log(f"tables written to {results_path}")
    if tmp is not None:
        tmp.cleanup()
    else:
        log(f"embeddings and logs kept in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
