//! End-to-end tests of [`super::tsne`]: determinism, errors, cancellation, and the
//! quality check on the digits data set (opt-in, see [`digits_quality`]).

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::ops::ControlFlow;

/// `k` Gaussian blobs in `m` dimensions, row-major f32, with labels.
fn blobs(n: usize, m: usize, k: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..k * m).map(|_| rng.random_range(-10.0f32..10.0)).collect();
    let mut x = Vec::with_capacity(n * m);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % k;
        labels.push(c);
        for j in 0..m {
            x.push(centres[c * m + j] + rng.random_range(-1.0f32..1.0));
        }
    }
    (x, labels)
}

fn quiet(_: Progress) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// Leave-one-out k-NN accuracy in the embedding (majority vote; ties go to the class
/// of the nearest neighbour among the tied ones).
fn knn_accuracy(y: &[f32], labels: &[usize], k: usize) -> f64 {
    let n = labels.len();
    let n_classes = labels.iter().max().unwrap() + 1;
    let mut correct = 0;
    let mut cand: Vec<(f64, usize)> = Vec::with_capacity(n);
    for i in 0..n {
        cand.clear();
        for j in 0..n {
            if j != i {
                let dx = (y[2 * i] - y[2 * j]) as f64;
                let dy = (y[2 * i + 1] - y[2 * j + 1]) as f64;
                cand.push((dx * dx + dy * dy, j));
            }
        }
        cand.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut top = cand[..k].to_vec();
        top.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut votes = vec![0usize; n_classes];
        for &(_, j) in &top {
            votes[labels[j]] += 1;
        }
        let best = *votes.iter().max().unwrap();
        let pred = top.iter().map(|&(_, j)| labels[j]).find(|&c| votes[c] == best).unwrap();
        correct += (pred == labels[i]) as usize;
    }
    correct as f64 / n as f64
}

/// Test 4: the same seed gives a bit-identical embedding; another seed (random init)
/// gives a different one. Every method.
#[test]
fn same_seed_same_embedding() {
    let (x, _) = blobs(300, 10, 4, 1);
    for method in [Method::Exact, Method::BarnesHut, Method::Fft] {
        let mut c = TsneConfig::opentsne(300);
        c.method = method;
        c.init = Init::Random;
        c.n_iter = 300;
        c.perplexity = 20.0;
        c.seed = 7;
        let a = tsne(&x, 300, 10, &c, &mut quiet).unwrap();
        let b = tsne(&x, 300, 10, &c, &mut quiet).unwrap();
        assert_eq!(a.coords, b.coords, "{method:?}");
        assert_eq!(a.kl.to_bits(), b.kl.to_bits());
        c.seed = 8;
        let d = tsne(&x, 300, 10, &c, &mut quiet).unwrap();
        assert_ne!(a.coords, d.coords, "{method:?}");
    }
}

/// Well-separated blobs come out separated, with every method and both presets.
#[test]
fn separates_blobs() {
    let (n, m) = (400, 20);
    let (x, labels) = blobs(n, m, 5, 2);
    let mut configs = vec![TsneConfig::opentsne(n), TsneConfig::matlab()];
    let mut exact = TsneConfig::opentsne(n);
    exact.method = Method::Exact;
    configs.push(exact);
    let mut bh = TsneConfig::opentsne(n);
    bh.method = Method::BarnesHut;
    bh.standardize = true;
    bh.pca_dims = 5;
    configs.push(bh);
    // Exact repulsion with a sparse (nearest-neighbour) P: the path used above
    // PackedP::MAX_N.
    let mut exact_sparse = TsneConfig::opentsne(n);
    exact_sparse.method = Method::Exact;
    exact_sparse.affinities = Affinities::Nearest;
    configs.push(exact_sparse);
    // The large-input path: FFT repulsion over approximate neighbours.
    let mut fft = TsneConfig::opentsne(n);
    fft.method = Method::Fft;
    fft.neighbours = Neighbours::Approximate;
    configs.push(fft);
    for c in configs {
        let e = tsne(&x, n, m, &c, &mut quiet).unwrap();
        let acc = knn_accuracy(&e.coords, &labels, 5);
        assert!(acc > 0.99, "{c:?}: 5-NN accuracy {acc}");
        assert!(e.kl.is_finite() && e.kl > 0.0);
        let mean0 = e.coords.iter().step_by(2).map(|&v| v as f64).sum::<f64>() / n as f64;
        assert!(mean0.abs() < 1e-3, "embedding mean {mean0}");
    }
}

#[test]
fn progress_reports_and_cancels() {
    let (x, _) = blobs(200, 5, 3, 3);
    let mut c = TsneConfig::opentsne(200);
    c.n_iter = 120;
    c.progress_every = 25;
    c.perplexity = 10.0;
    let mut seen = Vec::new();
    let e = tsne(&x, 200, 5, &c, &mut |p: Progress| {
        assert_eq!(p.embedding.len(), 400);
        seen.push((p.iteration, p.kl));
        ControlFlow::Continue(())
    })
    .unwrap();
    let its: Vec<usize> = seen.iter().map(|s| s.0).collect();
    assert_eq!(its, vec![25, 50, 75, 100, 120]);
    assert_eq!(seen.last().unwrap().1, e.kl);
    // Breaking out of the callback stops the run with a typed error.
    let r = tsne(&x, 200, 5, &c, &mut |p: Progress| {
        if p.iteration == 50 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    });
    assert_eq!(r, Err(TsneError::Cancelled { iteration: 50 }));
}

