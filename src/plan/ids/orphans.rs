//! Step 2e of the planning: rows that belong to a record of a model not migrated at all (their
//! `res_model`/`res_id`: the messages, followers and activities of a model Odoo 19 lost) are left
//! out before ids are handed out, and said once per table and model. The copy could not place
//! them anyway; left out here, the rows that point at them (a message's notifications, a
//! follower's subtypes) are left out through their references instead of pointing at ids that no
//! row takes. Reads the source; fills the mappings' left-out records and `problems` (whose
//! `detail.left_out` lists them, for the commands that load the plan).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use tokio_postgres::{Client, Transaction};

use super::map::Mappings;
use crate::catalog::{Catalog, quote_ident};
use crate::plan::tables::{Output, TablePlan};
use crate::rules::pairing::TablePair;
use crate::side_schema::problems::{Problem, record_problem};

/// Leaves out the planned rows of a model not migrated. Returns how many.
#[allow(clippy::too_many_arguments)]
pub(super) async fn leave_out_rows_of_unmigrated_models(
    source: &Client,
    transaction: &Transaction<'_>,
    source_catalog: &Catalog,
    planned: &[&TablePair],
    plans: &[TablePlan],
    source_ids: &BTreeMap<String, Vec<i32>>,
    mappings: &mut Mappings,
    run_id: i64,
) -> Result<usize> {
    // The models whose records get ids: a row of any other model has nothing to belong to.
    let migrated: Vec<&str> = source_ids.keys().map(String::as_str).collect();
    let mut left_out = 0;
    for pair in planned.iter().filter(|p| p.derived_filter.is_none()) {
        let model = pair.source_model.as_deref().unwrap_or_default();
        let Some(plan) = plans.iter().find(|p| p.model == model && !p.derived) else {
            continue;
        };
        for column in &plan.columns {
            let Output::Polymorphic {
                field, owner: true, ..
            } = column.output
            else {
                continue;
            };
            let (Some(id_expression), Some(model_column)) = (
                plan.select.get(field),
                // Read as the source has it (the copy's expression gives 19's model names).
                ["res_model", "model"].into_iter().find(|c| {
                    source_catalog
                        .tables
                        .get(&pair.source_table)
                        .is_some_and(|t| t.has_column(c))
                }),
            ) else {
                continue;
            };
            let rows = source
                .query(
                    &format!(
                        "SELECT s.{m}::text, array_agg(s.id ORDER BY s.id) FROM public.{t} s \
                         WHERE s.{m} IS NOT NULL AND COALESCE(({id_expression})::integer, 0) <> 0 \
                         AND NOT (s.{m}::text = ANY($1)) GROUP BY 1 ORDER BY 1",
                        m = quote_ident(model_column),
                        t = quote_ident(&pair.source_table),
                    ),
                    &[&migrated],
                )
                .await
                .with_context(|| {
                    format!(
                        "cannot read the rows of {} that belong to models not migrated",
                        pair.source_table
                    )
                })?;
            for row in rows {
                let (owner, ids): (String, Vec<i32>) = (row.get(0), row.get(1));
                let removed = mappings.removed.entry(model.to_string()).or_default();
                let count = ids.iter().filter(|id| removed.insert(**id)).count();
                if count == 0 {
                    continue;
                }
                left_out += count;
                record_problem(
                    transaction,
                    run_id,
                    &Problem {
                        severity: "warning",
                        kind: "record_of_unmigrated_model",
                        model: Some(model),
                        table: Some(&pair.source_table),
                        column: Some(&column.target_column),
                        source_id: ids.first().map(|id| i64::from(*id)),
                        message: &format!(
                            "{count} row(s) of {} belong to records of {owner}, a model that is not migrated; those rows are not copied, nor the rows that need them",
                            pair.source_table
                        ),
                        // Read back by every command that loads the plan (`stored::load`).
                        detail: Some(&serde_json::json!({ "left_out": ids })),
                    },
                )
                .await?;
            }
        }
    }
    Ok(left_out)
}
