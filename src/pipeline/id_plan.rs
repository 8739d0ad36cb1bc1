//! The run's plan, made once: the id plan of every record, the tables of the run with their
//! extents in the source (to notice later a source that changes under the run), the final
//! mappings of match-only models, and the tables with rows that are not migrated, each with why.
//! All in one target transaction, so that an interrupted planning is made again from scratch.

use anyhow::{Context, Result};
use tokio_postgres::{Client, Transaction};

use super::guards::{has_write_date, source_extents};
use crate::catalog::session::Session;
use crate::copy::keys;
use crate::io::fault;
use crate::plan::ids;
use crate::plan::tables::TablePlan;
use crate::rules::pairing::{TableKind, TablePair};
use crate::rules::{Policy, Rules};
use crate::side_schema::problems::{Problem, record_problem};

/// Makes the run's plan unless an earlier attempt of the run committed it; a catch-up's plan
/// keeps the earlier runs' mappings and lists the records the source lost.
#[allow(clippy::too_many_arguments)]
pub(super) async fn make_once(
    session: &Session,
    control: &mut Client,
    rules: &Rules,
    pairs: &[TablePair],
    plans: &[TablePlan],
    run_id: i64,
    foreign_keys: keys::Strategy,
    catch_up: bool,
    slicing: Slicing,
) -> Result<()> {
    let planned: i64 = control
        .query_one(
            "SELECT count(*) FROM odoo_migrate.model_state WHERE run_id = $1",
            &[&run_id],
        )
        .await?
        .get(0);
    if planned > 0 {
        return Ok(());
    }
    let source = session.source.get().await?;
    let transaction = control.transaction().await?;
    if foreign_keys == keys::Strategy::Replica {
        // The plan's rows all name the run created above: a key check per row would cost
        // more than writing them.
        transaction
            .batch_execute("SET LOCAL session_replication_role = replica")
            .await?;
    }
    fault::point("before_plan");
    let counts = ids::plan(
        &source,
        &transaction,
        &session.source_catalog,
        &session.target_catalog,
        rules,
        pairs,
        plans,
        run_id,
        catch_up,
    )
    .await?;
    tracing::info!(
        vanished_from_the_source = counts.vanished.len(),
        matched_by_external_id = counts.xmlid,
        matched_by_natural_key = counts.natural_key,
        to_create = counts.created,
        match_only_without_counterpart = counts.unmatched,
        "id plan made"
    );
    let rows = record_tables(session, &source, &transaction, plans, run_id).await?;
    if !catch_up {
        record_slices(&transaction, plans, &rows, slicing, run_id).await?;
    }
    map_match_only_records(&transaction, plans, run_id).await?;
    record_tables_not_migrated(&transaction, pairs, run_id).await?;
    if catch_up {
        super::catch_up::record_plan(&transaction, pairs, &counts.vanished, run_id).await?;
    }
    fault::point("before_plan_commit");
    transaction
        .commit()
        .await
        .context("cannot commit the id plan")?;
    Ok(())
}

/// When a big table is cut into slices copied by several jobs at once (`run --slice-from`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Slicing {
    /// The run's jobs: at most that many slices, and none with one job.
    pub jobs: usize,
    pub chunk_size: i64,
    /// A model table of at least this many rows is sliced; 0 slices none.
    pub from_rows: u64,
}

impl Slicing {
    /// How many slices a plan of `rows` source rows is cut into; 1: it is not.
    ///
    /// Only a model's own table read in id order is cut: not a relation (no id), a derived plan
    /// (a second wave after its sources), a `run --update` or a catch-up (few rows), nor a plan
    /// with post-copy SQL, which must see every row of the table and stays one job's.
    pub fn slices(&self, plan: &TablePlan, rows: i64) -> i64 {
        let sliceable = plan.kind == TableKind::Model
            && !plan.derived
            && !plan.update_only
            && plan.catch_up.is_none()
            && plan.post_sql.is_empty();
        if !sliceable || self.jobs < 2 || self.from_rows == 0 || rows < self.from_rows as i64 {
            return 1;
        }
        let chunks = (rows + self.chunk_size.max(1) - 1) / self.chunk_size.max(1);
        chunks.clamp(1, self.jobs as i64)
    }
}

/// The slices of the big tables, each with its id range and its own checkpoint, in the plan's
/// transaction: a resumed run finds them as they were planned, whatever its `--jobs`.
async fn record_slices(
    transaction: &Transaction<'_>,
    plans: &[TablePlan],
    rows: &[i64],
    slicing: Slicing,
    run_id: i64,
) -> Result<()> {
    for (plan, &rows) in plans.iter().zip(rows) {
        let slices = slicing.slices(plan, rows);
        if slices < 2 {
            continue;
        }
        transaction
            .execute(
                include_str!("../../sql/run/slices.sql"),
                &[&run_id, &plan.key, &plan.model, &(slices as i32)],
            )
            .await
            .with_context(|| format!("cannot cut {} into slices", plan.source_table))?;
    }
    Ok(())
}

