//! The checks on column values: no value of a created record lost on the way (`fields`), and no
//! selection value that Odoo 19 does not know (`selection-values`); also the count of references
//! the run reported it could not keep, which explains some differences (shared with `deep`).
//! Read-only on both databases.

use std::collections::HashMap;

use anyhow::{Context, Result};
use tokio_postgres::{Client, Row};

use super::CheckResult;
use crate::catalog::session::Session;
use crate::catalog::{self, quote_ident};
use crate::plan::tables::{Output, TablePlan};
use crate::rules::pairing::TableKind;

/// For every column copied as it is, the non-null values of the source rows the run created must
/// be non-null in their target rows, except where the run reported a reference it could not keep.
pub(super) async fn fields(
    source: &Client,
    target: &Client,
    plans: &[TablePlan],
) -> Result<Vec<CheckResult>> {
    let mut results = Vec::new();
    for plan in plans.iter().filter(|p| p.kind == TableKind::Model) {
        let created = created_ids(target, plan).await?;
        if created.is_empty() {
            continue;
        }
        let columns = copied_columns(plan);
        if columns.is_empty() {
            continue;
        }
        let (source_counts, target_counts) =
            value_counts(source, target, plan, &columns, &created).await?;
        let explained = unmapped_references(target, &plan.target_table).await?;
        for (index, (column, _)) in columns.iter().enumerate() {
            let in_source: i64 = source_counts.get(index);
            let in_target: i64 = target_counts.get(index);
            let allowed = explained.get(*column).copied().unwrap_or(0);
            results.extend(column_result(plan, column, in_source, in_target, allowed));
        }
        results.push(CheckResult {
            check: "fields",
            subject: format!("{} ({} columns)", plan.target_table, columns.len()),
            passed: true,
            source_value: created.len().to_string(),
            target_value: created.len().to_string(),
            detail: "non-null values compared column by column over the created records"
                .to_string(),
        });
    }
    keep_summaries_of_clean_tables(&mut results);
    Ok(results)
}

