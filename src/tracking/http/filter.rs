//! hpo's search words in MLflow's: a filter or an ordering hpo writes (`parent_run_id = '..'`,
//! `tags.hpo.parentRunId`) rewritten so a real MLflow server understands it too. hpo's server
//! reads MLflow's form as well, so the rewritten text is sent to both.

use super::json::{MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME};
use crate::tracking::store::{TAG_PARENT_RUN_ID, TAG_RUN_NAME};

/// `clause` with hpo's attribute `parent_run_id` and hpo's system tag names replaced by MLflow's
/// tags; quoted text is left alone.
pub(crate) fn to_mlflow(clause: &str) -> String {
    let mut out = String::with_capacity(clause.len() + 16);
    let chars: Vec<char> = clause.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            // a string literal: copied as it is
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .map_or(chars.len(), |p| i + 1 + p + 1);
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.' | '`'))
            {
                if chars[i] == '`' {
                    // a backquoted key: up to the closing backquote
                    i += chars[i + 1..]
                        .iter()
                        .position(|&d| d == '`')
                        .map_or(chars.len() - i, |p| p + 2);
                } else {
                    i += 1;
                }
            }
            let word: String = chars[start..i.min(chars.len())].iter().collect();
            out.push_str(&translate_word(&word));
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// `filter` with each `metrics.<key> IS NOT NULL` written as a comparison MLflow's server
/// accepts (it takes IS [NOT] NULL on params and tags only): `>= -1.7976931348623157e308`, which
/// leaves out the runs without the metric (and those whose value is -inf or NaN). `None` when the
/// filter has no such clause.
pub(crate) fn metric_presence_as_comparison(filter: &str) -> Option<String> {
    const CLAUSE: &str = " IS NOT NULL";
    let upper = filter.to_ascii_uppercase();
    let mut out = String::with_capacity(filter.len() + 16);
    let mut copied = 0;
    let mut changed = false;
    let mut from = 0;
    while let Some(found) = upper[from..].find(CLAUSE) {
        let at = from + found;
        from = at + CLAUSE.len();
        let before = filter[..at].trim_end();
        let word_start = before
            .rfind(|c: char| c.is_whitespace() || c == '(')
            .map_or(0, |i| i + 1);
        if !before[word_start..]
            .to_ascii_lowercase()
            .starts_with("metrics.")
        {
            continue;
        }
        out.push_str(&filter[copied..at]);
        out.push_str(" >= -1.7976931348623157e308");
        copied = from;
        changed = true;
    }
    out.push_str(&filter[copied..]);
    changed.then_some(out)
}

fn translate_word(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    if lower == "parent_run_id" || lower == "attributes.parent_run_id" {
        return format!("tags.`{MLFLOW_PARENT_RUN_ID}`");
    }
    let Some(key) = word
        .strip_prefix("tags.")
        .or_else(|| word.strip_prefix("tag."))
    else {
        return word.to_string();
    };
    let key = key.trim_matches('`');
    if key == TAG_PARENT_RUN_ID {
        format!("tags.`{MLFLOW_PARENT_RUN_ID}`")
    } else if key == TAG_RUN_NAME {
        format!("tags.`{MLFLOW_RUN_NAME}`")
    } else {
        word.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpo_words_become_mlflow_tags() {
        assert_eq!(
            to_mlflow("parent_run_id = 'abc'"),
            "tags.`mlflow.parentRunId` = 'abc'"
        );
        assert_eq!(
            to_mlflow("tags.`hpo.parentRunId` = 'x' and tags.hpo.runName = 'parent_run_id'"),
            "tags.`mlflow.parentRunId` = 'x' and tags.`mlflow.runName` = 'parent_run_id'"
        );
        assert_eq!(
            to_mlflow("metrics.`loss` < 0.5 AND tags.`hpo.runType` = 'study'"),
            "metrics.`loss` < 0.5 AND tags.`hpo.runType` = 'study'"
        );
        assert_eq!(
            to_mlflow("attributes.start_time DESC"),
            "attributes.start_time DESC"
        );
        assert_eq!(to_mlflow(""), "");
    }

    #[test]
    fn metric_presence_becomes_a_comparison() {
        assert_eq!(
            metric_presence_as_comparison(
                "attributes.status = 'FINISHED' and metrics.`loss` IS NOT NULL"
            )
            .as_deref(),
            Some("attributes.status = 'FINISHED' and metrics.`loss` >= -1.7976931348623157e308")
        );
        assert_eq!(metric_presence_as_comparison("params.lr IS NOT NULL"), None);
    }
}
