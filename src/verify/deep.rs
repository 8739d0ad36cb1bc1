//! `verify --deep`: the values of every record the run created, compared column by column with
//! the source through the mappings and the rules (each source value is read with the same SQL the
//! copy used, ids are translated), reporting the first differences per column.

use std::collections::HashMap;

use anyhow::{Context, Result};
use tokio_postgres::Client;

use super::{CheckResult, summarize};
use crate::catalog::quote_ident;
use crate::plan::tables::{Output, TablePlan};
use crate::rules::pairing::TableKind;

/// Records compared per round trip, so that memory stays bounded on large tables.
const BATCH: usize = 10_000;
/// Differences quoted per column.
const SHOWN: usize = 3;

pub async fn compare(
    source: &Client,
    target: &Client,
    plans: &[TablePlan],
) -> Result<Vec<CheckResult>> {
    let mut results = Vec::new();
    let all_mappings = mappings(target).await?;
    let copies = copies(target).await?;
    for plan in plans.iter().filter(|p| p.kind == TableKind::Model) {
        let Some(own) = all_mappings.get(&plan.model) else {
            continue;
        };
        let mut created: Vec<i32> = own
            .iter()
            .filter(|(_, (_, how))| how == "created")
            .map(|(source_id, _)| *source_id)
            .collect();
        created.sort_unstable();
        if created.is_empty() {
            continue;
        }
        // Columns compared: copied values and ids; polymorphic pairs, references and company
        // jsonb are proved by the references check instead.
        let columns: Vec<(&str, usize, Option<&str>)> = plan
            .columns
            .iter()
            // The numbering step moves number_next to where the source's PostgreSQL sequence
            // stood (see sequences.rs): it is meant to differ from the column's stale value.
            .filter(|c| {
                !(c.target_column == "number_next"
                    && matches!(
                        plan.model.as_str(),
                        "ir.sequence" | "ir.sequence.date_range"
                    ))
            })
            .filter_map(|c| match &c.output {
                Output::Copy { field } => Some((c.target_column.as_str(), *field, None)),
                Output::Remap { field, model } => {
                    Some((c.target_column.as_str(), *field, Some(model.as_str())))
                }
                _ => None,
            })
            .collect();
        if columns.is_empty() {
            continue;
        }
        let explained = super::unmapped_references(target, &plan.target_table).await?;
        let mut differences: Vec<(u64, Vec<String>)> = vec![(0, Vec::new()); columns.len()];
        for batch in created.chunks(BATCH) {
            let source_rows = source
                .query(
                    &format!(
                        "SELECT s.id, {} FROM {} WHERE s.id = ANY($1)",
                        columns
                            .iter()
                            .map(|(_, field, _)| format!("({})::text", plan.select[*field]))
                            .collect::<Vec<_>>()
                            .join(", "),
                        plan.source_from()
                    ),
                    &[&batch],
                )
                .await
                .with_context(|| format!("cannot read source table {}", plan.source_table))?;
            let target_rows: HashMap<i32, tokio_postgres::Row> = target
                .query(
                    &format!(
                        "SELECT m.source_id, {} FROM public.{} t JOIN odoo_migrate.id_map m \
                         ON m.model = $1 AND m.target_id = t.id WHERE m.source_id = ANY($2)",
                        columns
                            .iter()
                            .map(|(column, _, _)| format!("t.{}::text", quote_ident(column)))
                            .collect::<Vec<_>>()
                            .join(", "),
                        quote_ident(&plan.target_table)
                    ),
                    &[&plan.model, &batch],
                )
                .await
                .with_context(|| format!("cannot read target table {}", plan.target_table))?
                .into_iter()
                .map(|row| (row.get::<_, i32>(0), row))
                .collect();
            for row in &source_rows {
                let source_id: i32 = row.get(0);
                let Some(target_row) = target_rows.get(&source_id) else {
                    continue;
                };
                for (index, (_, _, referenced)) in columns.iter().enumerate() {
                    let value: Option<String> = row.get(index + 1);
                    let expected = match (referenced, value) {
                        (Some(model), Some(value)) => value
                            .parse::<i32>()
                            .ok()
                            .and_then(|id| all_mappings.get(*model)?.get(&id).map(|(t, _)| *t))
                            .map(|id| id.to_string()),
                        (_, value) => value,
                    };
                    let actual: Option<String> = target_row.get(index + 1);
                    // A per-company copy made by a rule stands for its original.
                    let copy_of = referenced
                        .zip(actual.as_deref())
                        .and_then(|(model, id)| copies.get(&(model.to_string(), id.parse().ok()?)));
                    if expected != actual
                        && copy_of.map(i32::to_string).as_deref() != expected.as_deref()
                    {
                        let entry = &mut differences[index];
                        entry.0 += 1;
                        if entry.1.len() < SHOWN {
                            entry.1.push(format!(
                                "source id {source_id}: expected {} found {}",
                                shorten(expected.as_deref()),
                                shorten(actual.as_deref())
                            ));
                        }
                    }
                }
            }
        }
        let mut clean = true;
        for ((column, _, referenced), (count, examples)) in columns.iter().zip(differences) {
            if count == 0 {
                continue;
            }
            let allowed = if referenced.is_some() {
                explained.get(*column).copied().unwrap_or(0)
            } else {
                0
            };
            let passed = count as i64 <= allowed;
            clean &= passed;
            results.push(CheckResult {
                check: "deep",
                subject: format!("{}.{column}", plan.target_table),
                passed,
                source_value: created.len().to_string(),
                target_value: format!("{count} differ"),
                detail: if passed {
                    format!(
                        "{count} reference(s) to records not migrated, reported in odoo_migrate.problems"
                    )
                } else {
                    summarize(&examples)
                },
            });
        }
        if clean {
            results.push(CheckResult {
                check: "deep",
                subject: plan.target_table.clone(),
                passed: true,
                source_value: created.len().to_string(),
                target_value: created.len().to_string(),
                detail: format!("{} columns equal in every created record", columns.len()),
            });
        }
    }
    Ok(results)
}

/// Every mapping: model → source id → (target id, how).
async fn mappings(target: &Client) -> Result<HashMap<String, HashMap<i32, (i32, String)>>> {
    let mut all: HashMap<String, HashMap<i32, (i32, String)>> = HashMap::new();
    for row in target
        .query(
            "SELECT model, source_id, target_id, how FROM odoo_migrate.id_map",
            &[],
        )
        .await
        .context("cannot read odoo_migrate.id_map")?
    {
        all.entry(row.get(0))
            .or_default()
            .insert(row.get(1), (row.get(2), row.get(3)));
    }
    Ok(all)
}

/// The per-company copies made by rules: (Odoo 16 model, copy's id) → original's id.
async fn copies(target: &Client) -> Result<HashMap<(String, i32), i32>> {
    Ok(target
        .query(
            "SELECT model, target_id, copy_of FROM odoo_migrate.copied_rows",
            &[],
        )
        .await
        .context("cannot read odoo_migrate.copied_rows")?
        .iter()
        .map(|row| ((row.get(0), row.get(1)), row.get(2)))
        .collect())
}

fn shorten(value: Option<&str>) -> String {
    match value {
        None => "NULL".to_string(),
        Some(text) if text.chars().count() > 60 => {
            format!("{:?}…", text.chars().take(60).collect::<String>())
        }
        Some(text) => format!("{text:?}"),
    }
}
