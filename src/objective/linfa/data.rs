//! Data for the linfa objective: bundled data sets, CSV files, and seeded validation splits.

use std::fmt;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::LinfaError;

/// Where the objective's data comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    /// linfa's diabetes regression data (441 rows × 10 features; target: disease progression).
    Diabetes,
    /// linfa's red wine quality data (1599 rows × 11 features; target: quality label 3..8).
    WineQuality,
    /// The iris flowers (150 rows × 4 features; target: class 0, 1 or 2).
    Iris,
    /// A CSV file with a header row and numeric columns; `target` names the target column,
    /// every other column is a feature.
    Csv {
        /// The file.
        path: PathBuf,
        /// The target column's name.
        target: String,
    },
}

impl DataSource {
    /// A bundled data set by name: `diabetes`, `winequality` (or `wine`), `iris`.
    pub fn builtin(name: &str) -> Result<DataSource, LinfaError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "diabetes" => Ok(DataSource::Diabetes),
            "winequality" | "wine" | "wine_quality" => Ok(DataSource::WineQuality),
            "iris" => Ok(DataSource::Iris),
            _ => Err(LinfaError::UnknownDataset(name.to_string())),
        }
    }

    /// A CSV file and the name of its target column.
    pub fn csv(path: impl Into<PathBuf>, target: impl Into<String>) -> DataSource {
        DataSource::Csv {
            path: path.into(),
            target: target.into(),
        }
    }

    /// Load the data.
    pub fn load(&self) -> Result<Table, LinfaError> {
        match self {
            DataSource::Diabetes => {
                Ok(Table::from_linfa(linfa_datasets::diabetes(), "progression"))
            }
            DataSource::WineQuality => {
                let ds = linfa_datasets::winequality().map_targets(|&c| c as f64);
                Ok(Table::from_linfa(ds, "quality"))
            }
            DataSource::Iris => {
                let ds = linfa_datasets::iris().map_targets(|&c| c as f64);
                Ok(Table::from_linfa(ds, "class"))
            }
            DataSource::Csv { path, target } => {
                let csv = CsvText::read(path)?;
                let t = csv.column_index(target)?;
                let features: Vec<usize> = (0..csv.header.len()).filter(|&i| i != t).collect();
                let records = csv.numeric(&features)?;
                let targets = csv.numeric(&[t])?.column(0).to_owned();
                Ok(Table {
                    records,
                    targets,
                    feature_names: features.iter().map(|&i| csv.header[i].clone()).collect(),
                    target_name: target.clone(),
                })
            }
        }
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Diabetes => f.write_str("diabetes"),
            DataSource::WineQuality => f.write_str("winequality"),
            DataSource::Iris => f.write_str("iris"),
            DataSource::Csv { path, target } => {
                write!(f, "csv:{} (target {target})", path.display())
            }
        }
    }
}

/// Loaded data: a feature matrix, a numeric target, and their names.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Rows × features.
    pub records: Array2<f64>,
    /// One target value per row (class labels as numbers).
    pub targets: Array1<f64>,
    /// The feature names, one per column of `records`.
    pub feature_names: Vec<String>,
    /// The target's name.
    pub target_name: String,
}

impl Table {
    fn from_linfa(ds: linfa::Dataset<f64, f64, ndarray::Ix1>, target: &str) -> Table {
        let feature_names = ds.feature_names().to_vec();
        let linfa::DatasetBase {
            records, targets, ..
        } = ds;
        let n = records.ncols();
        Table {
            records,
            targets,
            feature_names: if feature_names.len() == n {
                feature_names
            } else {
                (0..n).map(|i| format!("feature_{i}")).collect()
            },
            target_name: target.to_string(),
        }
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.records.nrows()
    }

    /// The rows at `idx` (records and targets).
    pub fn rows(&self, idx: &[usize]) -> (Array2<f64>, Array1<f64>) {
        (
            self.records.select(Axis(0), idx),
            self.targets.select(Axis(0), idx),
        )
    }
}

/// How trials are validated.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validation {
    /// Train on a shuffled part, score on the rest: `fraction` of the rows (0 < f < 1) are
    /// held out for validation.
    Holdout {
        /// The validation fraction (default 0.2).
        fraction: f64,
    },
    /// k-fold cross-validation over shuffled rows (k ≥ 2); scores are averaged over folds.
    KFold {
        /// The number of folds.
        k: usize,
    },
}

impl Default for Validation {
    fn default() -> Self {
        Validation::Holdout { fraction: 0.2 }
    }
}

impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validation::Holdout { fraction } => write!(f, "holdout({fraction})"),
            Validation::KFold { k } => write!(f, "kfold({k})"),
        }
    }
}

/// One train/validation split: row indices into the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Rows to train on.
    pub train: Vec<usize>,
    /// Rows to score on.
    pub valid: Vec<usize>,
}

impl Validation {
    /// The splits of `n` rows, shuffled with `seed` (the same seed gives the same splits).
    pub fn splits(&self, n: usize, seed: u64) -> Result<Vec<Split>, LinfaError> {
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        order.shuffle(&mut rng);
        match *self {
            Validation::Holdout { fraction } => {
                if !(fraction > 0.0 && fraction < 1.0) {
                    return Err(LinfaError::InvalidValidation(format!(
                        "the validation fraction must be in (0, 1), got {fraction}"
                    )));
                }
                let n_valid = ((n as f64) * fraction).round() as usize;
                let n_valid = n_valid.clamp(1, n.saturating_sub(2).max(1));
                if n < 3 {
                    return Err(LinfaError::TooFewRows { rows: n, needed: 3 });
                }
                let (valid, train) = order.split_at(n_valid);
                Ok(vec![Split {
                    train: train.to_vec(),
                    valid: valid.to_vec(),
                }])
            }
            Validation::KFold { k } => {
                if k < 2 {
                    return Err(LinfaError::InvalidValidation(format!(
                        "k-fold needs k >= 2, got {k}"
                    )));
                }
                if n < 2 * k {
                    return Err(LinfaError::TooFewRows {
                        rows: n,
                        needed: 2 * k,
                    });
                }
                Ok((0..k)
                    .map(|i| {
                        let (lo, hi) = (i * n / k, (i + 1) * n / k);
                        Split {
                            train: order[..lo].iter().chain(&order[hi..]).copied().collect(),
                            valid: order[lo..hi].to_vec(),
                        }
                    })
                    .collect())
            }
        }
    }
}