/// One `model_state` row per plan: for model tables, the count and largest id as the plan saw
/// them, to notice later a source that changes under the run; all read in one statement, stored
/// in another. Returns the rows of each plan.
async fn record_tables(
    session: &Session,
    source: &Client,
    transaction: &Transaction<'_>,
    plans: &[TablePlan],
    run_id: i64,
) -> Result<Vec<i64>> {
    // Derived records' source tables are watched through their own model's plan.
    let watched = |p: &&TablePlan| p.kind == TableKind::Model && !p.derived;
    let model_tables: Vec<(&str, bool)> = plans
        .iter()
        .filter(watched)
        .map(|p| {
            (
                p.source_table.as_str(),
                has_write_date(session, &p.source_table),
            )
        })
        .collect();
    let mut extents = source_extents(source, &model_tables)
        .await
        .context("cannot count the rows of the source tables")?
        .into_iter();
    let mut keys = Vec::new();
    let mut targets = Vec::new();
    let mut models = Vec::new();
    let mut kinds = Vec::new();
    let mut totals = Vec::new();
    let mut max_ids = Vec::new();
    let mut last_writes = Vec::new();
    let mut statuses = Vec::new();
    for plan in plans {
        let (rows, max_id, last_write) = if watched(&plan) {
            let (rows, max_id, last_write) = extents.next().unwrap_or_default();
            (rows, Some(max_id), last_write)
        } else {
            (plan.rows, None, None)
        };
        // A table with no rows and no post-copy SQL has nothing to copy: it is done now, which
        // spares it a transaction of its own (half the tables of a typical database).
        statuses.push(if rows == 0 && plan.post_sql.is_empty() {
            "done"
        } else {
            "pending"
        });
        keys.push(plan.key.as_str());
        targets.push(plan.target_table.as_str());
        models.push(plan.model.as_str());
        kinds.push(if plan.kind == TableKind::Model {
            "model"
        } else {
            "relation"
        });
        totals.push(rows);
        max_ids.push(max_id);
        last_writes.push(last_write);
    }
    transaction
        .execute(
            "INSERT INTO odoo_migrate.model_state (run_id, source_table, target_table, model, kind, rows_total, source_max_id, source_last_write, status, finished_at) \
             SELECT $1, k, t, m, kd, r, x, w::timestamp, st, CASE WHEN st = 'done' THEN now() END \
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[]) AS u(k, t, m, kd, r, x, st, w)",
            &[&run_id, &keys, &targets, &models, &kinds, &totals, &max_ids, &statuses, &last_writes],
        )
        .await
        .context("cannot record the tables of the run")?;
    Ok(totals)
}

/// Records of match-only models move no rows; their mappings are final now.
async fn map_match_only_records(
    transaction: &Transaction<'_>,
    plans: &[TablePlan],
    run_id: i64,
) -> Result<()> {
    transaction
        .execute(
            "INSERT INTO odoo_migrate.id_map (model, source_id, target_id, how, run_id) \
             SELECT p.model, p.source_id, p.target_id, p.how, p.run_id FROM odoo_migrate.id_plan p \
             WHERE p.run_id = $1 AND p.model <> ALL($2::text[])",
            &[
                &run_id,
                &plans
                    .iter()
                    .filter(|p| p.kind == TableKind::Model)
                    .map(|p| p.model.clone())
                    .collect::<Vec<_>>(),
            ],
        )
        .await?;
    Ok(())
}

/// Tables with rows that are not migrated are listed, never dropped silently.
async fn record_tables_not_migrated(
    transaction: &Transaction<'_>,
    pairs: &[TablePair],
    run_id: i64,
) -> Result<()> {
    for pair in pairs {
        let not_migrated = pair.policy == Policy::Skip
            || pair.target_table.is_none()
            || pair.source_table == "ir_model_data";
        if pair.rows == 0 || pair.transient || !not_migrated {
            continue;
        }
        let why = if pair.source_table == "ir_model_data" {
            "external ids are recreated with the records they name".to_string()
        } else if pair.policy == Policy::Skip {
            "a rule skips it".to_string()
        } else {
            "the target has no table for it".to_string()
        };
        let message = format!(
            "{} row(s) of {} are not migrated: {why}",
            pair.rows, pair.source_table
        );
        let problem = Problem {
            severity: "info",
            kind: "table_not_migrated",
            model: pair.source_model.as_deref(),
            table: Some(&pair.source_table),
            column: None,
            source_id: None,
            message: &message,
            detail: Some(&serde_json::json!({ "rows": pair.rows, "policy": pair.policy })),
        };
        record_problem(transaction, run_id, &problem).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_big_model_table_without_post_sql_is_sliced_and_never_past_the_jobs() {
        let slicing = Slicing {
            jobs: 4,
            chunk_size: 100,
            from_rows: 1000,
        };
        let model = TablePlan::for_tests(TableKind::Model, "m", Vec::new());
        assert_eq!(slicing.slices(&model, 999), 1, "small table");
        assert_eq!(slicing.slices(&model, 1000), 4, "ten chunks, four jobs");
        assert_eq!(
            Slicing {
                chunk_size: 400,
                ..slicing
            }
            .slices(&model, 1000),
            3,
            "no slice smaller than a chunk"
        );
        assert_eq!(Slicing { jobs: 1, ..slicing }.slices(&model, 5000), 1);
        assert_eq!(
            Slicing {
                from_rows: 0,
                ..slicing
            }
            .slices(&model, 5000),
            1
        );
        let relation = TablePlan::for_tests(TableKind::Relation, "m", Vec::new());
        assert_eq!(slicing.slices(&relation, 5000), 1);
        for change in [
            |p: &mut TablePlan| p.derived = true,
            |p: &mut TablePlan| p.update_only = true,
            |p: &mut TablePlan| p.post_sql = vec!["UPDATE t SET a = 1".to_string()],
        ] {
            let mut plan = model.clone();
            change(&mut plan);
            assert_eq!(slicing.slices(&plan, 5000), 1);
        }
    }
}
