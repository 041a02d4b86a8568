//! The `layerlens` binary end to end: outputs against the reference, exit codes on bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{CPU_TOLERANCES, Reference, fixture, max_abs_diff};
use image::RgbImage;
use layerlens::tensor_file::read_f32_tensor;

fn layerlens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_layerlens")).args(args).output().expect("binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes the reference's four 227×227 images as PNG (no resize happens on reading them back).
fn reference_pngs(dir: &Path, reference: &Reference) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for key in ["photos_u8", "noise_u8"] {
        let (_, pixels) = reference.u8(key);
        for (i, chunk) in pixels.chunks_exact(227 * 227 * 3).enumerate() {
            let path = dir.join(format!("{key}_{i}.png"));
            RgbImage::from_raw(227, 227, chunk.to_vec()).unwrap().save(&path).unwrap();
            paths.push(path);
        }
    }
    paths
}

fn weights() -> String {
    fixture("squeezenet/squeezenet1_1_random.safetensors").display().to_string()
}

#[test]
fn activations_match_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let reference = Reference::load();
    let images = reference_pngs(dir.path(), &reference);
    let out_file = dir.path().join("acts.safetensors");
    let weights = weights();
    let mut args = vec!["activations", "--weights", &weights, "--layers", "pool1,fire9,conv10,logits,prob"];
    let out_str = out_file.display().to_string();
    args.extend(["--out", &out_str, "--chunk", "3"]);
    let image_strs: Vec<String> = images.iter().map(|p| p.display().to_string()).collect();
    args.extend(image_strs.iter().map(String::as_str));
    let out = layerlens(&args);
    assert!(out.status.success(), "{}", stderr(&out));

    let bytes = std::fs::read(&out_file).unwrap();
    for (name, tolerance) in CPU_TOLERANCES {
        let got = read_f32_tensor(&bytes, name).unwrap();
        let expected = reference.f32(name);
        assert_eq!(got.shape, expected.shape, "{name}");
        let diff = max_abs_diff(&got.data, &expected.data);
        assert!(diff <= tolerance, "{name}: max |Δ| {diff:e}");
    }
}