/// A CSV file's text split into a header and rows of cells (with their line numbers).
pub(crate) struct CsvText {
    path: PathBuf,
    /// Column names.
    pub header: Vec<String>,
    /// (1-based line number, cells).
    rows: Vec<(usize, Vec<String>)>,
}

/// Split one CSV line into trimmed cells (double quotes group commas; `""` is a quote).
fn split_line(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => cells.push(std::mem::take(&mut cell).trim().to_string()),
            c => cell.push(c),
        }
    }
    cells.push(cell.trim().to_string());
    cells
}

impl CsvText {
    /// Read and split a CSV file; a header row and at least one data row are required.
    pub fn read(path: &Path) -> Result<CsvText, LinfaError> {
        let text = std::fs::read_to_string(path).map_err(|source| LinfaError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
            .filter(|(_, l)| !l.trim().is_empty());
        let header = match lines.next() {
            Some((_, l)) => split_line(l),
            None => {
                return Err(LinfaError::EmptyCsv {
                    path: path.to_path_buf(),
                })
            }
        };
        let rows: Vec<(usize, Vec<String>)> = lines.map(|(n, l)| (n, split_line(l))).collect();
        if rows.is_empty() {
            return Err(LinfaError::NoDataRows {
                path: path.to_path_buf(),
            });
        }
        for (line, cells) in &rows {
            if cells.len() != header.len() {
                return Err(LinfaError::RaggedRow {
                    path: path.to_path_buf(),
                    line: *line,
                    expected: header.len(),
                    found: cells.len(),
                });
            }
        }
        Ok(CsvText {
            path: path.to_path_buf(),
            header,
            rows,
        })
    }

    /// The index of the column `name`, or an error listing the columns.
    pub fn column_index(&self, name: &str) -> Result<usize, LinfaError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| LinfaError::MissingColumn {
                path: self.path.clone(),
                column: name.to_string(),
                available: self.header.clone(),
            })
    }

    /// The columns `cols` as a rows × cols matrix of finite numbers.
    pub fn numeric(&self, cols: &[usize]) -> Result<Array2<f64>, LinfaError> {
        let mut out = Array2::zeros((self.rows.len(), cols.len()));
        for (r, (line, cells)) in self.rows.iter().enumerate() {
            for (c, &col) in cols.iter().enumerate() {
                let cell = &cells[col];
                match cell.parse::<f64>() {
                    Ok(x) if x.is_finite() => out[[r, c]] = x,
                    _ => {
                        return Err(LinfaError::BadCell {
                            path: self.path.clone(),
                            line: *line,
                            column: self.header[col].clone(),
                            column_number: col + 1,
                            value: cell.clone(),
                        })
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_line_handles_quotes() {
        assert_eq!(split_line(r#"a, "b,c" ,"d""e""#), vec!["a", "b,c", "d\"e"]);
        assert_eq!(split_line(""), vec![""]);
    }

    #[test]
    fn holdout_and_kfold_partition_the_rows() {
        let s = Validation::Holdout { fraction: 0.2 }.splits(10, 1).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].valid.len(), 2);
        let mut all: Vec<usize> = s[0].train.iter().chain(&s[0].valid).copied().collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        let folds = Validation::KFold { k: 3 }.splits(10, 1).unwrap();
        let mut valid: Vec<usize> = folds.iter().flat_map(|f| f.valid.clone()).collect();
        valid.sort();
        assert_eq!(valid, (0..10).collect::<Vec<_>>());
        assert!(folds.iter().all(|f| f.train.len() + f.valid.len() == 10));
        assert_eq!(
            Validation::KFold { k: 3 }.splits(10, 1).unwrap(),
            folds,
            "same seed, same folds"
        );
        assert_ne!(Validation::KFold { k: 3 }.splits(10, 2).unwrap(), folds);
    }

    #[test]
    fn bad_validation_settings() {
        assert!(Validation::KFold { k: 1 }.splits(10, 0).is_err());
        assert!(Validation::KFold { k: 6 }.splits(10, 0).is_err());
        assert!(Validation::Holdout { fraction: 1.0 }.splits(10, 0).is_err());
        assert!(Validation::Holdout { fraction: f64::NAN }
            .splits(10, 0)
            .is_err());
        assert!(Validation::Holdout { fraction: 0.5 }.splits(2, 0).is_err());
    }

    #[test]
    fn bundled_data_sets_have_their_shapes() {
        let d = DataSource::Diabetes.load().unwrap();
        assert_eq!(d.records.dim(), (441, 10));
        assert_eq!(d.feature_names.len(), 10);
        assert_eq!(DataSource::Iris.load().unwrap().records.dim(), (150, 4));
        assert_eq!(
            DataSource::builtin("wine")
                .unwrap()
                .load()
                .unwrap()
                .records
                .dim(),
            (1599, 11)
        );
        assert!(DataSource::builtin("mnist").is_err());
    }
}
