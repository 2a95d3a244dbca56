//! Parsing of the two URI schemes of the registry: `models:/` (what to load) and `runs:/` (what to register).
//!
//! A model URI names a registered model and one of its versions: `models:/<name>/<version>`,
//! `models:/<name>/latest` (the highest live version), `models:/<name>@<alias>`, or the legacy
//! `models:/<name>/<stage>` (the highest version in that stage). A run URI names a run and optionally an
//! artifact path inside it: `runs:/<run_id>` or `runs:/<run_id>/<artifact path>`. Parsing only checks the
//! shape; [`Registry::resolve`](super::Registry::resolve) looks the names up.

use std::fmt;

use crate::tracking::store::validate_run_id;

use super::error::RegistryError;
use super::model::{validate_alias, validate_model_name, Stage};

/// The scheme prefix of model URIs.
pub const MODELS_SCHEME: &str = "models:/";
/// The scheme prefix of run URIs.
pub const RUNS_SCHEME: &str = "runs:/";

const MODEL_FORMS: &str =
    "expected models:/<name>/<version>, models:/<name>/latest, models:/<name>@<alias> or models:/<name>/<stage>";
const RUN_FORMS: &str = "expected runs:/<run_id> or runs:/<run_id>/<artifact path>";

/// Which version of a model a URI refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionRef {
    /// A version number.
    Number(i64),
    /// The highest live version.
    Latest,
    /// The version an alias points to.
    Alias(String),
    /// The highest live version in a stage (legacy).
    Stage(Stage),
}

/// A parsed `models:/` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelUri {
    /// The registered model name.
    pub name: String,
    /// The version reference.
    pub version: VersionRef,
}

impl fmt::Display for ModelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            VersionRef::Number(n) => write!(f, "{MODELS_SCHEME}{}/{n}", self.name),
            VersionRef::Latest => write!(f, "{MODELS_SCHEME}{}/latest", self.name),
            VersionRef::Alias(a) => write!(f, "{MODELS_SCHEME}{}@{a}", self.name),
            VersionRef::Stage(s) => write!(f, "{MODELS_SCHEME}{}/{s}", self.name),
        }
    }
}

/// Parses a `models:/` URI.
pub fn parse_model_uri(uri: &str) -> Result<ModelUri, RegistryError> {
    let invalid = |reason: String| RegistryError::InvalidUri {
        uri: uri.to_string(),
        reason,
    };
    let Some(rest) = uri.trim().strip_prefix(MODELS_SCHEME) else {
        return Err(invalid(format!("not a model URI; {MODEL_FORMS}")));
    };
    let (name, version) = if let Some((name, spec)) = rest.split_once('/') {
        let spec = spec.trim_end_matches('/');
        let version = if spec.eq_ignore_ascii_case("latest") {
            VersionRef::Latest
        } else if !spec.is_empty() && spec.chars().all(|c| c.is_ascii_digit()) {
            match spec.parse::<i64>() {
                Ok(n) if n >= 1 => VersionRef::Number(n),
                _ => {
                    return Err(invalid(format!(
                        "version '{spec}' is not a version number (1, 2, 3 ...)"
                    )))
                }
            }
        } else if let Ok(stage) = spec.parse::<Stage>() {
            VersionRef::Stage(stage)
        } else {
            return Err(invalid(format!(
                "'{spec}' is neither a version number, 'latest' nor a stage; {MODEL_FORMS}"
            )));
        };
        (name, version)
    } else if let Some((name, alias)) = rest.rsplit_once('@') {
        validate_alias(alias).map_err(|e| invalid(e.to_string()))?;
        (name, VersionRef::Alias(alias.to_string()))
    } else {
        return Err(invalid(format!(
            "no version, 'latest' or alias; {MODEL_FORMS}"
        )));
    };
    validate_model_name(name).map_err(|e| invalid(e.to_string()))?;
    Ok(ModelUri {
        name: name.to_string(),
        version,
    })
}

/// A parsed `runs:/` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunUri {
    /// The run.
    pub run_id: String,
    /// The artifact path inside the run, normalized (no empty or `.` segments, no leading or trailing `/`);
    /// empty for the whole artifact directory.
    pub artifact_path: String,
}

