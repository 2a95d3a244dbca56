//! Model and version searches compiled to SQL, for every registry backend.
//!
//! A search's filter and order_by are parsed with the tracking filter language
//! ([`search::parse_filter_for`]) against the fields a registered model or a version has, then compiled
//! with the [`Bindings`] of the backend's [`Dialect`]: the same tree gives SQLite's `?N` or PostgreSQL's
//! typed `$N` statement over the same tables, so both backends filter, order and page alike.

use crate::tracking::search::{self, Bindings, Dialect, FieldSpec, Identifier, SqlValue};
use crate::tracking::store::MAX_RESULTS_LIMIT;

use super::error::RegistryError;
use super::model::ModelSearch;

type Res<T> = Result<T, RegistryError>;

/// Registered model fields usable in filters and order_by.
pub const MODEL_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "name",
        numeric: false,
    },
    FieldSpec {
        name: "description",
        numeric: false,
    },
    FieldSpec {
        name: "creation_time",
        numeric: true,
    },
    FieldSpec {
        name: "creation_timestamp",
        numeric: true,
    },
    FieldSpec {
        name: "last_updated_time",
        numeric: true,
    },
    FieldSpec {
        name: "last_updated_timestamp",
        numeric: true,
    },
];

/// Model version fields usable in filters and order_by.
pub const VERSION_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "name",
        numeric: false,
    },
    FieldSpec {
        name: "version_number",
        numeric: true,
    },
    FieldSpec {
        name: "version",
        numeric: true,
    },
    FieldSpec {
        name: "run_id",
        numeric: false,
    },
    FieldSpec {
        name: "source",
        numeric: false,
    },
    FieldSpec {
        name: "current_stage",
        numeric: false,
    },
    FieldSpec {
        name: "user_id",
        numeric: false,
    },
    FieldSpec {
        name: "description",
        numeric: false,
    },
    FieldSpec {
        name: "storage_location",
        numeric: false,
    },
    FieldSpec {
        name: "creation_time",
        numeric: true,
    },
    FieldSpec {
        name: "creation_timestamp",
        numeric: true,
    },
    FieldSpec {
        name: "last_updated_time",
        numeric: true,
    },
    FieldSpec {
        name: "last_updated_timestamp",
        numeric: true,
    },
];

fn model_column(ident: &Identifier, q: &mut Bindings) -> String {
    match ident {
        Identifier::Field(f) => match f.as_str() {
            "name" => "m.name".into(),
            "description" => "m.description".into(),
            "creation_time" | "creation_timestamp" => "m.creation_time".into(),
            "last_updated_time" | "last_updated_timestamp" => "m.last_updated_time".into(),
            _ => "NULL".into(),
        },
        Identifier::Tag(key) => {
            let k = q.bind(SqlValue::Text(key.clone()));
            format!("(SELECT t.value FROM registered_model_tags t WHERE t.name = m.name AND t.key = {k})")
        }
        _ => "NULL".into(),
    }
}

fn version_column(ident: &Identifier, q: &mut Bindings) -> String {
    match ident {
        Identifier::Field(f) => match f.as_str() {
            "name" => "v.name".into(),
            "version_number" | "version" => "v.version".into(),
            "run_id" => "v.run_id".into(),
            "source" => "v.source".into(),
            "current_stage" => "v.current_stage".into(),
            "user_id" => "v.user_id".into(),
            "description" => "v.description".into(),
            "storage_location" => "v.storage_location".into(),
            "creation_time" | "creation_timestamp" => "v.creation_time".into(),
            "last_updated_time" | "last_updated_timestamp" => "v.last_updated_time".into(),
            _ => "NULL".into(),
        },
        Identifier::Tag(key) => {
            let k = q.bind(SqlValue::Text(key.clone()));
            format!(
                "(SELECT t.value FROM model_version_tags t
                  WHERE t.name = v.name AND t.version = v.version AND t.key = {k})"
            )
        }
        _ => "NULL".into(),
    }
}