#[test]
fn classify_prints_top_classes_with_labels() {
    let dir = tempfile::tempdir().unwrap();
    let reference = Reference::load();
    let images = reference_pngs(dir.path(), &reference);
    let labels = dir.path().join("labels.txt");
    std::fs::write(&labels, (0..1000).map(|i| format!("label{i}\n")).collect::<String>()).unwrap();
    let out = layerlens(&[
        "classify",
        "--weights",
        &weights(),
        "--top",
        "3",
        "--labels",
        &labels.display().to_string(),
        &images[0].display().to_string(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    // The fixture README: china.jpg's argmax is class 989 with p = 0.08547.
    assert!(lines[1].contains("label989") && lines[1].contains("0.0854"), "{stdout}");
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        vec!["classify", "--weights", "w.safetensors"], // no image
        vec!["activations", "--weights", "w", "--layers", "pool2", "--out", "o", "x.png"], // unknown layer
        vec!["classify", "--weights", "w", "--backend", "tpu", "x.png"], // unknown backend
        vec!["frobnicate"],
    ] {
        let out = layerlens(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty());
    }
}

#[test]
fn wrong_files_exit_1_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not weights, not an image").unwrap();
    let text = text.display().to_string();
    let photo = fixture("photos/china.jpg").display().to_string();

    let out = layerlens(&["classify", "--weights", &text, &photo]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a weights file"), "{}", stderr(&out));

    let out = layerlens(&["classify", "--weights", &weights(), &text]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("notes.txt") && stderr(&out).contains("not a supported image"), "{}", stderr(&out));

    let out = layerlens(&["classify", "--weights", &weights(), "/no/such/image.png"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/no/such/image.png"), "{}", stderr(&out));
}

#[test]
fn train_writes_weights_class_names_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("digits.safetensors");
    let report = dir.path().join("report.json");
    let data = fixture("digits3").display().to_string();
    let result = layerlens(&[
        "train",
        "--data",
        &data,
        "--weights",
        &weights(),
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--seed",
        "5",
        "--out",
        &out.display().to_string(),
        "--report",
        &report.display().to_string(),
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(stderr(&result).contains("epoch 1 done"), "{}", stderr(&result));

    let (weights, _) = layerlens::model::weights::load_weights(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(weights.num_classes(), 3);
    assert_eq!(std::fs::read_to_string(dir.path().join("digits.classes.txt")).unwrap(), "0\n1\n2\n");

    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["classes"], serde_json::json!(["0", "1", "2"]));
    assert_eq!(json["epochs"].as_array().unwrap().len(), 2, "epoch 0 (baseline) and epoch 1");
    assert_eq!(json["train_files"].as_array().unwrap().len(), 60);
    let predictions = json["validation"]["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 30);
    assert_eq!(predictions[0]["scores"].as_array().unwrap().len(), 3);
    let confusion: usize = json["validation"]["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize))
        .sum();
    assert_eq!(confusion, 30);
}

/// `analyze` on the validation split of a short `train` run (same seed, so the same split):
/// the export files with one row per validation image, the workflow's table on stdout, and a
/// softmax map whose neighbourhoods keep the classes at least as well as the classifier does.
#[test]
fn analyze_after_train_writes_the_exports_and_the_ambiguity_table() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("digits.safetensors").display().to_string();
    let data = fixture("digits3").display().to_string();
    let trained = layerlens(&[
        "train",
        "--data",
        &data,
        "--weights",
        &weights(),
        "--epochs",
        "4",
        "--batch-size",
        "8",
        "--seed",
        "3",
        "--no-augment",
        "--out",
        &model,
    ]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let out = dir.path().join("analysis");
    let result = layerlens(&[
        "analyze",
        "--data",
        &data,
        "--weights",
        &model,
        "--seed",
        "3",
        "--out",
        &out.display().to_string(),
    ]);
    let log = stderr(&result);
    assert!(result.status.success(), "{log}");
    assert!(log.contains("= the data set's (fine-tuned)"), "class names read from digits.classes.txt: {log}");
    assert!(log.contains("perplexity lowered from 30 to 9"), "{log}");

    let csv_rows = |name: &str| -> Vec<Vec<String>> {
        csv::Reader::from_path(out.join(name))
            .unwrap()
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect()
    };
    for layer in ["pool1", "conv10", "prob"] {
        let rows = csv_rows(&format!("map-{layer}.csv"));
        assert_eq!(rows.len(), 30, "{layer}: one row per validation image");
        let header = csv::Reader::from_path(out.join(format!("map-{layer}.csv"))).unwrap().headers().unwrap().clone();
        assert_eq!(header.iter().collect::<Vec<_>>(), ["image", "file", "true", "predicted", "ambiguity", "x", "y"]);
        assert!(rows.iter().all(|r| r[1].starts_with(&r[2]) && r[5].parse::<f32>().is_ok()), "{layer}: {:?}", rows[0]);
    }
    assert_eq!(csv_rows("ambiguity.csv").len(), 30);
    let confusion = csv_rows("confusion.csv");
    assert_eq!(confusion.len(), 3);
    let counted: usize = confusion.iter().flat_map(|r| r[1..].iter().map(|v| v.parse::<usize>().unwrap())).sum();
    assert_eq!(counted, 30);
    let predictions: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("predictions.json")).unwrap()).unwrap();
    assert_eq!(predictions["predictions"].as_array().unwrap().len(), 30);
    let accuracy = predictions["accuracy"].as_f64().unwrap();

    let table = String::from_utf8(result.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].contains("Image #") && lines[0].contains("Ambiguity") && lines[0].contains("True Class"),
        "{table}"
    );
    assert_eq!(lines.len(), 3 + 10, "header, rule, blank, ten rows: {table}");

    // The prob map's 5-NN accuracy, as printed.
    let prob_knn: f64 = log
        .lines()
        .find(|l| l.contains("prob map"))
        .and_then(|l| l.split("5-NN accuracy ").nth(1))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or_else(|| panic!("no prob map score in {log}"));
    println!("validation accuracy {accuracy:.3}, prob map 5-NN accuracy {prob_knn:.3}");
    assert!(prob_knn >= accuracy - 0.05, "prob map 5-NN {prob_knn} vs accuracy {accuracy}");
}

#[test]
fn train_refuses_a_single_class() {
    let data = fixture("digits3/0").display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let result = layerlens(&[
        "train",
        "--data",
        &data,
        "--weights",
        &weights(),
        "--out",
        &dir.path().join("m.safetensors").display().to_string(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    assert!(
        stderr(&result).contains("not inside a class folder") || stderr(&result).contains("at least 2 classes"),
        "{}",
        stderr(&result)
    );
}

fn read_embedding(path: &Path) -> Vec<[f64; 2]> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let (x, y) = l.split_once(',').expect("two columns");
            [x.parse().unwrap(), y.parse().unwrap()]
        })
        .collect()
}

/// The first 300 digits as a headerless CSV (a quick input for the flags' tests).
fn small_digits_csv(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixture("digits.csv")).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).take(300).collect();
    let body: String = rows.iter().map(|r| r.splitn(3, ',').nth(2).unwrap().to_string() + "\n").collect();
    let path = dir.join("digits300.csv");
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn tsne_writes_n_rows_reproducibly_and_reports_kl() {
    let dir = tempfile::tempdir().unwrap();
    let input = small_digits_csv(dir.path());
    let run = |out: &str, extra: &[&str]| {
        let out = dir.path().join(out);
        let mut args =
            vec!["tsne", "--input", input.to_str().unwrap(), "--out", out.to_str().unwrap(), "--iterations", "300"];
        args.extend_from_slice(extra);
        let result = layerlens(&args);
        assert!(result.status.success(), "{}", stderr(&result));
        (read_embedding(&out), stderr(&result))
    };
    let (a, log) = run("a.csv", &["--seed", "3"]);
    assert_eq!(a.len(), 300);
    assert!(log.contains("KL divergence"), "{log}");
    assert!(log.contains("exact gradient on the CPU"), "{log}");
    let (b, _) = run("b.csv", &["--seed", "3"]);
    assert_eq!(a, b, "same seed, same embedding");
    // Random initialisation depends on the seed; Barnes-Hut and the MATLAB preset run.
    let (c, _) = run("c.csv", &["--init", "random", "--seed", "1"]);
    let (d, _) = run("d.csv", &["--init", "random", "--seed", "2"]);
    assert_ne!(c, d);
    let (e, log) = run(
        "e.csv",
        &[
            "--preset",
            "matlab",
            "--perplexity",
            "20",
            "--learning-rate",
            "auto",
            "--exaggeration",
            "6",
            "--exaggeration-iterations",
            "50",
        ],
    );
    assert_eq!(e.len(), 300);
    assert!(log.contains("Barnes-Hut gradient"), "{log}");
    assert!(e.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
    // The large-input path on a small input: FFT repulsion, approximate neighbours.
    let (f, log) = run("f.csv", &["--method", "fft", "--neighbours", "approximate"]);
    assert_eq!(f.len(), 300);
    assert!(log.contains("FFT gradient"), "{log}");
    assert!(f.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
}

#[test]
fn tsne_reads_npy_and_safetensors_keys() {
    let dir = tempfile::tempdir().unwrap();
    // 120 points of 3 blobs, as .npy (f8) and as a [N, 2, 2, 2] safetensors tensor.
    let values: Vec<f32> = (0..120 * 8).map(|k| ((k / 8) % 3) as f32 * 5.0 + ((k * 7919) % 13) as f32 * 0.1).collect();
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let mut header = "{'descr': '<f8', 'fortran_order': False, 'shape': (120, 8), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    npy.extend((header.len() as u16).to_le_bytes());
    npy.extend(header.as_bytes());
    npy.extend(values.iter().flat_map(|&v| (v as f64).to_le_bytes()));
    std::fs::write(dir.path().join("x.npy"), npy).unwrap();
    let st = layerlens::tensor_file::write_f32_tensors([
        ("pool1", &[120usize, 2, 2, 2][..], &values[..]),
        ("prob", &[120usize, 8][..], &values[..]),
    ])
    .unwrap();
    std::fs::write(dir.path().join("x.safetensors"), st).unwrap();
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let out = layerlens(&[
        "tsne",
        "--input",
        &p("x.npy"),
        "--out",
        &p("npy.csv"),
        "--perplexity",
        "10",
        "--iterations",
        "200",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = layerlens(&[
        "tsne",
        "--input",
        &p("x.safetensors"),
        "--key",
        "pool1",
        "--out",
        &p("st.csv"),
        "--perplexity",
        "10",
        "--iterations",
        "200",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("safetensors `pool1` [120, 2, 2, 2]"), "{}", stderr(&out));
    // Same values → same embedding, whatever the container.
    assert_eq!(read_embedding(&dir.path().join("npy.csv")), read_embedding(&dir.path().join("st.csv")));
    let out = layerlens(&["tsne", "--input", &p("x.safetensors"), "--out", &p("no.csv")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("choose one with --key"), "{}", stderr(&out));
}

#[test]
fn tsne_bad_input_exits_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let input = small_digits_csv(dir.path());
    let input = input.to_str().unwrap();
    let out_path = dir.path().join("out.csv");
    let out = out_path.to_str().unwrap();
    let cases: [(&[&str], i32, &str); 5] = [
        (&["--neighbours", "nearest"], 2, "invalid value 'nearest'"),
        (&["--perplexity", "200"], 1, "perplexity 200 needs at least 601 points but there are 300"),
        (&["--label-column", "species"], 1, "CSV has no column `species`"),
        (&["--method", "tree"], 2, "invalid value 'tree'"),
        (&["--learning-rate", "fast"], 2, "neither `auto` nor a positive number"),
    ];
    for (extra, code, message) in cases {
        let mut args = vec!["tsne", "--input", input, "--out", out];
        args.extend_from_slice(extra);
        let result = layerlens(&args);
        assert_eq!(result.status.code(), Some(code), "{extra:?}: {}", stderr(&result));
        assert!(stderr(&result).contains(message), "{extra:?}: {}", stderr(&result));
    }
    assert!(!out_path.exists(), "no output on failure");
    std::fs::write(dir.path().join("text.csv"), "a,b\n1,2\n3,oops\n").unwrap();
    let result = layerlens(&["tsne", "--input", dir.path().join("text.csv").to_str().unwrap(), "--out", out]);
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("CSV line 3, column `b`: `oops` is not a number"), "{}", stderr(&result));
}

#[test]
fn convert_weights_turns_the_onnx_file_into_safetensors_that_load_bit_identically() {
    use layerlens::model::weights::{WeightsFormat, load_weights};
    let dir = tempfile::tempdir().unwrap();
    let onnx = fixture("squeezenet/squeezenet1_1_random.onnx");
    let out = dir.path().join("converted.safetensors");
    let run = layerlens(&["convert-weights", "--in", onnx.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stderr(&run).contains("1000 classes"), "{}", stderr(&run));
    let (from_onnx, format) = load_weights(&std::fs::read(&onnx).unwrap()).unwrap();
    assert_eq!(format, WeightsFormat::Onnx);
    let (converted, format) = load_weights(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(format, WeightsFormat::Safetensors);
    let keys: Vec<&str> = from_onnx.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, converted.iter().map(|(k, _)| k).collect::<Vec<_>>());
    assert_eq!(keys.len(), 52, "26 convolutions, weight and bias each");
    for (key, tensor) in from_onnx.iter() {
        let other = converted.get(key).unwrap();
        assert_eq!(tensor.shape, other.shape, "{key}");
        let bits = |t: &[f32]| t.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&tensor.data), bits(&other.data), "{key}: not bit-identical");
    }
    // Not weights: refused with a message naming the file, exit code 1.
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"not a model").unwrap();
    let bad = layerlens(&["convert-weights", "--in", junk.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("junk.onnx"), "{}", stderr(&bad));
}

/// `scripts/fetch-weights` with files already at hand (no network): the hash is checked, the
/// ONNX file converted, the class names and the manifest written; a wrong hash is refused.
#[test]
fn fetch_weights_checks_the_hash_converts_and_writes_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = fixture("squeezenet/squeezenet1_1_random.onnx");
    let classes = dir.path().join("names.txt");
    std::fs::write(&classes, (0..1000).map(|i| format!("name {i}\n")).collect::<String>()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fetch-weights");
    let run = |sha: &str, out: &Path| {
        Command::new(&script)
            .args(["--onnx", onnx.to_str().unwrap(), "--classes", classes.to_str().unwrap()])
            .args(["--out", out.to_str().unwrap(), "--expect-sha256", sha])
            .env("LAYERLENS_BIN", env!("CARGO_BIN_EXE_layerlens"))
            .output()
            .unwrap()
    };
    let refused = run(&"0".repeat(64), &dir.path().join("refused"));
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("refusing it"), "{}", stderr(&refused));
    assert!(!dir.path().join("refused").exists(), "nothing written for a wrong hash");

    let sum = Command::new("sha256sum").arg(&onnx).output().unwrap();
    let sha = String::from_utf8(sum.stdout).unwrap().split_whitespace().next().unwrap().to_string();
    let out = dir.path().join("weights");
    let ok = run(&sha, &out);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["weights"], "squeezenet1_1.safetensors");
    assert_eq!(manifest["classes"], "imagenet_classes.txt");
    assert_eq!(std::fs::read(out.join("imagenet_classes.txt")).unwrap(), std::fs::read(&classes).unwrap());
    let (weights, _) =
        layerlens::model::weights::load_weights(&std::fs::read(out.join("squeezenet1_1.safetensors")).unwrap())
            .unwrap();
    assert_eq!(weights.num_classes(), 1000);
}
