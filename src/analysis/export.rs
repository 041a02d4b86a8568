//! What an analysis is saved as: one CSV per map, the ambiguity table and the confusion matrix
//! as CSV, every prediction with every class's probability as JSON, and the ambiguity table as
//! text in the workflow's layout. The CLI writes these files and the page offers the same bytes
//! as downloads, so both give identical exports.
//!
//! "Image #" is the image's 1-based position in the validation set, as in MATLAB's table;
//! `file` is its path in the data set. Strings go through the `csv` crate, so a class or file
//! name with a comma, a quote or a line break stays one field.

use serde::Serialize;

use super::pipeline::{Analysis, LayerMap};
use super::predictions::by_ambiguity;
use crate::text_format::significant;

fn csv_bytes(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).expect("writing to memory");
    for row in rows {
        writer.write_record(&row).expect("writing to memory");
    }
    writer.into_inner().expect("writing to memory")
}

/// `map-<layer>.csv`: `image,file,true,predicted,ambiguity,x,y`, one row per validation image.
pub fn map_csv(analysis: &Analysis, map: &LayerMap) -> Vec<u8> {
    let rows = analysis.predictions.iter().enumerate().map(|(k, p)| {
        vec![
            (k + 1).to_string(),
            analysis.files[p.image].clone(),
            analysis.classes[p.truth].clone(),
            analysis.network_classes[p.predicted].clone(),
            p.ambiguity.to_string(),
            map.coords[2 * k].to_string(),
            map.coords[2 * k + 1].to_string(),
        ]
    });
    csv_bytes(&["image", "file", "true", "predicted", "ambiguity", "x", "y"], rows)
}

/// `ambiguity.csv`: every validation image, most ambiguous first:
/// `image,file,ambiguity,likeliest,second,true`.
pub fn ambiguity_csv(analysis: &Analysis) -> Vec<u8> {
    let rows = by_ambiguity(&analysis.predictions).into_iter().map(|k| {
        let p = &analysis.predictions[k];
        vec![
            (k + 1).to_string(),
            analysis.files[p.image].clone(),
            p.ambiguity.to_string(),
            analysis.network_classes[p.top2[0].0].clone(),
            analysis.network_classes[p.top2[1].0].clone(),
            analysis.classes[p.truth].clone(),
        ]
    });
    csv_bytes(&["image", "file", "ambiguity", "likeliest", "second", "true"], rows)
}

/// `confusion.csv`: a header of predicted classes, then one row per true class with its counts.
pub fn confusion_csv(analysis: &Analysis) -> Vec<u8> {
    let confusion = analysis.confusion();
    let mut header = vec!["true \\ predicted"];
    header.extend(analysis.network_classes.iter().map(String::as_str));
    let rows = confusion
        .counts
        .iter()
        .zip(&analysis.classes)
        .map(|(row, name)| std::iter::once(name.clone()).chain(row.iter().map(usize::to_string)).collect());
    csv_bytes(&header, rows)
}

#[derive(Serialize)]
struct PredictionRecord<'a> {
    image: usize,
    file: &'a str,
    #[serde(rename = "true")]
    truth: &'a str,
    predicted: &'a str,
    ambiguity: f32,
    /// Every class's probability, in the network's class order.
    probabilities: &'a [f32],
}

#[derive(Serialize)]
struct PredictionsFile<'a> {
    classes: &'a [String],
    network_classes: &'a [String],
    accuracy: Option<f64>,
    predictions: Vec<PredictionRecord<'a>>,
}

/// `predictions.json`: the class names and, per validation image, its file, true and
/// predicted class, ambiguity and every class's probability.
pub fn predictions_json(analysis: &Analysis) -> Vec<u8> {
    let file = PredictionsFile {
        classes: &analysis.classes,
        network_classes: &analysis.network_classes,
        accuracy: analysis.accuracy(),
        predictions: analysis
            .predictions
            .iter()
            .zip(&analysis.probabilities)
            .enumerate()
            .map(|(k, (p, probabilities))| PredictionRecord {
                image: k + 1,
                file: &analysis.files[p.image],
                truth: &analysis.classes[p.truth],
                predicted: &analysis.network_classes[p.predicted],
                ambiguity: p.ambiguity,
                probabilities,
            })
            .collect(),
    };
    serde_json::to_vec_pretty(&file).expect("plain data serialises")
}

/// The `rows` most ambiguous images as a text table in the workflow's layout (MATLAB's
/// `table` display): Image #, Ambiguity (5 significant digits), Likeliest, Second, True Class.
pub fn ambiguity_table_text(analysis: &Analysis, rows: usize) -> String {
    let header = ["Image #", "Ambiguity", "Likeliest", "Second", "True Class"];
    let body: Vec<[String; 5]> = by_ambiguity(&analysis.predictions)
        .into_iter()
        .take(rows)
        .map(|k| {
            let p = &analysis.predictions[k];
            [
                (k + 1).to_string(),
                significant(p.ambiguity, 5),
                analysis.network_classes[p.top2[0].0].clone(),
                analysis.network_classes[p.top2[1].0].clone(),
                analysis.classes[p.truth].clone(),
            ]
        })
        .collect();
    let widths: Vec<usize> =
        (0..5).map(|c| body.iter().map(|r| r[c].chars().count()).chain([header[c].len()]).max().unwrap_or(0)).collect();
    let line = |cells: [&str; 5]| -> String {
        let parts: Vec<String> = cells.iter().zip(&widths).map(|(c, &w)| format!("{c:^w$}")).collect();
        format!("    {}\n", parts.join("    ").trim_end())
    };
    let mut text = line(header);
    let rules: Vec<String> = widths.iter().map(|&w| "_".repeat(w)).collect();
    text += &line([&rules[0], &rules[1], &rules[2], &rules[3], &rules[4]]);
    text.push('\n');
    for row in &body {
        text += &line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
    }
    text
}
