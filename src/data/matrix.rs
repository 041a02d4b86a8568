//! Matrices for t-SNE from files: CSV/TSV text, NumPy `.npy`, or one tensor of a
//! safetensors file (e.g. the output of `layerlens activations`), each row one
//! observation (a tensor [N, …] is flattened per row).
//!
//! The format is recognised from the bytes, not the file name. CSV: a header row is
//! detected when a field of the first line is not a number; a label column can be named
//! (kept as labels, not data) and other columns dropped, by header name or, without a
//! header, by 1-based column number. NPY is parsed here (the format is a short text
//! header and raw little-endian values; the `npyz` crate needs a Python-literal parser
//! with native stack-switching code that does not build for wasm32).

use thiserror::Error;

use crate::tensor_file::{TensorFileError, looks_like_safetensors, read_f32_tensors};

/// An N×M f32 matrix, row-major, with optional per-row labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Rows (observations).
    pub n: usize,
    /// Columns (features per observation).
    pub m: usize,
    /// N×M values, row-major.
    pub values: Vec<f32>,
    /// One label per row, when a label column was named.
    pub labels: Option<Vec<String>>,
    /// What was read ("CSV", "NPY <f4 [1797, 64]", "safetensors `pool1` [341, 64, 56, 56]").
    pub description: String,
}

/// How to read a matrix file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatrixOptions {
    /// safetensors: the tensor to read (may be left out when the file holds one tensor).
    pub key: Option<String>,
    /// CSV: a column holding labels rather than data.
    pub label_column: Option<String>,
    /// CSV: columns to ignore (e.g. an index).
    pub drop_columns: Vec<String>,
    /// CSV: silently skip a named label or dropped column the file does not have (the
    /// page's defaults "label" and "index" apply only when present); otherwise an error.
    pub missing_columns_ok: bool,
}

/// Why a matrix file could not be read.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MatrixError {
    #[error("the file is empty")]
    Empty,
    #[error("not a CSV, NPY or safetensors file: {0}")]
    UnknownFormat(String),
    #[error("CSV line {line}: {message}")]
    Csv { line: usize, message: String },
    #[error("CSV line {line}, column `{column}`: `{value}` is not a number{hint}")]
    NotANumber { line: usize, column: String, value: String, hint: String },
    #[error("CSV has no column `{0}`{1}")]
    NoSuchColumn(String, String),
    #[error("NPY: {0}")]
    Npy(String),
    #[error("safetensors: {0}")]
    Safetensors(String),
    #[error("the matrix has no data columns")]
    NoColumns,
}

impl From<TensorFileError> for MatrixError {
    fn from(e: TensorFileError) -> Self {
        MatrixError::Safetensors(e.to_string())
    }
}

/// Reads a matrix, recognising the format from its first bytes.
pub fn read_matrix(bytes: &[u8], options: &MatrixOptions) -> Result<Matrix, MatrixError> {
    if bytes.is_empty() {
        return Err(MatrixError::Empty);
    }
    if bytes.starts_with(b"\x93NUMPY") {
        read_npy(bytes)
    } else if looks_like_safetensors(bytes) {
        read_safetensors(bytes, options.key.as_deref())
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        read_csv(text, options)
    } else {
        Err(MatrixError::UnknownFormat("binary data that is neither NumPy (.npy) nor safetensors".into()))
    }
}

fn is_number(field: &str) -> bool {
    field.trim().parse::<f64>().is_ok()
}

/// The delimiter of the first line: tab or semicolon when the line has those and no
/// comma, else comma.
fn delimiter(first_line: &str) -> u8 {
    if first_line.contains(',') {
        b','
    } else if first_line.contains('\t') {
        b'\t'
    } else if first_line.contains(';') {
        b';'
    } else {
        b','
    }
}

/// Finds a column by header name, or by 1-based number.
fn column_index(name: &str, header: Option<&[String]>, width: usize) -> Option<usize> {
    if let Some(i) = header.and_then(|h| h.iter().position(|c| c.trim() == name.trim())) {
        return Some(i);
    }
    match name.trim().parse::<usize>() {
        Ok(k) if k >= 1 && k <= width => Some(k - 1),
        _ => None,
    }
}

