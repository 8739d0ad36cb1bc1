//! The comparison of the Odoo 16 catalog with the Odoo 19 catalog under the rules: which source
//! table goes to which target table, and every difference a migration must handle (modules, models,
//! columns, types, required columns, company-dependent storage, many2many tables, selections), each
//! marked as covered by a rule or not, and as blocking or not. `analyze` is this module's command.
//!
//! Split by concern: `models` (modules, models, many2many tables), `columns` (the columns of each
//! paired table), `selections` (selection values read from the source's data). Reads the catalogs
//! (and, for selection values, the source's rows); writes only `odoo_migrate.analysis_findings`.

mod columns;
mod models;
mod selections;

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::catalog::session::Session;
use crate::rules::pairing::{TableKind, pair_tables};
use crate::rules::{Policy, Rules};
use crate::side_schema;

pub use selections::unknown_selection_values;

/// One difference between the databases.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub category: &'static str,
    pub subject: String,
    pub detail: String,
    pub blocking: bool,
    /// The rule, or the automatic conversion, that handles the difference; `None` when nothing does.
    pub covered_by: Option<String>,
}

/// The whole analysis, as reported and stored.
#[derive(Debug, Serialize)]
pub struct Analysis {
    pub source_database: String,
    pub target_database: String,
    pub source_version: String,
    pub target_version: String,
    pub findings: Vec<Finding>,
    /// Rows per source table that will be migrated, with its model.
    pub rows_per_model: Vec<ModelRows>,
    pub xmlids_per_module: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize)]
pub struct ModelRows {
    pub model: String,
    pub table: String,
    pub rows: i64,
    pub policy: Policy,
}

impl Analysis {
    pub fn blocking(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.blocking)
    }
}

/// Category names, also the keys of the report's sections.
pub mod category {
    pub const MODULE_MISSING: &str = "module_missing_in_target";
    pub const MODULE_NEW: &str = "module_only_in_target";
    pub const MODEL_RENAMED: &str = "model_renamed";
    pub const MODEL_REMOVED: &str = "model_only_in_source";
    pub const MODEL_NEW: &str = "model_only_in_target";
    pub const RELATION_CHANGED: &str = "many2many_table_changed";
    pub const COLUMN_REMOVED: &str = "column_removed";
    pub const COLUMN_ADDED: &str = "column_added";
    pub const COLUMN_RENAMED: &str = "column_renamed";
    pub const TYPE_CHANGED: &str = "type_changed";
    pub const REQUIRED_NEW: &str = "new_required_column";
    pub const COMPANY_DEPENDENT: &str = "company_dependent_storage";
    pub const SELECTION_CHANGED: &str = "selection_values_removed";
    pub const SELECTION_UNKNOWN: &str = "selection_value_unknown";
    pub const VALUE_UNKNOWABLE: &str = "value_unknowable";
}

/// Compares the catalogs under the rules.
pub fn analyze(source: &Catalog, target: &Catalog, rules: &Rules) -> Analysis {
    let mut findings = Vec::new();
    models::module_findings(source, target, rules, &mut findings);
    let pairs = pair_tables(source, target, rules);
    models::model_findings(source, target, rules, &pairs, &mut findings);
    for pair in &pairs {
        if pair.policy == Policy::Skip {
            continue;
        }
        let Some(target_table_name) = &pair.target_table else {
            continue;
        };
        let (Some(source_table), Some(target_table)) = (
            source.tables.get(&pair.source_table),
            target.tables.get(target_table_name),
        ) else {
            continue;
        };
        columns::column_findings(
            source,
            target,
            rules,
            pair,
            source_table,
            target_table,
            &mut findings,
        );
    }
    unknowable_findings(&pairs, rules, &mut findings);
    findings.sort_by(|a, b| {
        (b.blocking, a.category, &a.subject).cmp(&(a.blocking, b.category, &b.subject))
    });
    let rows_per_model = pairs
        .iter()
        .filter(|p| p.kind == TableKind::Model && !p.transient)
        .map(|p| ModelRows {
            model: p.source_model.clone().unwrap_or_default(),
            table: p.source_table.clone(),
            rows: p.rows,
            policy: p.policy,
        })
        .collect();
    Analysis {
        source_database: source.database.clone(),
        target_database: target.database.clone(),
        source_version: source.base_version.clone(),
        target_version: target.base_version.clone(),
        findings,
        rows_per_model,
        xmlids_per_module: source.xmlids_per_module.clone(),
    }
}