#[test]
fn typed_errors() {
    let c = TsneConfig::opentsne(50);
    let err = tsne(&[0.0; 100], 50, 2, &c, &mut quiet).unwrap_err();
    assert_eq!(err, TsneError::PerplexityTooLarge { perplexity: 30.0, n: 50, min_points: 91 });
    let msg = err.to_string();
    assert!(msg.contains("perplexity 30 needs at least 91 points") && msg.contains("(N-1)/3"), "{msg}");
    assert_eq!(tsne(&[], 0, 3, &c, &mut quiet).unwrap_err(), TsneError::Empty);
    assert_eq!(tsne(&[], 100, 0, &c, &mut quiet).unwrap_err(), TsneError::NoColumns);
    let mut x = vec![0.0f32; 200];
    x[7] = f32::INFINITY;
    assert!(matches!(tsne(&x, 100, 2, &c, &mut quiet), Err(TsneError::NonFinite { row: 3, col: 1, .. })));
    let mut bad = TsneConfig::opentsne(100);
    bad.learning_rate = -1.0;
    assert!(matches!(
        tsne(&[0.5; 200], 100, 2, &bad, &mut quiet),
        Err(TsneError::InvalidParameter { name: "learning_rate", .. })
    ));
}

/// Degenerate but valid inputs: identical rows, a single column.
#[test]
fn degenerate_inputs_do_not_produce_nan() {
    let c = TsneConfig { perplexity: 5.0, n_iter: 100, ..TsneConfig::opentsne(40) };
    let e = tsne(&[1.0; 80], 40, 2, &c, &mut quiet).unwrap();
    assert!(e.coords.iter().all(|v| v.is_finite()));
    let x: Vec<f32> = (0..40).map(|i| (i % 4) as f32).collect();
    let e = tsne(&x, 40, 1, &c, &mut quiet).unwrap();
    assert!(e.coords.iter().all(|v| v.is_finite()));
}

/// Read a CSV with a header; returns (features, n, m, labels), dropping the `index`
/// column and taking `label` as the class.
pub(crate) fn read_labelled_csv(path: &std::path::Path) -> (Vec<f32>, usize, usize, Vec<usize>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap().split(',').map(str::trim).collect();
    let label_col = header.iter().position(|&h| h == "label").expect("label column");
    let drop_col = header.iter().position(|&h| h == "index");
    let (mut x, mut labels, mut n) = (Vec::new(), Vec::new(), 0);
    for line in lines {
        for (c, field) in line.split(',').enumerate() {
            if c == label_col {
                labels.push(field.trim().parse::<f64>().unwrap() as usize);
            } else if Some(c) != drop_col {
                x.push(field.trim().parse::<f32>().unwrap());
            }
        }
        n += 1;
    }
    let m = x.len() / n;
    (x, n, m, labels)
}

/// The default preset on the digits data (`tests/fixtures/digits.csv`, 1,797 × 64, or
/// `LAYERLENS_DIGITS_CSV`), exact, Barnes-Hut and FFT (a few seconds in `--release`).
/// Writes `tsne_digits_{exact,bh,fft}.csv` to `LAYERLENS_TSNE_OUT` (default: the temp directory)
/// for scoring with `tsne_metrics.py`, and checks the exact KL (against P over all pairs
/// of the raw data, perplexity 30) and the leave-one-out 5-NN accuracy in Rust.
#[test]
fn digits_quality() {
    let path = std::env::var("LAYERLENS_DIGITS_CSV")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/digits.csv").to_string());
    let out_dir =
        std::env::var("LAYERLENS_TSNE_OUT").map(std::path::PathBuf::from).unwrap_or_else(|_| std::env::temp_dir());
    let (x, n, m, labels) = read_labelled_csv(std::path::Path::new(&path));
    assert_eq!((n, m), (1797, 64));
    // Reference P as the scoring script computes it: all pairs of the raw data.
    let raw: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let search = BandwidthSearch { perplexity: 30.0, tolerance: 1e-10, max_iter: 200 };
    let p_ref = affinity::joint_probabilities(&raw, n, m, Support::AllPairs, &search);
    for (name, method) in [("exact", Method::Exact), ("bh", Method::BarnesHut), ("fft", Method::Fft)] {
        let mut c = TsneConfig::opentsne(n);
        c.method = method;
        let t0 = std::time::Instant::now();
        let e = tsne(&x, n, m, &c, &mut quiet).unwrap();
        let secs = t0.elapsed().as_secs_f64();
        let y: Vec<f64> = e.coords.iter().map(|&v| v as f64).collect();
        let kl = gradient::kl_exact(&p_ref, &y);
        let acc = knn_accuracy(&e.coords, &labels, 5);
        let file = out_dir.join(format!("tsne_digits_{name}.csv"));
        let mut csv = String::from("x,y\n");
        for p in e.coords.chunks_exact(2) {
            csv.push_str(&format!("{},{}\n", p[0], p[1]));
        }
        std::fs::write(&file, csv).unwrap();
        eprintln!(
            "digits {name}: {secs:.2} s, KL(own) {:.4}, KL(all-pairs raw P) {kl:.4}, 5-NN {acc:.4}, nnz(P) {} -> {}",
            e.kl,
            e.p_nnz,
            file.display()
        );
        assert!(kl <= 0.72, "{name}: KL {kl}");
        assert!(acc >= 0.985, "{name}: 5-NN accuracy {acc}");
    }
}

/// The coordinates CSV reads back to the very same f32 values, one `x,y` row per point.
#[test]
fn coordinates_csv_round_trips_every_f32() {
    let coords = [1.0f32, -2.5, 0.1, f32::MAX, 1e-45, -0.0];
    let csv = super::coordinates_csv(&coords);
    assert_eq!(csv.lines().count(), 3);
    let back: Vec<u32> = csv
        .lines()
        .flat_map(|l| l.split(',').map(|v| v.parse::<f32>().unwrap().to_bits()).collect::<Vec<_>>())
        .collect();
    assert_eq!(back, coords.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
}