fn read_csv(text: &str, options: &MatrixOptions) -> Result<Matrix, MatrixError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line = text.lines().find(|l| !l.trim().is_empty()).ok_or(MatrixError::Empty)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter(first_line))
        .has_headers(false)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let csv_error = |e: csv::Error| MatrixError::Csv {
        line: e.position().map_or(0, |p| p.line() as usize),
        message: match e.kind() {
            csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                format!("{len} fields where the first line has {expected_len}")
            }
            _ => e.to_string(),
        },
    };
    let first = records.next().ok_or(MatrixError::Empty)?.map_err(csv_error)?;
    let width = first.len();
    let header: Option<Vec<String>> =
        first.iter().any(|f| !is_number(f)).then(|| first.iter().map(str::to_string).collect());
    let column_name = |i: usize| match &header {
        Some(h) => h[i].clone(),
        None => format!("{}", i + 1),
    };
    let find = |name: &str| -> Result<Option<usize>, MatrixError> {
        match column_index(name, header.as_deref(), width) {
            Some(i) => Ok(Some(i)),
            None if options.missing_columns_ok => Ok(None),
            None => Err(MatrixError::NoSuchColumn(
                name.to_string(),
                match &header {
                    Some(h) => format!(" (the header has: {})", h.join(", ")),
                    None => format!(" (no header row: name columns by number, 1 to {width})"),
                },
            )),
        }
    };
    let label_index = match &options.label_column {
        Some(name) => find(name)?,
        None => None,
    };
    let mut skip = vec![false; width];
    for name in &options.drop_columns {
        if let Some(i) = find(name)? {
            skip[i] = true;
        }
    }
    if let Some(i) = label_index {
        skip[i] = true;
    }
    let m = skip.iter().filter(|&&s| !s).count();
    if m == 0 {
        return Err(MatrixError::NoColumns);
    }
    let hint = if options.label_column.is_none() {
        " (name a label column to keep it out of the data)".to_string()
    } else {
        " (drop the column if it is not data)".to_string()
    };
    let mut values = Vec::new();
    let mut labels = label_index.map(|_| Vec::new());
    let mut n = 0;
    let mut parse_record = |record: &csv::StringRecord, line: usize| -> Result<(), MatrixError> {
        for (i, field) in record.iter().enumerate() {
            if Some(i) == label_index {
                labels.as_mut().expect("label column").push(field.to_string());
            } else if !skip[i] {
                let v = field.parse::<f32>().map_err(|_| MatrixError::NotANumber {
                    line,
                    column: column_name(i),
                    value: field.to_string(),
                    hint: hint.clone(),
                })?;
                values.push(v);
            }
        }
        n += 1;
        Ok(())
    };
    if header.is_none() {
        parse_record(&first, 1)?;
    }
    for record in records {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        parse_record(&record, line)?;
    }
    if n == 0 {
        return Err(MatrixError::Csv { line: 1, message: "a header row but no data rows".into() });
    }
    Ok(Matrix { n, m, values, labels, description: format!("CSV, {n} rows × {m} columns") })
}

/// Little-endian element types NumPy writes, and their sizes.
fn npy_element(descr: &str) -> Option<(char, usize)> {
    // By characters, not bytes: the header is any text a file says it is.
    let mut chars = descr.chars();
    if !matches!(chars.next()?, '<' | '|' | '=') {
        return None;
    }
    let kind = chars.next()?;
    let size: usize = chars.as_str().parse().ok()?;
    matches!((kind, size), ('f', 2 | 4 | 8) | ('i' | 'u', 1 | 2 | 4 | 8)).then_some((kind, size))
}

/// The value of `key` in NumPy's header dict, e.g. `'descr': '<f4'` → `'<f4'`.
fn npy_field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') { rest.find(')')? + 1 } else { rest.find([',', '}'])? };
    Some(rest[..end].trim())
}

