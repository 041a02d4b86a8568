//! Tests of the analysis on a hand-made result: export formats, and the confusion matrix of a
//! network whose classes are not the data set's.

use super::export::{ambiguity_csv, ambiguity_table_text, confusion_csv, map_csv, predictions_json};
use super::pipeline::{Analysis, LayerMap};
use super::predictions::ImagePrediction;
use crate::embed::{Method, TsneConfig};
use crate::model::layers::Layer;

fn analysis() -> Analysis {
    let probabilities = vec![vec![0.7f32, 0.2, 0.1], vec![0.45, 0.5, 0.05], vec![0.1, 0.1, 0.8]];
    let truth = [0usize, 0, 2];
    let images = [4usize, 1, 2];
    let predictions: Vec<ImagePrediction> =
        images.iter().zip(truth).zip(&probabilities).map(|((&i, t), p)| ImagePrediction::new(i, t, p)).collect();
    let classes: Vec<String> = ["cat", "dog, big", "emu \"e\""].map(String::from).to_vec();
    Analysis {
        network_classes: classes.clone(),
        classes,
        same_classes: true,
        files: (0..5).map(|i| format!("x/{i}.png")).collect(),
        predictions,
        probabilities,
        class_maps: vec![vec![0.0; 8]; 3],
        class_map_side: 2,
        maps: vec![LayerMap {
            layer: Layer::Prob,
            per_image_shape: vec![3],
            width: 3,
            sketch: None,
            coords: vec![1.0, 2.0, 3.0, 4.0, 5.5, -6.0],
            kl: 0.1,
            method: Method::Exact,
            quality: None,
            tsne: TsneConfig::matlab(),
            notes: Vec::new(),
        }],
    }
}

fn records(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

#[test]
fn map_csv_has_one_row_per_image_with_quoted_names() {
    let a = analysis();
    let rows = records(&map_csv(&a, &a.maps[0]));
    assert_eq!(rows[0], ["image", "file", "true", "predicted", "ambiguity", "x", "y"]);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[2], ["2", "x/1.png", "cat", "dog, big", "0.9", "3", "4"]);
    assert_eq!(rows[3][2], "emu \"e\"");
    assert_eq!(rows[3][5..], ["5.5", "-6"]);
    let text = String::from_utf8(map_csv(&a, &a.maps[0])).unwrap();
    assert!(text.contains("\"dog, big\"") && text.contains("\"emu \"\"e\"\"\""), "{text}");
}

#[test]
fn ambiguity_csv_and_table_are_most_ambiguous_first() {
    let a = analysis();
    let rows = records(&ambiguity_csv(&a));
    assert_eq!(rows[0], ["image", "file", "ambiguity", "likeliest", "second", "true"]);
    let order: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(order, ["2", "1", "3"]);
    assert_eq!(rows[1][3..], ["dog, big", "cat", "cat"]);
    let text = ambiguity_table_text(&a, 2);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("Image #") && lines[0].contains("True Class"), "{text}");
    assert!(lines[1].trim_start().starts_with("_______"));
    assert!(lines[3].contains("0.90000") && lines[3].contains("dog, big"), "{text}");
    assert!(lines[4].contains("0.28571"), "{text}");
    assert_eq!(lines.len(), 5, "header, rule, blank line, two rows");
}

#[test]
fn confusion_csv_and_predictions_json() {
    let a = analysis();
    let rows = records(&confusion_csv(&a));
    assert_eq!(rows[0], ["true \\ predicted", "cat", "dog, big", "emu \"e\""]);
    assert_eq!(rows[1], ["cat", "1", "1", "0"]);
    assert_eq!(rows[3], ["emu \"e\"", "0", "0", "1"]);
    assert!((a.accuracy().unwrap() - 2.0 / 3.0).abs() < 1e-12);
    let json: serde_json::Value = serde_json::from_slice(&predictions_json(&a)).unwrap();
    let preds = json["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 3);
    assert_eq!(preds[1]["image"], 2);
    assert_eq!(preds[1]["predicted"], "dog, big");
    assert_eq!(preds[1]["probabilities"].as_array().unwrap().len(), 3);
}

#[test]
fn a_network_with_other_classes_has_no_accuracy_and_a_rectangular_matrix() {
    let mut a = analysis();
    a.network_classes = (0..5).map(|i| format!("imagenet {i}")).collect();
    a.same_classes = false;
    assert_eq!(a.accuracy(), None);
    let confusion = a.confusion();
    assert_eq!(confusion.counts.len(), 3);
    assert_eq!(confusion.counts[0].len(), 5);
    assert_eq!(confusion.total(), 3);
}
