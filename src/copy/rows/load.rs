//! The target's side of a table copy once the rows are encoded: the scratch tables, the move of
//! staged many2many pairs into their table (recording the new ones for `rollback`), the update of
//! matched records (with their before-images), and the reading of a COPY error. Everything runs
//! inside the caller's transaction; nothing here reads the source.

use anyhow::{Context, Result};
use bytes::Bytes;
use futures::{SinkExt, pin_mut};
use tokio_postgres::Transaction;

use crate::catalog::quote_ident;
use crate::io::codec::Writer;
use crate::plan::tables::{ColumnPlan, Output, TablePlan};
use crate::rules::pairing::TableKind;

/// Names the table, column and source record a failed COPY points at, without quoting the row's
/// values (they may hold secrets such as password hashes).
pub(super) fn explain_copy_error(
    error: tokio_postgres::Error,
    plan: &TablePlan,
    inserted_ids: &[i32],
) -> anyhow::Error {
    let Some(db) = error.as_db_error() else {
        return anyhow::Error::new(error).context(format!(
            "lost the target while writing {} into {}",
            plan.source_table, plan.target_table
        ));
    };
    // PostgreSQL reports "COPY <table>, line <n>" where n counts tuples from 1.
    let line = db
        .where_()
        .and_then(|w| w.split("line ").nth(1))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse::<usize>().ok());
    let record = match (
        plan.kind,
        line.and_then(|n| inserted_ids.get(n.wrapping_sub(1))),
    ) {
        (TableKind::Model, Some(id)) => format!(" (source record {} id {id})", plan.model),
        _ => line.map_or(String::new(), |n| format!(" (row {n} of the copy)")),
    };
    let column = db
        .column()
        .map_or(String::new(), |c| format!(", column {c}"));
    let code = db.code().code();
    // Data the target refuses needs a rule; a server in trouble (disk, memory, locks) does not.
    let advice = if db.column().is_none() && db.constraint().is_some() && code.starts_with("23") {
        "add or fix a rule for the columns this constraint checks and run again"
    } else if code.starts_with("22") || code.starts_with("23") {
        "add or fix a rule for this column and run again"
    } else {
        crate::io::connect::hint_for_code(code)
            .unwrap_or("fix the cause and run again (committed chunks are kept)")
    };
    anyhow::anyhow!(
        "copying {} into {}{column}{record}: {} [SQLSTATE {code}]; {advice}",
        plan.source_table,
        plan.target_table,
        db.message(),
    )
}
/// A temporary table with the plan's columns, typed as in the target table, empty.
pub(super) async fn scratch_table(
    transaction: &Transaction<'_>,
    plan: &TablePlan,
    name: &str,
) -> Result<()> {
    transaction
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS pg_temp.{name}; \
             CREATE TEMP TABLE {name} AS SELECT {} FROM public.{} WITH NO DATA",
            plan.column_list(),
            quote_ident(&plan.target_table)
        ))
        .await
        .with_context(|| {
            format!(
                "cannot create the scratch table {name} for {}",
                plan.target_table
            )
        })
}
/// Moves the pairs staged in `pg_temp.odoo_migrate_stage` into the relation table. Pairs already
/// present (links between matched records) are left alone; the new ones are recorded so that a
/// rollback removes exactly them. Returns how many were inserted.
pub(super) async fn insert_staged(
    transaction: &Transaction<'_>,
    plan: &TablePlan,
    run_id: i64,
) -> Result<u64> {
    let table = &plan.target_table;
    let columns: Vec<&str> = plan
        .columns
        .iter()
        .map(|c| c.target_column.as_str())
        .collect();
    let inserted = transaction
        .execute(
            &format!(
                "WITH inserted AS (INSERT INTO public.{} ({cols}) SELECT {cols} FROM pg_temp.odoo_migrate_stage \
                 ON CONFLICT DO NOTHING RETURNING {cols}) \
                 INSERT INTO odoo_migrate.relation_rows (run_id, table_name, columns, row_values) \
                 SELECT $1, $2, $3::text[], ARRAY[{cols}]::int[] FROM inserted",
                quote_ident(table),
                cols = plan.column_list()
            ),
            &[&run_id, table, &columns],
        )
        .await
        .with_context(|| format!("inserting the rows of {} into {table}", plan.source_table))?;
    if plan.catch_up.as_ref().is_some_and(|c| {
        c.remove_vanished_pairs && !matches!(c.reread, crate::plan::tables::Reread::Nothing)
    }) {
        remove_vanished_pairs(transaction, plan, &columns, run_id).await?;
    }
    transaction
        .batch_execute("DROP TABLE pg_temp.odoo_migrate_stage")
        .await?;
    Ok(inserted)
}

