//! `hpo register` and `hpo models list|show|alias|stage|describe|delete`.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::experiments::find;
use super::output::{json, num, table, time};
use super::BadInput;
use super::{open_tracker, open_tracker_to_read};
use crate::registry::{ModelSearch, ModelVersion, Registry, Stage};

/// Arguments of `register`.
#[derive(Args, Debug)]
pub struct RegisterArgs {
    /// Register this run (a trial's run id).
    #[arg(long, conflicts_with_all = ["best", "study"])]
    pub run: Option<String>,
    /// Register the best trial of this study (the study's run id).
    #[arg(long, conflicts_with = "best")]
    pub study: Option<String>,
    /// Register the best finished run of --experiment by its metric.
    #[arg(long, requires = "experiment")]
    pub best: bool,
    /// The experiment (name or id), with --best.
    #[arg(long, short)]
    pub experiment: Option<String>,
    /// The metric to rank by, with --best (default: the study metric, else `loss`).
    #[arg(long)]
    pub metric: Option<String>,
    /// Larger is better, with --best.
    #[arg(long)]
    pub maximize: bool,
    /// The artifact path inside the run that holds the model, with --run (e.g. `model`).
    #[arg(long)]
    pub artifact_path: Option<String>,
    /// The registered model's name (created if missing).
    #[arg(long)]
    pub name: String,
    /// Point this alias (e.g. champion) at the new version.
    #[arg(long)]
    pub alias: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Model registry commands.
#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// List registered models (filter e.g. "name LIKE 'nyc%'", "tags.team = 'ml'").
    List {
        /// A filter in the search language.
        #[arg(long, short, default_value = "")]
        filter: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a model and its versions, or one version (models:/NAME/3, models:/NAME@ALIAS).
    Show {
        /// A model name or a models:/ URI.
        model: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set (or move) an alias to a version, or delete it with --delete.
    Alias {
        /// The model.
        model: String,
        /// The alias, e.g. champion.
        alias: String,
        /// The version to point it at.
        version: Option<i64>,
        /// Delete the alias instead.
        #[arg(long)]
        delete: bool,
    },
    /// Move a version to a stage (None, Staging, Production, Archived).
    Stage {
        /// The model.
        model: String,
        /// The version.
        version: i64,
        /// The stage.
        stage: String,
        /// Archive the other versions in that stage.
        #[arg(long)]
        archive_others: bool,
    },
    /// Set the description of a model, or of one of its versions with --version.
    Describe {
        /// The model.
        model: String,
        /// The description.
        description: String,
        /// A version instead of the model.
        #[arg(long)]
        version: Option<i64>,
    },
    /// Delete a model, or one of its versions with --version.
    Delete {
        /// The model.
        model: String,
        /// Only this version.
        #[arg(long)]
        version: Option<i64>,
    },
}

fn print_version(v: &ModelVersion) {
    println!("model      {} version {}", v.name, v.version);
    println!("uri        models:/{}/{}", v.name, v.version);
    println!("source     {}", v.source);
    println!("run        {}", v.run_id);
    println!("stage      {}", v.current_stage.as_str());
    if !v.aliases.is_empty() {
        println!("aliases    {}", v.aliases.join(", "));
    }
    if !v.description.is_empty() {
        println!("about      {}", v.description);
    }
    println!("created    {} by {}", time(v.creation_time), v.user_id);
    println!("location   {}", v.storage_location);
    if !v.run_metrics.is_empty() {
        let m: Vec<String> = v
            .run_metrics
            .iter()
            .map(|m| format!("{}={}", m.key, num(m.value)))
            .collect();
        println!("metrics    {}", m.join(" "));
    }
    if !v.run_params.is_empty() {
        let p: Vec<String> = v
            .run_params
            .iter()
            .map(|p| format!("{}={}", p.key, p.value))
            .collect();
        println!("params     {}", p.join(" "));
    }
}

pub(crate) fn register(a: RegisterArgs, uri: &Option<String>) -> anyhow::Result<()> {
    let registry = Registry::new(open_tracker(uri)?)?;
    let version = if let Some(run) = &a.run {
        let source = match &a.artifact_path {
            Some(p) => format!("runs:/{run}/{p}"),
            None => format!("runs:/{run}"),
        };
        let v = registry.register_model(&source, &a.name, &[])?;
        if let Some(alias) = &a.alias {
            registry.set_alias(&a.name, alias, v.version)?;
        }
        registry.get_model_version(&a.name, v.version)?
    } else if let Some(study) = &a.study {
        registry.register_best_of_study(study, &a.name, a.alias.as_deref())?
    } else if a.best {
        let exp_name = a.experiment.as_deref().unwrap_or_default();
        let exp = find(registry.tracker(), exp_name)?;
        let (_, metric) = super::runs::best_run(
            registry.tracker(),
            exp_name,
            a.metric.as_deref(),
            a.maximize,
        )?;
        registry.register_best_of_experiment(
            exp.experiment_id,
            &metric,
            !a.maximize,
            &a.name,
            a.alias.as_deref(),
        )?
    } else {
        return Err(BadInput(
            "say what to register: --run RUN_ID, --study STUDY_RUN_ID, or --best --experiment NAME"
                .into(),
        )
        .into());
    };
    if a.json {
        return json(&version);
    }
    println!(
        "registered models:/{}/{} from {}",
        version.name, version.version, version.source
    );
    for alias in &version.aliases {
        println!("alias      models:/{}@{alias}", version.name);
    }
    Ok(())
}

pub(crate) fn run(cmd: ModelsCommand, uri: &Option<String>) -> anyhow::Result<()> {
    // every models command is about existing models: a missing store is an error, never created
    let registry = Registry::new(open_tracker_to_read(uri)?)?;
    match cmd {
        ModelsCommand::List {
            filter,
            json: as_json,
        } => {
            let page = registry.search_registered_models(&ModelSearch::new(&filter))?;
            if as_json {
                return json(&page.models);
            }
            let rows: Vec<Vec<String>> = page
                .models
                .iter()
                .map(|m| {
                    let aliases: Vec<String> = m
                        .aliases
                        .iter()
                        .map(|a| format!("{}->{}", a.alias, a.version))
                        .collect();
                    vec![
                        m.name.clone(),
                        m.latest_version.map(|v| v.to_string()).unwrap_or_default(),
                        aliases.join(" "),
                        time(m.last_updated_time),
                        m.description.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &["NAME", "LATEST", "ALIASES", "UPDATED", "DESCRIPTION"],
                    &rows
                )
            );
        }
        ModelsCommand::Show {
            model,
            json: as_json,
        } => {
            if model.starts_with("models:/") {
                let r = registry.resolve(&model)?;
                if as_json {
                    return json(&r.version);
                }
                print_version(&r.version);
                return Ok(());
            }
            let m = registry.get_registered_model(&model)?;
            let versions = registry
                .search_model_versions(
                    &ModelSearch::new(&format!("name = '{}'", model.replace('\'', "''")))
                        .order_by(&["version_number DESC"]),
                )?
                .versions;
            if as_json {
                #[derive(Serialize)]
                struct Show<'a> {
                    model: &'a crate::registry::RegisteredModel,
                    versions: &'a [ModelVersion],
                }
                return json(&Show {
                    model: &m,
                    versions: &versions,
                });
            }
            println!("model      {}", m.name);
            if !m.description.is_empty() {
                println!("about      {}", m.description);
            }
            println!("updated    {}", time(m.last_updated_time));
            let rows: Vec<Vec<String>> = versions
                .iter()
                .map(|v| {
                    vec![
                        v.version.to_string(),
                        v.current_stage.as_str().to_string(),
                        v.aliases.join(","),
                        v.run_id.clone(),
                        time(v.creation_time),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(&["VERSION", "STAGE", "ALIASES", "RUN", "CREATED"], &rows)
            );
        }
        ModelsCommand::Alias {
            model,
            alias,
            version,
            delete,
        } => {
            if delete {
                registry.delete_alias(&model, &alias)?;
                println!("deleted alias {alias} of {model}");
            } else {
                let v = version.ok_or_else(|| {
                    BadInput(format!(
                        "give the version for alias '{alias}' (or --delete)"
                    ))
                })?;
                registry.set_alias(&model, &alias, v)?;
                println!("models:/{model}@{alias} -> version {v}");
            }
        }
        ModelsCommand::Stage {
            model,
            version,
            stage,
            archive_others,
        } => {
            let s: Stage = stage.parse()?;
            let v = registry.transition_stage(&model, version, s, archive_others)?;
            println!(
                "{model} version {} is now {}",
                v.version,
                v.current_stage.as_str()
            );
        }
        ModelsCommand::Describe {
            model,
            description,
            version,
        } => {
            match version {
                Some(v) => {
                    registry.update_model_version_description(&model, v, &description)?;
                }
                None => {
                    registry.update_registered_model_description(&model, &description)?;
                }
            }
            println!("updated the description");
        }
        ModelsCommand::Delete { model, version } => match version {
            Some(v) => {
                registry.delete_model_version(&model, v)?;
                println!("deleted {model} version {v}");
            }
            None => {
                registry.delete_registered_model(&model)?;
                println!("deleted model {model}");
            }
        },
    }
    Ok(())
}