impl fmt::Display for RunUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.artifact_path.is_empty() {
            write!(f, "{RUNS_SCHEME}{}", self.run_id)
        } else {
            write!(f, "{RUNS_SCHEME}{}/{}", self.run_id, self.artifact_path)
        }
    }
}

/// Parses a `runs:/<run_id>[/<artifact path>]` URI, refusing paths that leave the run's artifacts (`..`).
pub fn parse_run_uri(uri: &str) -> Result<RunUri, RegistryError> {
    let invalid = |reason: String| RegistryError::InvalidUri {
        uri: uri.to_string(),
        reason,
    };
    let Some(rest) = uri.trim().strip_prefix(RUNS_SCHEME) else {
        return Err(invalid(format!("not a run URI; {RUN_FORMS}")));
    };
    let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
    if run_id.is_empty() {
        return Err(invalid(format!("the run id is missing; {RUN_FORMS}")));
    }
    validate_run_id(run_id).map_err(|e| invalid(e.to_string()))?;
    let mut parts = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                return Err(invalid(
                    "'..' is not allowed in the artifact path".to_string(),
                ))
            }
            p if p.chars().any(char::is_control) => {
                return Err(invalid(
                    "control characters are not allowed in the artifact path".to_string(),
                ))
            }
            p => parts.push(p),
        }
    }
    Ok(RunUri {
        run_id: run_id.to_string(),
        artifact_path: parts.join("/"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(uri: &str) -> ModelUri {
        match parse_model_uri(uri) {
            Ok(m) => m,
            Err(e) => panic!("{uri}: {e}"),
        }
    }

    #[test]
    fn model_uri_forms() {
        assert_eq!(model("models:/nyc/3").version, VersionRef::Number(3));
        assert_eq!(model("models:/nyc/3").name, "nyc");
        assert_eq!(model("models:/nyc/latest").version, VersionRef::Latest);
        assert_eq!(model("models:/nyc/LATEST").version, VersionRef::Latest);
        assert_eq!(
            model("models:/nyc@champion").version,
            VersionRef::Alias("champion".into())
        );
        assert_eq!(
            model("models:/a@b@champion"),
            ModelUri {
                name: "a@b".into(),
                version: VersionRef::Alias("champion".into())
            }
        );
        assert_eq!(
            model("models:/nyc/production").version,
            VersionRef::Stage(Stage::Production)
        );
        assert_eq!(model("models:/my model/2").name, "my model");
        for uri in [
            "models:/nyc/3",
            "models:/nyc/latest",
            "models:/nyc@champion",
        ] {
            assert_eq!(model(uri).to_string(), uri);
        }
    }

    #[test]
    fn bad_model_uris() {
        for bad in [
            "nyc/3",
            "runs:/abc",
            "models:/nyc",
            "models:/nyc/0",
            "models:/nyc/-1",
            "models:/nyc/x",
            "models:/nyc/99999999999999999999",
            "models:/nyc@",
            "models:/nyc@latest",
            "models:/nyc@v2",
            "models:/@champion",
            "models://3",
            "models:/a/b/3",
        ] {
            assert!(
                matches!(parse_model_uri(bad), Err(RegistryError::InvalidUri { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn run_uris() {
        let id = "0123456789abcdef0123456789abcdef";
        let r = parse_run_uri(&format!("runs:/{id}")).unwrap();
        assert_eq!((r.run_id.as_str(), r.artifact_path.as_str()), (id, ""));
        let r = parse_run_uri(&format!("runs:/{id}/./model//sub/")).unwrap();
        assert_eq!(r.artifact_path, "model/sub");
        assert_eq!(r.to_string(), format!("runs:/{id}/model/sub"));
        for bad in [
            "runs:/".to_string(),
            "runs://model".to_string(),
            format!("runs:/{id}/../x"),
            "runs:/../x".to_string(),
            format!("run:/{id}"),
        ] {
            assert!(
                matches!(parse_run_uri(&bad), Err(RegistryError::InvalidUri { .. })),
                "{bad:?}"
            );
        }
    }
}