/// A catch-up: the pairs that earlier runs added and that the source no longer has (not staged)
/// are removed, each kept whole in `removed_rows` for `rollback`.
async fn remove_vanished_pairs(
    transaction: &Transaction<'_>,
    plan: &TablePlan,
    columns: &[&str],
    run_id: i64,
) -> Result<u64> {
    let table = &plan.target_table;
    let same = |left: &str, right: &str| {
        columns
            .iter()
            .map(|c| format!("{left}.{col} = {right}.{col}", col = quote_ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    // The earlier pairs as plain columns and the staged ones analyzed: the planner joins them by
    // hash instead of comparing every pair with every array of relation_rows.
    let earlier: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("x.row_values[{}] AS {}", i + 1, quote_ident(c)))
        .collect();
    transaction
        .batch_execute("ANALYZE pg_temp.odoo_migrate_stage")
        .await?;
    let removed = transaction
        .execute(
            &format!(
                "WITH earlier AS MATERIALIZED (SELECT DISTINCT {} FROM odoo_migrate.relation_rows x \
                 JOIN odoo_migrate.runs r ON r.id = x.run_id AND r.status <> 'rolled_back' \
                 WHERE x.run_id <> $1 AND x.table_name = $2 AND x.columns = $3::text[]), \
                 vanished AS MATERIALIZED (SELECT e.* FROM earlier e WHERE NOT EXISTS \
                 (SELECT 1 FROM pg_temp.odoo_migrate_stage s WHERE {})), \
                 gone AS (DELETE FROM public.{} t USING vanished e WHERE {} RETURNING t.*) \
                 INSERT INTO odoo_migrate.removed_rows (run_id, table_name, image) SELECT $1, $2, to_jsonb(g) FROM gone g",
                earlier.join(", "),
                same("s", "e"),
                quote_ident(table),
                same("t", "e"),
            ),
            &[&run_id, table, &columns],
        )
        .await
        .with_context(|| format!("cannot remove the pairs of {table} the source no longer has"))?;
    Ok(removed)
}

/// The columns an update of a matched record writes: all but its id and its creation stamp.
fn updated_columns(plan: &TablePlan) -> impl Iterator<Item = &ColumnPlan> {
    plan.columns
        .iter()
        .filter(|c| !matches!(c.output, Output::OwnId { .. }))
        .filter(|c| !matches!(c.target_column.as_str(), "create_uid" | "create_date"))
}

/// Writes the rows of matched records into a scratch table and updates the target records from it.
pub(super) async fn apply_updates(
    plan: &TablePlan,
    transaction: &Transaction<'_>,
    mut updates: Writer,
    run_id: i64,
) -> Result<u64> {
    let table = &plan.target_table;
    scratch_table(transaction, plan, "odoo_migrate_update").await?;
    let sink = transaction
        .copy_in::<_, Bytes>(
            format!(
                "COPY pg_temp.odoo_migrate_update ({}) FROM STDIN (FORMAT binary)",
                plan.column_list()
            )
            .as_str(),
        )
        .await?;
    pin_mut!(sink);
    updates.finish();
    sink.send(updates.take()).await?;
    sink.finish().await?;
    let assignments: Vec<String> = updated_columns(plan)
        .map(|c| format!("{col} = u.{col}", col = quote_ident(&c.target_column)))
        .collect();
    if assignments.is_empty() {
        return Ok(0);
    }
    // Only records whose values differ are written (and counted), and only those get a
    // before-image for `rollback`.
    let compared: Vec<String> = updated_columns(plan)
        .map(|c| quote_ident(&c.target_column))
        .collect();
    let differs = format!(
        "(t.{}) IS DISTINCT FROM (u.{})",
        compared.join(", t."),
        compared.join(", u.")
    );
    if let Some(catch_up) = &plan.catch_up {
        let written: Vec<&str> = updated_columns(plan)
            .map(|c| c.target_column.as_str())
            .collect();
        super::conflicts::settle(plan, catch_up, transaction, &written, &differs, run_id).await?;
    }
    transaction
        .execute(
            &format!(
                "INSERT INTO odoo_migrate.before_images (run_id, table_name, target_id, image) \
                 SELECT $1, $2, t.id, to_jsonb(t) FROM public.{} t JOIN pg_temp.odoo_migrate_update u ON u.id = t.id \
                 WHERE {differs} ON CONFLICT DO NOTHING",
                quote_ident(table)
            ),
            &[&run_id, table],
        )
        .await
        .with_context(|| format!("cannot keep the before-image of matched records of {table}"))?;
    let updated = transaction
        .execute(
            &format!(
                "UPDATE public.{} t SET {} FROM pg_temp.odoo_migrate_update u WHERE t.id = u.id AND {differs}",
                quote_ident(table),
                assignments.join(", ")
            ),
            &[],
        )
        .await
        .with_context(|| format!("updating matched records of {table}"))?;
    transaction
        .batch_execute("DROP TABLE pg_temp.odoo_migrate_update")
        .await?;
    Ok(updated)
}
