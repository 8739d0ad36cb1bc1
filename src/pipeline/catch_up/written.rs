//! `run --catch-up --catch-up-compare write-date`: on the tables where Odoo's `write_date` can be
//! trusted, the rows to read again are found from it instead of hashing every row.
//!
//! Safe here means: a model's own table that has `write_date` and whose plan reads only the row
//! itself (no join, no subquery of the rules: a value read from another table changes without the
//! row's `write_date`), not derived, and whose newest `write_date` and largest id the last sync
//! recorded (`model_state`). Every ORM write stamps `write_date` with the start of its
//! transaction, so the rows read again are those stamped since that newest stamp less a margin
//! (a transaction running while the older snapshot was taken commits older stamps), rows without
//! a stamp, rows past the largest id, the records this catch-up's plan maps anew, the records
//! earlier plans mapped but no run wrote (rejected, to be reported again), and the rows pointing
//! at a record the source deleted (the source's foreign key set them to null without a stamp).
//!
//! What this misses, by design: a row changed by SQL without its `write_date` (by hand, by a
//! script, or by Odoo itself where it writes SQL: partners' ranks). `--catch-up-compare all` (the
//! default) compares every row's values. The tables read this way keep no hashes for the next
//! sync: a later `all` catch-up reads them again whole.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio_postgres::Client;

use crate::catalog::quote_ident;
use crate::catalog::session::Session;
use crate::plan::tables::{Reread, TablePlan};
use crate::rules::pairing::TableKind;

use super::hashes::{LAST_FINISHED, MOST_ROWS, reads_own_row_only};

/// Whether `write_date` can tell which rows of `plan` changed (see the module's doc).
pub(super) fn trusted(session: &Session, plan: &TablePlan) -> bool {
    plan.kind == TableKind::Model
        && !plan.derived
        && plan.filter.is_none()
        && reads_own_row_only(plan)
        && session
            .source_catalog
            .tables
            .get(&plan.source_table)
            .is_some_and(|t| t.columns.iter().any(|c| c.name == "write_date"))
}

/// What to read again of `plan`'s table, from `write_date`, and the rows it has; `None` when the
/// last sync recorded no newest `write_date` for it (then its rows are hashed and compared).
pub(super) async fn reread(
    session: &Session,
    plan: &TablePlan,
    run_id: i64,
    margin_minutes: u32,
) -> Result<Option<(Reread, usize)>> {
    let target = session.target.get().await?;
    let recorded = target
        .query_opt(
            &format!(
                "SELECT p.source_last_write::text, p.source_max_id, n.rows_total \
                 FROM odoo_migrate.model_state p JOIN odoo_migrate.model_state n \
                 ON n.run_id = $2 AND n.source_table = p.source_table \
                 WHERE p.source_table = $1 AND p.run_id = {LAST_FINISHED} AND p.source_last_write IS NOT NULL"
            ),
            &[&plan.key, &run_id],
        )
        .await
        .with_context(|| format!("cannot read what the last sync recorded of {}", plan.key))?;
    let Some(recorded) = recorded else {
        return Ok(None);
    };
    let (last_write, max_id, rows): (String, Option<i64>, i64) =
        (recorded.get(0), recorded.get(1), recorded.get(2));
    let mut ids: BTreeSet<i32> = {
        let source = session.source.get().await?;
        written_since(
            &source,
            plan,
            &last_write,
            max_id.unwrap_or(0),
            margin_minutes,
        )
        .await?
    };
    ids.extend(planned_or_unwritten(&target, plan, run_id).await?);
    ids.extend(pointing_at_deleted(session, &target, plan, run_id).await?);
    // The hashes an interrupted attempt kept would claim rows this attempt does not compare.
    target
        .execute(
            "DELETE FROM odoo_migrate.source_row_hashes WHERE run_id = $1 AND source_table = $2",
            &[&run_id, &plan.key],
        )
        .await
        .with_context(|| format!("cannot drop the row hashes of {}", plan.key))?;
    let decided = if ids.is_empty() {
        Reread::Nothing
    } else if ids.len() as f64 > MOST_ROWS * rows as f64 {
        Reread::All
    } else {
        Reread::Only(Arc::new(ids.into_iter().collect()))
    };
    Ok(Some((decided, rows.max(0) as usize)))
}

/// The source ids of `plan`'s rows stamped since `last_write` less the margin, without a stamp,
/// or past `max_id`.
async fn written_since(
    source: &Client,
    plan: &TablePlan,
    last_write: &str,
    max_id: i64,
    margin_minutes: u32,
) -> Result<BTreeSet<i32>> {
    let margin = i32::try_from(margin_minutes).unwrap_or(i32::MAX);
    Ok(source
        .query(
            &format!(
                "SELECT s.id FROM {} WHERE s.write_date IS NULL \
                 OR s.write_date >= $1::text::timestamp - make_interval(mins => $2) OR s.id > $3::bigint",
                plan.source_from()
            ),
            &[&last_write, &margin, &max_id],
        )
        .await
        .with_context(|| {
            format!("cannot read the rows of {} written since the last sync", plan.source_table)
        })?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The source ids this catch-up's plan maps anew, and those earlier plans mapped that no run
/// wrote (its copy rejected them): both read again as a fresh run would.
async fn planned_or_unwritten(target: &Client, plan: &TablePlan, run_id: i64) -> Result<Vec<i32>> {
    Ok(target
        .query(
            "SELECT source_id FROM odoo_migrate.id_plan WHERE model = $1 AND run_id = $2 \
             UNION SELECT p.source_id FROM odoo_migrate.id_plan p WHERE p.model = $1 AND p.run_id <> $2 \
             AND NOT EXISTS (SELECT 1 FROM odoo_migrate.id_map m WHERE m.model = p.model AND m.source_id = p.source_id)",
            &[&plan.model, &run_id],
        )
        .await
        .with_context(|| format!("cannot read the plan of {}", plan.model))?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The source ids of the rows of `plan`'s target table that point, by a foreign key, at a record
/// this catch-up deletes: the source set its own to null (or another value) without a stamp.
async fn pointing_at_deleted(
    session: &Session,
    target: &Client,
    plan: &TablePlan,
    run_id: i64,
) -> Result<Vec<i32>> {
    let Some(table) = session.target_catalog.tables.get(&plan.target_table) else {
        return Ok(Vec::new());
    };
    let deleted: BTreeSet<String> = target
        .query(
            "SELECT DISTINCT table_name FROM odoo_migrate.catch_up_deletions WHERE run_id = $1",
            &[&run_id],
        )
        .await
        .context("cannot read the records the source lost")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut ids = Vec::new();
    for key in &table.foreign_keys {
        if key.columns.len() != 1
            || key.referenced_columns != ["id"]
            || !deleted.contains(&key.referenced_table)
        {
            continue;
        }
        let sql = format!(
            "SELECT m.source_id FROM public.{} t JOIN odoo_migrate.id_map m ON m.model = $1 AND m.target_id = t.id \
             WHERE t.{} IN (SELECT target_id FROM odoo_migrate.catch_up_deletions WHERE run_id = $2 AND table_name = $3)",
            quote_ident(&plan.target_table),
            quote_ident(&key.columns[0]),
        );
        let rows = target
            .query(&sql, &[&plan.model, &run_id, &key.referenced_table])
            .await
            .with_context(|| {
                format!(
                    "cannot find the rows of {} pointing at deleted records",
                    plan.target_table
                )
            })?;
        ids.extend(rows.iter().map(|r| r.get::<_, i32>(0)));
    }
    Ok(ids)
}