/// A search compiled to SQL: the statement, its bound values and the paging state.
pub(crate) struct CompiledSearch {
    /// The statement: the page's keys, one row more than asked for (to tell whether more follow).
    pub sql: String,
    /// The values of its placeholders, in the dialect it was compiled for.
    pub bindings: Bindings,
    /// How many rows earlier pages returned.
    pub offset: usize,
    /// The fingerprint of the query, carried in page tokens.
    pub fingerprint: u64,
}

impl CompiledSearch {
    /// The token of the page after this one, when the query returned more than `max_results` rows.
    pub fn next_page_token(&self, has_more: bool, max_results: usize) -> Option<String> {
        has_more.then(|| search::encode_page_token(self.offset + max_results, self.fingerprint))
    }
}

/// Compiles a registered model search: the statement selects `m.name`.
pub(crate) fn compile_model_search(query: &ModelSearch, dialect: Dialect) -> Res<CompiledSearch> {
    compile_search(
        "registered_models",
        query,
        dialect,
        MODEL_FIELDS,
        &model_column,
        "SELECT m.name FROM registered_models m",
        "1 = 1",
        &["m.name ASC"],
    )
}

/// Compiles a model version search over live versions: the statement selects `v.name, v.version`.
pub(crate) fn compile_version_search(query: &ModelSearch, dialect: Dialect) -> Res<CompiledSearch> {
    compile_search(
        "model_versions",
        query,
        dialect,
        VERSION_FIELDS,
        &version_column,
        "SELECT v.name, v.version FROM model_versions v",
        "v.deleted_time IS NULL",
        &["v.name ASC", "v.version DESC"],
    )
}

/// Parses and compiles a model or version search. `select_from` is `SELECT <cols> FROM <table> <alias>`,
/// `base` a condition always applied, `tiebreak` the final ORDER BY terms.
#[allow(clippy::too_many_arguments)]
fn compile_search(
    kind: &str,
    query: &ModelSearch,
    dialect: Dialect,
    fields: &[FieldSpec],
    column: &dyn Fn(&Identifier, &mut Bindings) -> String,
    select_from: &str,
    base: &str,
    tiebreak: &[&str],
) -> Res<CompiledSearch> {
    if query.max_results == 0 || query.max_results > MAX_RESULTS_LIMIT {
        return Err(search::SearchError::InvalidMaxResults {
            limit: MAX_RESULTS_LIMIT,
            got: query.max_results,
        }
        .into());
    }
    let filter = search::parse_filter_for(&query.filter, fields)?;
    let order = query
        .order_by
        .iter()
        .enumerate()
        .map(|(i, c)| search::parse_order_by_for(c, i, fields))
        .collect::<Result<Vec<_>, _>>()?;
    let mut parts: Vec<&str> = vec![kind, &query.filter, "|order|"];
    parts.extend(query.order_by.iter().map(String::as_str));
    let fingerprint = search::query_fingerprint(&parts);
    let offset = match &query.page_token {
        Some(t) => search::decode_page_token(t, fingerprint)?,
        None => 0,
    };
    let mut b = Bindings {
        params: Vec::new(),
        dialect,
    };
    let mut conds = vec![base.to_string()];
    if let Some(expr) = &filter {
        conds.push(search::compile_filter_with(expr, &mut b, column));
    }
    let order_sql = search::compile_order_with(&order, &mut b, column, tiebreak);
    let limit = b.bind(SqlValue::Integer(query.max_results as i64 + 1));
    let off = b.bind(SqlValue::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
    let sql = format!(
        "{select_from} WHERE {} ORDER BY {order_sql} LIMIT {limit} OFFSET {off}",
        conds.join(" AND ")
    );
    Ok(CompiledSearch {
        sql,
        bindings: b,
        offset,
        fingerprint,
    })
}