/// The source ids of the records of `plan`'s model that the runs created.
async fn created_ids(target: &Client, plan: &TablePlan) -> Result<Vec<i32>> {
    Ok(target
        .query(
            "SELECT source_id FROM odoo_migrate.id_map WHERE model = $1 AND how = 'created'",
            &[&plan.model],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The columns copied as they are or as a remapped id: (target column, source field).
fn copied_columns(plan: &TablePlan) -> Vec<(&str, usize)> {
    plan.columns
        .iter()
        .filter(|c| !c.set_by_post_sql)
        .filter_map(|c| match &c.output {
            Output::Copy { field } | Output::Remap { field, .. } => {
                Some((c.target_column.as_str(), *field))
            }
            _ => None,
        })
        .collect()
}

/// The non-null values of each column over the created records: one row from the source, one
/// from the target, a count per column in `columns`' order.
async fn value_counts(
    source: &Client,
    target: &Client,
    plan: &TablePlan,
    columns: &[(&str, usize)],
    created: &[i32],
) -> Result<(Row, Row)> {
    let source_counts = source
        .query_one(
            &format!(
                "SELECT {} FROM {} WHERE s.id = ANY($1::int[])",
                columns
                    .iter()
                    .map(|(_, field)| format!("count({})", plan.select[*field]))
                    .collect::<Vec<_>>()
                    .join(", "),
                plan.source_from()
            ),
            &[&created],
        )
        .await
        .with_context(|| {
            format!(
                "cannot count the values of source table {}",
                plan.source_table
            )
        })?;
    let target_counts = target
        .query_one(
            &format!(
                "SELECT {} FROM public.{} t JOIN odoo_migrate.id_map m ON m.target_id = t.id \
                 AND m.model = $1 AND m.how = 'created'",
                columns
                    .iter()
                    .map(|(column, _)| format!("count(t.{})", quote_ident(column)))
                    .collect::<Vec<_>>()
                    .join(", "),
                quote_ident(&plan.target_table)
            ),
            &[&plan.model],
        )
        .await
        .with_context(|| {
            format!(
                "cannot count the values of target table {}",
                plan.target_table
            )
        })?;
    Ok((source_counts, target_counts))
}

/// The finding for one column, if values were lost: passed when every lost value is a reference
/// the run reported (`allowed` of them).
fn column_result(
    plan: &TablePlan,
    column: &str,
    in_source: i64,
    in_target: i64,
    allowed: i64,
) -> Option<CheckResult> {
    let lost = in_source - in_target;
    let passed = lost == 0 || (lost > 0 && lost <= allowed);
    if passed && lost == 0 {
        return None;
    }
    Some(CheckResult {
        check: "fields",
        subject: format!("{}.{column}", plan.target_table),
        passed,
        source_value: in_source.to_string(),
        target_value: in_target.to_string(),
        detail: if passed {
            format!(
                "{lost} value(s) were references to records not migrated, reported in odoo_migrate.problems"
            )
        } else {
            format!("{lost} value(s) present in the source are empty in the target")
        },
    })
}

/// Keeps the per-table summary only when the table has no finding of its own.
fn keep_summaries_of_clean_tables(results: &mut Vec<CheckResult>) {
    let with_findings: Vec<String> = results
        .iter()
        .filter(|r| !r.detail.starts_with("non-null"))
        .filter_map(|r| r.subject.split('.').next().map(str::to_string))
        .collect();
    results.retain(|r| {
        !r.detail.starts_with("non-null")
            || !with_findings
                .iter()
                .any(|t| r.subject.starts_with(&format!("{t} ")))
    });
}

/// Per column of a target table, how many references the run reported it could not keep (written
/// as NULL): the differences that are explained.
pub(super) async fn unmapped_references(
    target: &Client,
    table: &str,
) -> Result<HashMap<String, i64>> {
    Ok(target
        .query(
            "SELECT column_name, sum((detail->>'count')::bigint)::bigint FROM odoo_migrate.problems \
             WHERE table_name = $1 AND kind = 'unmapped_reference' GROUP BY column_name",
            &[&table],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Every value of a selection column of the copied tables is one that Odoo 19 knows for the field
/// (`ir_model_fields_selection`); a value no rule mapped would show as blank or break a form.
pub(super) async fn selection_values(
    target: &Client,
    session: &Session,
    plans: &[TablePlan],
) -> Result<Vec<CheckResult>> {
    let mut results = Vec::new();
    let mut checked = 0usize;
    for (model_name, table_name) in target_tables(plans) {
        let (Some(model), Some(table)) = (
            session.target_catalog.models.get(model_name),
            session.target_catalog.tables.get(table_name),
        ) else {
            continue;
        };
        let fields = selection_fields(model, table);
        if fields.is_empty() {
            continue;
        }
        checked += fields.len();
        results.extend(unknown_values(target, model_name, table_name, table, &fields).await?);
    }
    if results.is_empty() {
        results.push(CheckResult {
            check: "selection-values",
            subject: "selection columns".to_string(),
            passed: true,
            source_value: String::new(),
            target_value: format!("{checked} column(s) hold only known values"),
            detail: String::new(),
        });
    }
    Ok(results)
}

/// The (Odoo 19 model, target table) pairs of the copied model tables, each once, sorted.
fn target_tables(plans: &[TablePlan]) -> Vec<(&str, &str)> {
    let mut tables: Vec<(&str, &str)> = plans
        .iter()
        .filter(|p| p.kind == TableKind::Model)
        .map(|p| (p.target_model.as_str(), p.target_table.as_str()))
        .collect();
    tables.sort_unstable();
    tables.dedup();
    tables
}

/// The stored selection fields of `model` with a column in `table` and a known list of values.
fn selection_fields<'m>(
    model: &'m catalog::Model,
    table: &catalog::Table,
) -> Vec<&'m catalog::Field> {
    model
        .fields
        .values()
        .filter(|f| {
            f.ttype == "selection"
                && f.store
                && !f.selection.is_empty()
                && table.columns.iter().any(|c| c.name == f.name)
        })
        .collect()
}

/// The values of `fields` in `table` that Odoo 19 does not know, one failed result per value.
async fn unknown_values(
    target: &Client,
    model_name: &str,
    table_name: &str,
    table: &catalog::Table,
    fields: &[&catalog::Field],
) -> Result<Vec<CheckResult>> {
    let lists: Vec<&Vec<String>> = fields.iter().map(|f| &f.selection).collect();
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = lists
        .iter()
        .map(|l| *l as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let rows = target
        .query(
            unknown_values_query(table_name, table, fields).as_str(),
            &params,
        )
        .await
        .with_context(|| format!("cannot check the selection values of {table_name}"))?;
    Ok(rows
        .iter()
        .map(|row| {
            let field = fields[row.get::<_, i32>(0) as usize];
            let value: String = row.get(1);
            let count: i64 = row.get(2);
            let ids: Vec<i32> = row.get(3);
            CheckResult {
                check: "selection-values",
                subject: format!("{model_name}.{}", field.name),
                passed: false,
                source_value: String::new(),
                target_value: format!("'{value}' in {count} row(s)"),
                detail: format!(
                    "Odoo 19 does not know '{value}' for {model_name}.{} (it knows {}); target ids {ids:?}; \
                     map it with a rule: [models.\"<Odoo 16 model>\"] columns.{} = {{ value_map = {{ \"{value}\" = \"…\" }} }}",
                    field.name,
                    field.selection.join(", "),
                    field.name
                ),
            }
        })
        .collect())
}

/// One branch per field, each listing (field index, unknown value, rows, first ids); the known
/// values of field `i` are parameter `i + 1`.
fn unknown_values_query(
    table_name: &str,
    table: &catalog::Table,
    fields: &[&catalog::Field],
) -> String {
    let branches: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let column = quote_ident(&field.name);
            // Company-dependent selections (18+) hold one key per company in a jsonb object.
            let company_dependent = table
                .columns
                .iter()
                .any(|c| c.name == field.name && c.data_type == "jsonb");
            let (from, value) = if company_dependent {
                (
                    format!(", jsonb_each_text(t.{column}) AS v"),
                    "v.value".to_string(),
                )
            } else {
                (String::new(), format!("t.{column}::text"))
            };
            format!(
                "SELECT {index}, {value}, count(*), (array_agg(t.id ORDER BY t.id))[1:5] \
                 FROM public.{table} t{from} WHERE {value} IS NOT NULL AND NOT ({value} = ANY(${param}::text[])) \
                 GROUP BY 2",
                table = quote_ident(table_name),
                param = index + 1
            )
        })
        .collect();
    branches.join(" UNION ALL ")
}