fn read_npy(bytes: &[u8]) -> Result<Matrix, MatrixError> {
    let bad = |m: &str| MatrixError::Npy(m.to_string());
    if bytes.len() < 10 {
        return Err(bad("truncated header"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize, 12),
        v => return Err(MatrixError::Npy(format!("unsupported format version {v}"))),
    };
    let header = bytes
        .get(start..start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated or non-text header"))?;
    let descr = npy_field(header, "descr").ok_or_else(|| bad("header has no 'descr'"))?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let (kind, size) = npy_element(descr)
        .ok_or_else(|| MatrixError::Npy(format!("element type `{descr}` is not a little-endian number")))?;
    let fortran = npy_field(header, "fortran_order").ok_or_else(|| bad("header has no 'fortran_order'"))? == "True";
    let shape_text = npy_field(header, "shape").ok_or_else(|| bad("header has no 'shape'"))?;
    let shape: Vec<usize> = shape_text
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| MatrixError::Npy(format!("cannot read shape {shape_text}")))?;
    let (n, m) = match shape.as_slice() {
        [] => return Err(bad("a scalar, not a matrix")),
        [n] => (*n, Some(1)),
        [n, rest @ ..] => (*n, rest.iter().try_fold(1usize, |a, &d| a.checked_mul(d))),
    };
    // A header may claim any shape: sizes that overflow are refused, never wrapped.
    let too_large = || MatrixError::Npy(format!("shape {shape:?} is larger than any file"));
    let m = m.ok_or_else(too_large)?;
    let count = n.checked_mul(m).ok_or_else(too_large)?;
    let needed = count.checked_mul(size).ok_or_else(too_large)?;
    let data = &bytes[start + header_len..];
    if data.len() < needed {
        return Err(MatrixError::Npy(format!(
            "truncated: shape {shape:?} needs {needed} bytes of data, the file has {}",
            data.len()
        )));
    }
    let value = |b: &[u8]| -> f32 {
        match (kind, size) {
            ('f', 2) => half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
            ('f', 4) => f32::from_le_bytes(b.try_into().unwrap()),
            ('f', 8) => f64::from_le_bytes(b.try_into().unwrap()) as f32,
            ('i', 1) => b[0] as i8 as f32,
            ('u', 1) => b[0] as f32,
            ('i', 2) => i16::from_le_bytes(b.try_into().unwrap()) as f32,
            ('u', 2) => u16::from_le_bytes(b.try_into().unwrap()) as f32,
            ('i', 4) => i32::from_le_bytes(b.try_into().unwrap()) as f32,
            ('u', 4) => u32::from_le_bytes(b.try_into().unwrap()) as f32,
            ('i', 8) => i64::from_le_bytes(b.try_into().unwrap()) as f32,
            _ => u64::from_le_bytes(b.try_into().unwrap()) as f32,
        }
    };
    let flat: Vec<f32> = data[..needed].chunks_exact(size).map(value).collect();
    let values = if fortran && shape.len() > 1 {
        // Column-major [N, M] (all trailing dimensions flattened column-major too): the
        // element (i, j) sits at j·N + i.
        let mut out = vec![0.0f32; count];
        for j in 0..m {
            for i in 0..n {
                out[i * m + j] = flat[j * n + i];
            }
        }
        out
    } else {
        flat
    };
    Ok(Matrix { n, m, values, labels: None, description: format!("NPY {descr} {shape:?}") })
}

fn read_safetensors(bytes: &[u8], key: Option<&str>) -> Result<Matrix, MatrixError> {
    let tensors = read_f32_tensors(bytes)?;
    let names = || {
        let mut names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        names.join(", ")
    };
    let (name, tensor) = match key {
        Some(key) => tensors
            .iter()
            .find(|(n, _)| n == key)
            .ok_or_else(|| MatrixError::Safetensors(format!("no tensor `{key}`; the file has: {}", names())))?,
        None if tensors.len() == 1 => &tensors[0],
        None => {
            return Err(MatrixError::Safetensors(format!(
                "the file has several tensors ({}); choose one with --key",
                names()
            )));
        }
    };
    let (n, m) = match tensor.shape.as_slice() {
        [] => {
            return Err(MatrixError::Safetensors(format!("`{name}` is a scalar, not a matrix")));
        }
        [n] => (*n, 1),
        [n, rest @ ..] => (*n, rest.iter().product()),
    };
    Ok(Matrix {
        n,
        m,
        values: tensor.data.clone(),
        labels: None,
        description: format!("safetensors `{name}` {:?}", tensor.shape),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, fortran: bool, data: &[u8]) -> Vec<u8> {
        let mut header = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn csv_with_header_label_and_index_columns() {
        let text = "index,label,a,b\n0,cat,1.5,2\n1,dog,3,-4e-1\n";
        let opts = MatrixOptions {
            label_column: Some("label".into()),
            drop_columns: vec!["index".into()],
            ..Default::default()
        };
        let m = read_matrix(text.as_bytes(), &opts).unwrap();
        assert_eq!((m.n, m.m), (2, 2));
        assert_eq!(m.values, vec![1.5, 2.0, 3.0, -0.4]);
        assert_eq!(m.labels, Some(vec!["cat".to_string(), "dog".to_string()]));
    }

    #[test]
    fn csv_without_header_is_all_data_and_tabs_work() {
        let m = read_matrix(b"1\t2\t3\n4\t5\t6\n", &MatrixOptions::default()).unwrap();
        assert_eq!((m.n, m.m), (2, 3));
        assert_eq!(m.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // Without a header, columns are named by number.
        let opts = MatrixOptions { label_column: Some("1".into()), ..Default::default() };
        let m = read_matrix(b"7,2,3\n8,5,6\n", &opts).unwrap();
        assert_eq!(m.values, vec![2.0, 3.0, 5.0, 6.0]);
        assert_eq!(m.labels.unwrap(), vec!["7", "8"]);
    }

    #[test]
    fn csv_errors_name_the_line_and_column() {
        let err = read_matrix(b"a,b\n1,2\n3,x\n", &MatrixOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "CSV line 3, column `b`: `x` is not a number (name a label column to keep it out of the data)"
        );
        let err = read_matrix(b"1,2\n3\n", &MatrixOptions::default()).unwrap_err();
        assert!(err.to_string().contains("1 fields where the first line has 2"), "{err}");
        let opts = MatrixOptions { label_column: Some("class".into()), ..Default::default() };
        let err = read_matrix(b"a,b\n1,2\n", &opts).unwrap_err();
        assert_eq!(err.to_string(), "CSV has no column `class` (the header has: a, b)");
        // The page's defaults only apply when present.
        let opts = MatrixOptions { missing_columns_ok: true, ..opts };
        assert_eq!(read_matrix(b"a,b\n1,2\n", &opts).unwrap().m, 2);
        assert_eq!(
            read_matrix(b"a,b\n", &MatrixOptions::default()).unwrap_err().to_string(),
            "CSV line 1: a header row but no data rows"
        );
        assert_eq!(read_matrix(b"", &MatrixOptions::default()).unwrap_err(), MatrixError::Empty);
    }

    #[test]
    fn npy_c_and_fortran_order_and_dtypes() {
        let data: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let m = read_matrix(&npy("<f4", "(2, 3)", false, &data), &MatrixOptions::default()).unwrap();
        assert_eq!((m.n, m.m), (2, 3));
        assert_eq!(m.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let m = read_matrix(&npy("<f4", "(2, 3)", true, &data), &MatrixOptions::default()).unwrap();
        assert_eq!(m.values, vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        let data: Vec<u8> = [1.5f64, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let m = read_matrix(&npy("<f8", "(2,)", false, &data), &MatrixOptions::default()).unwrap();
        assert_eq!((m.n, m.m, m.values.clone()), (2, 1, vec![1.5, -2.0]));
        // [N, C, H, W] flattens per row.
        let data: Vec<u8> = (0..16u8).collect();
        let m = read_matrix(&npy("|u1", "(2, 2, 2, 2)", false, &data), &MatrixOptions::default()).unwrap();
        assert_eq!((m.n, m.m), (2, 8));
        assert_eq!(m.values[15], 15.0);
    }

    #[test]
    fn npy_refusals() {
        let err = read_matrix(&npy(">f4", "(1, 1)", false, &[0; 4]), &MatrixOptions::default()).unwrap_err();
        assert!(err.to_string().contains("`>f4` is not a little-endian number"), "{err}");
        let err = read_matrix(&npy("<f4", "(4, 4)", false, &[0; 8]), &MatrixOptions::default()).unwrap_err();
        assert!(err.to_string().contains("truncated: shape [4, 4] needs 64 bytes"), "{err}");
        assert!(matches!(
            read_matrix(&[0, 159, 146, 150], &MatrixOptions::default()),
            Err(MatrixError::UnknownFormat(_))
        ));
        // Found by fuzzing (tests/fixtures/fuzz-regressions/matrix/): an empty or non-ASCII
        // element type, and shapes whose sizes overflow, are refused rather than panicking.
        for descr in ["", "é4", "<é4"] {
            let err = read_matrix(&npy(descr, "(1, 1)", false, &[0; 4]), &MatrixOptions::default()).unwrap_err();
            assert!(err.to_string().contains("is not a little-endian number"), "{err}");
        }
        let huge = format!("({}, {})", usize::MAX / 2, 3);
        let err = read_matrix(&npy("<f4", &huge, false, &[0; 4]), &MatrixOptions::default()).unwrap_err();
        assert!(err.to_string().contains("is larger than any file"), "{err}");
    }

    #[test]
    fn safetensors_by_key_and_flattened() {
        let values: Vec<f32> = (0..24).map(|v| v as f32).collect();
        let bytes = crate::tensor_file::write_f32_tensors([
            ("pool1", &[2usize, 3, 2, 2][..], &values[..]),
            ("prob", &[2usize, 12][..], &values[..]),
        ])
        .unwrap();
        let opts = MatrixOptions { key: Some("pool1".into()), ..Default::default() };
        let m = read_matrix(&bytes, &opts).unwrap();
        assert_eq!((m.n, m.m), (2, 12));
        assert_eq!(m.values, values);
        let err = read_matrix(&bytes, &MatrixOptions::default()).unwrap_err();
        assert!(err.to_string().contains("several tensors (pool1, prob); choose one with --key"), "{err}");
        let opts = MatrixOptions { key: Some("conv10".into()), ..Default::default() };
        assert!(read_matrix(&bytes, &opts).unwrap_err().to_string().contains("no tensor `conv10`"));
    }
}