/// The stored values the rules say cannot be known from the source (`unknowable`), one finding
/// each for the models migrated: not blocking, covered by the rule that says why.
fn unknowable_findings(
    pairs: &[crate::rules::pairing::TablePair],
    rules: &Rules,
    findings: &mut Vec<Finding>,
) {
    for pair in pairs {
        if pair.kind != TableKind::Model || pair.policy == Policy::Skip {
            continue;
        }
        let Some(model) = &pair.source_model else {
            continue;
        };
        let Some(rule) = rules.models.get(model) else {
            continue;
        };
        for (field, unknowable) in &rule.unknowable {
            findings.push(Finding {
                category: category::VALUE_UNKNOWABLE,
                subject: format!("{}.{field}", pair.target_model.as_deref().unwrap_or(model)),
                detail: format!("records where {}: {}", unknowable.filter, unknowable.reason),
                blocking: false,
                covered_by: Some(format!("rule models.\"{model}\".unknowable.{field}")),
            });
        }
    }
}

/// The conversions the copy makes by itself when a column's type changed.
pub fn automatic_conversion(from: &str, to: &str) -> Option<&'static str> {
    let text = |t: &str| t == "text" || t.starts_with("character varying");
    let number = |t: &str| {
        matches!(
            t,
            "integer" | "bigint" | "smallint" | "numeric" | "double precision" | "real"
        ) || t.starts_with("numeric")
    };
    if text(from) && to == "jsonb" {
        Some("automatic: text becomes a translation {\"en_US\": value}")
    } else if from == "jsonb" && text(to) {
        Some("automatic: the en_US translation becomes the text")
    } else if text(from) && text(to) {
        Some("automatic: text to text")
    } else if number(from) && number(to) {
        Some("automatic: numeric cast")
    } else if from == "integer" && text(to) {
        Some("automatic: integer written as text")
    } else if from == "boolean" && text(to) {
        Some("automatic: boolean written as text")
    } else {
        None
    }
}

/// Stores the analysis in the target's side schema, as an `analyze` run with its findings.
pub async fn store(session: &Session, analysis: &Analysis) -> Result<()> {
    let mut client = session.target.get().await?;
    side_schema::ensure(&mut client).await?;
    let transaction = client.transaction().await?;
    let options = serde_json::json!({ "blocking": analysis.blocking().count() });
    let run_id = side_schema::start_run(
        &*transaction,
        "analyze",
        &analysis.source_database,
        &analysis.target_database,
        &options,
    )
    .await?;
    let mut categories = Vec::new();
    let mut subjects = Vec::new();
    let mut details = Vec::new();
    let mut blocking = Vec::new();
    let mut covered = Vec::new();
    for finding in &analysis.findings {
        categories.push(finding.category);
        subjects.push(finding.subject.as_str());
        details.push(finding.detail.as_str());
        blocking.push(finding.blocking);
        covered.push(finding.covered_by.as_deref());
    }
    transaction
        .execute(
            "INSERT INTO odoo_migrate.analysis_findings (run_id, category, subject, detail, blocking, covered_by) \
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[])",
            &[&run_id, &categories, &subjects, &details, &blocking, &covered],
        )
        .await
        .context("cannot store the findings in odoo_migrate.analysis_findings")?;
    side_schema::finish_run(&*transaction, run_id, "finished", None).await?;
    transaction.commit().await?;
    Ok(())
}
