//! A catch-up's conflicts (`run --catch-up`): among the records its update would change, those the
//! target's users wrote after the last sync. Each is recorded with both values of every column that
//! differs, then the source wins, the target keeps its values, or the table's copy fails, as
//! `--on-conflict` says. Runs inside the copy's transaction, on its scratch table of updates.

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};
use tokio_postgres::Transaction;

use crate::catalog::quote_ident;
use crate::plan::tables::{CatchUpCopy, OnConflict, TablePlan};
use crate::side_schema::problems::{Problem, record_problem};

/// Conflicts shown in the message of a failed table.
const SHOWN: usize = 5;

/// One record changed on both sides: its ids and, per column, the target's and the source's value.
struct Conflict {
    target_id: i32,
    source_id: Option<i32>,
    columns: Map<String, Value>,
}

/// Finds the conflicts among the updates staged in `pg_temp.odoo_migrate_update` (columns
/// `written`, compared by `differs`), records them and applies `--on-conflict`: with `target`,
/// their updates are taken out of the scratch table; with `fail`, an error names them.
pub(super) async fn settle(
    plan: &TablePlan,
    catch_up: &CatchUpCopy,
    transaction: &Transaction<'_>,
    written: &[&str],
    differs: &str,
    run_id: i64,
) -> Result<u64> {
    if !written.contains(&"write_date") {
        return Ok(0);
    }
    let table = &plan.target_table;
    let sql = include_str!("../../../sql/run/catch_up_conflicts.sql")
        .replace("{table}", &quote_ident(table))
        .replace("{differs}", differs);
    let rows = transaction
        .query(&sql, &[&catch_up.since, &plan.model])
        .await
        .with_context(|| format!("cannot look for conflicts in {table}"))?;
    let conflicts: Vec<Conflict> = rows
        .iter()
        .filter_map(|row| {
            let target: Value = row.get(2);
            let source: Value = row.get(3);
            let columns = differing(written, &target, &source);
            (!columns.is_empty()).then(|| Conflict {
                target_id: row.get(0),
                source_id: row.get(1),
                columns,
            })
        })
        .collect();
    if conflicts.is_empty() {
        return Ok(0);
    }
    if catch_up.on_conflict == OnConflict::Fail {
        let shown: Vec<String> = conflicts
            .iter()
            .take(SHOWN)
            .map(|c| describe(plan, c))
            .collect();
        bail!(
            "{} record(s) of {} ({table}) were changed in the target since the last sync ({} UTC) and in the source: {}{}; \
             run the catch-up again with --on-conflict source (the source's values win) or --on-conflict target (the target's stay)",
            conflicts.len(),
            plan.model,
            catch_up.since,
            shown.join("; "),
            if conflicts.len() > SHOWN { "; …" } else { "" }
        );
    }
    for conflict in &conflicts {
        record(plan, catch_up, transaction, conflict, run_id).await?;
    }
    if catch_up.on_conflict == OnConflict::Target {
        let ids: Vec<i32> = conflicts.iter().map(|c| c.target_id).collect();
        transaction
            .execute(
                "DELETE FROM pg_temp.odoo_migrate_update WHERE id = ANY($1)",
                &[&ids],
            )
            .await?;
    }
    Ok(conflicts.len() as u64)
}

/// The columns written by the update whose values differ, each with both values; the write stamps
/// say nothing of the record's content and are left out.
fn differing(written: &[&str], target: &Value, source: &Value) -> Map<String, Value> {
    let mut columns = Map::new();
    for column in written {
        if matches!(*column, "write_date" | "write_uid") {
            continue;
        }
        let (t, s) = (
            target.get(*column).unwrap_or(&Value::Null),
            source.get(*column).unwrap_or(&Value::Null),
        );
        if t != s {
            columns.insert(
                (*column).to_string(),
                serde_json::json!({ "target": t, "source": s }),
            );
        }
    }
    columns
}

fn describe(plan: &TablePlan, conflict: &Conflict) -> String {
    let values: Vec<String> = conflict
        .columns
        .iter()
        .map(|(column, both)| {
            format!(
                "{column}: target {} / source {}",
                both["target"], both["source"]
            )
        })
        .collect();
    format!(
        "{} id {} (target id {}): {}",
        plan.model,
        conflict
            .source_id
            .map_or_else(|| "?".to_string(), |id| id.to_string()),
        conflict.target_id,
        values.join(", ")
    )
}

async fn record(
    plan: &TablePlan,
    catch_up: &CatchUpCopy,
    transaction: &Transaction<'_>,
    conflict: &Conflict,
    run_id: i64,
) -> Result<()> {
    let outcome = match catch_up.on_conflict {
        OnConflict::Source => "the source's values were written",
        _ => "the target's values were kept",
    };
    let message = format!(
        "conflict: {} changed in the target since the last sync and in the source; {outcome}",
        describe(plan, conflict)
    );
    let detail = serde_json::json!({
        "target_id": conflict.target_id,
        "since": catch_up.since,
        "on_conflict": catch_up.on_conflict.as_str(),
        "columns": conflict.columns,
    });
    record_problem(
        transaction,
        run_id,
        &Problem {
            severity: "warning",
            kind: "catch_up_conflict",
            model: Some(&plan.model),
            table: Some(&plan.target_table),
            column: None,
            source_id: conflict.source_id.map(i64::from),
            message: &message,
            detail: Some(&detail),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_names_the_written_columns_that_differ_but_the_write_stamps() {
        let target = serde_json::json!({"id": 6, "phone": "+32 2", "name": "A", "write_date": "2026-01-02", "street": "X"});
        let source =
            serde_json::json!({"id": 6, "phone": "+32 1", "name": "A", "write_date": "2026-01-01"});
        let columns = differing(&["phone", "name", "write_date"], &target, &source);
        assert_eq!(
            Value::Object(columns),
            serde_json::json!({"phone": {"target": "+32 2", "source": "+32 1"}})
        );
        assert!(differing(&["name", "write_uid"], &target, &source).is_empty());
    }

    #[test]
    fn conflict_policies_read_as_written() {
        for policy in [OnConflict::Source, OnConflict::Target, OnConflict::Fail] {
            assert_eq!(OnConflict::parse(policy.as_str()), Some(policy));
        }
        assert_eq!(OnConflict::parse("theirs"), None);
    }
}
