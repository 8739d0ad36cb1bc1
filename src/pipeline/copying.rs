//! The copy of every table, `jobs` at a time, chunk by chunk: each chunk in one target
//! transaction with its mappings, external ids, problems and checkpoint, retried on a transient
//! error; a table whose last chunk is in gets its indexes and statistics at once. Failures and
//! stops are recorded in the side schema.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use anyhow::{Context, Result};
use futures::StreamExt;
use tokio_postgres::{Client, Transaction};

use crate::catalog::quote_ident;
use crate::catalog::session::Session;
use crate::copy::rows;
use crate::io::connect;
use crate::io::exit::Status;
use crate::io::fault;
use crate::io::progress::Progress;
use crate::io::stop::StopSignal;
use crate::plan::ids::{self, Mappings};
use crate::plan::tables::{Span, TablePlan};
use crate::rules::pairing::TableKind;
use crate::side_schema;
use crate::side_schema::problems::{Problem, record_problem};

/// What the copy of every table gave.
pub(super) struct Copied {
    /// Each plan with how its copy ended.
    pub results: Vec<(TablePlan, Result<TableEnd>)>,
    /// Target tables whose statistics were refreshed as their last plan was copied.
    pub analyzed: BTreeSet<String>,
}

/// Copies every pending plan, `jobs` at a time, a sliced plan's slices each by a job of its own;
/// with `keep_going` a failed table does not stop the others.
pub(super) async fn copy_tables(
    copying: &Copying<'_>,
    pending: Vec<TablePlan>,
    jobs: usize,
    keep_going: bool,
) -> Result<Copied> {
    let units = units_of(copying, pending).await?;
    // A table whose last plan is copied gets its indexes built again and its statistics at once,
    // while the other tables are still loading.
    let mut left: BTreeMap<String, usize> = BTreeMap::new();
    for unit in units.iter().filter_map(|u| u.as_ref().ok()) {
        *left.entry(unit.plan.target_table.clone()).or_default() += 1;
    }
    let plans_left = Mutex::new(left);
    let analyzed: Mutex<BTreeSet<String>> = Mutex::default();
    let copy_one = |unit: Result<Unit, (TablePlan, anyhow::Error)>| {
        let (plans_left, analyzed) = (&plans_left, &analyzed);
        async move {
            let unit = match unit {
                Ok(unit) => unit,
                Err((plan, error)) => return (plan, Err(error)),
            };
            let plan = &unit.plan;
            let mut outcome = copy_table(copying, &unit).await;
            if matches!(outcome, Ok(TableEnd::Done)) && last_plan_of(plans_left, &plan.target_table)
            {
                outcome = finish_table(copying.session, copying.run_id, &plan.target_table)
                    .await
                    .map(|()| {
                        if let Ok(mut analyzed) = analyzed.lock() {
                            analyzed.insert(plan.target_table.clone());
                        }
                        TableEnd::Done
                    });
            }
            if outcome.is_err() && !keep_going {
                copying.stop.request_after_failure();
            }
            (unit.plan, outcome)
        }
    };
    // Derived records come in a second wave, once the tables they are made from are in: their
    // post-copy SQL may link them to those tables' rows.
    let (own, derived): (Vec<_>, Vec<_>) = units
        .into_iter()
        .partition(|u| u.as_ref().map_or(true, |u| !u.plan.derived));
    let mut results = Vec::new();
    for wave in [own, derived] {
        results.extend(
            futures::stream::iter(wave.into_iter().map(copy_one))
                .buffer_unordered(jobs)
                .collect::<Vec<_>>()
                .await,
        );
    }
    let analyzed = analyzed.into_inner().unwrap_or_default();
    Ok(Copied {
        results: by_plan(results),
        analyzed,
    })
}

/// One job's work: a whole plan, or one slice of a sliced plan.
struct Unit {
    plan: TablePlan,
    /// The slice (`odoo_migrate.slices`), when the plan is cut into several.
    slice: Option<i32>,
    /// Rows left to copy, for the order of the queue.
    rows: i64,
}

/// The work of the pending plans, biggest first so that the long pieces start early: each plan
/// whole, or the slices of a sliced plan that are not done yet. A sliced plan whose slices are all
/// done while the plan is not cannot be resumed and is said so.
async fn units_of(
    copying: &Copying<'_>,
    pending: Vec<TablePlan>,
) -> Result<Vec<Result<Unit, (TablePlan, anyhow::Error)>>> {
    let client = copying.session.target.get().await?;
    let mut slices: BTreeMap<String, Vec<(i32, i64, bool)>> = BTreeMap::new();
    for row in client
        .query(
            "SELECT source_table, slice, greatest(rows_total - rows_done, 0), status = 'done' \
             FROM odoo_migrate.slices WHERE run_id = $1 ORDER BY source_table, slice",
            &[&copying.run_id],
        )
        .await
        .context("cannot read the slices of the run's tables")?
    {
        slices
            .entry(row.get(0))
            .or_default()
            .push((row.get(1), row.get(2), row.get(3)));
    }
    let mut units = Vec::new();
    for plan in pending {
        let Some(cut) = slices.get(&plan.key) else {
            let rows = plan.rows;
            units.push(Ok(Unit {
                plan,
                slice: None,
                rows,
            }));
            continue;
        };
        let left: Vec<_> = cut.iter().filter(|(_, _, done)| !done).collect();
        if left.is_empty() {
            let error = anyhow::anyhow!(
                "every slice of {} is recorded as copied but the table is not; the side schema was changed by hand: roll the run back (`odoo-migrate rollback`) and start again with --restart",
                plan.key
            );
            units.push(Err((plan, error)));
            continue;
        }
        for &&(slice, rows, _) in &left {
            units.push(Ok(Unit {
                plan: plan.clone(),
                slice: Some(slice),
                rows,
            }));
        }
    }
    units.sort_by_key(|u| std::cmp::Reverse(u.as_ref().map_or(i64::MAX, |u| u.rows)));
    Ok(units)
}

/// The outcome of each plan from those of its pieces: failed if one failed, stopped if one
/// stopped, done when all are.
fn by_plan(results: Vec<(TablePlan, Result<TableEnd>)>) -> Vec<(TablePlan, Result<TableEnd>)> {
    let mut merged: Vec<(TablePlan, Result<TableEnd>)> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (plan, outcome) in results {
        let Some(&at) = index.get(&plan.key) else {
            index.insert(plan.key.clone(), merged.len());
            merged.push((plan, outcome));
            continue;
        };
        let kept = &mut merged[at].1;
        match (&*kept, outcome) {
            (Err(_), _) => {}
            (_, Err(error)) => *kept = Err(error),
            (_, Ok(TableEnd::Stopped)) => *kept = Ok(TableEnd::Stopped),
            (_, Ok(TableEnd::Done)) => {}
        }
    }
    merged
}

/// Records the tables that failed and ends the run as failed, or as paused or interrupted when it
/// was asked to stop; `None` when every table is copied and the run goes on.
pub(super) async fn record_end(
    control: &Client,
    copied: &Copied,
    stop: &StopSignal,
    run_id: i64,
) -> Result<Option<Status>> {
    let mut failures = Vec::new();
    for (plan, outcome) in &copied.results {
        if let Err(error) = outcome {
            failures.push(record_failure(control, plan, error, run_id).await?);
        }
    }
    super::finish::update_totals(control, run_id).await?;
    if !failures.is_empty() {
        let message = format!(
            "{} table(s) failed; what was copied is committed and the next `run` resumes with them:\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
        side_schema::finish_run(control, run_id, "failed", Some(&message)).await?;
        return Err(anyhow::anyhow!(message));
    }
    let Some(status) = stop.status() else {
        return Ok(None);
    };
    let (state, what) = match status {
        Status::DeadlineReached => ("paused", "the deadline was reached"),
        _ => ("interrupted", "the run was interrupted"),
    };
    let message = format!(
        "{what}; every committed chunk is kept and the next `odoo-migrate run` resumes after it"
    );
    side_schema::finish_run(control, run_id, state, Some(&message)).await?;
    let number = side_schema::run_number(control, run_id).await?;
    crate::io::report::emit(&format!("Run {number} stopped: {message}.\n"))?;
    Ok(Some(status))
}

/// Marks a failed table in the side schema with its error; returns the line that names it.
async fn record_failure(
    control: &Client,
    plan: &TablePlan,
    error: &anyhow::Error,
    run_id: i64,
) -> Result<String> {
    let mut message = connect::redact(&format!("{error:#}"));
    if let Some(hint) = connect::hint(error) {
        message.push_str(&format!(" (hint: {hint})"));
    }
    tracing::warn!(table = %plan.source_table, "table failed: {message}");
    control
        .execute(
            "UPDATE odoo_migrate.model_state SET status = 'failed', error = $3 WHERE run_id = $1 AND source_table = $2",
            &[&run_id, &plan.key, &message],
        )
        .await?;
    let problem = Problem {
        severity: "error",
        kind: "table_failed",
        model: Some(&plan.model),
        table: Some(&plan.target_table),
        column: None,
        source_id: None,
        message: &message,
        detail: None,
    };
    record_problem(control, run_id, &problem).await?;
    Ok(format!(
        "{} → {}: {message}",
        plan.source_table, plan.target_table
    ))
}

/// Counts one plan of `table` as copied; true when it was the last one.
fn last_plan_of(plans_left: &std::sync::Mutex<BTreeMap<String, usize>>, table: &str) -> bool {
    let Ok(mut left) = plans_left.lock() else {
        return false;
    };
    match left.get_mut(table) {
        Some(count) => {
            *count = count.saturating_sub(1);
            *count == 0
        }
        None => false,
    }
}

/// Once every plan of a target table is copied: its indexes set aside are built again and the
/// planner statistics of its key columns refreshed, for the key checks at the end. The other
/// columns are left to autovacuum, which analyzes a table soon after this many new rows: a full
/// ANALYZE of the large text columns (message bodies) cost a third of the server's time spent
/// on statistics for no use during the run.
async fn finish_table(session: &Session, run_id: i64, table: &str) -> Result<()> {
    let client = session.target.get().await?;
    crate::copy::indexes::rebuild_table(&**client, run_id, table).await?;
    let key_columns: std::collections::BTreeSet<&str> = session
        .target_catalog
        .tables
        .get(table)
        .map(|t| {
            t.primary_key
                .iter()
                .chain(t.foreign_keys.iter().flat_map(|k| k.columns.iter()))
                .map(String::as_str)
                .collect()
        })
        .unwrap_or_default();
    let columns = if key_columns.is_empty() {
        String::new()
    } else {
        format!(
            " ({})",
            key_columns
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    client
        .batch_execute(&format!("ANALYZE public.{}{columns}", quote_ident(table)))
        .await
        .with_context(|| format!("cannot analyze {table}"))
}

/// How a table's copy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableEnd {
    Done,
    /// Stopped at a chunk boundary because the run was asked to stop.
    Stopped,
}

/// What every table's copy shares within a run.
pub(super) struct Copying<'a> {
    pub session: &'a Session,
    pub mappings: &'a Mappings,
    pub renamed_models: &'a BTreeMap<String, String>,
    pub run_id: i64,
    pub chunk_size: i64,
    /// Foreign key triggers off in the copying transactions (keys::Strategy::Replica).
    pub triggers_off: bool,
    pub stop: &'a StopSignal,
    pub progress: &'a Progress,
}

/// Copies one table (or one slice of it) chunk by chunk; each chunk commits with its mappings,
/// external ids, problems and checkpoint, so that a resumed run starts after the last committed
/// chunk. A transient error (lost connection, server restart, serialization failure) retries the
/// chunk.
async fn copy_table(copying: &Copying<'_>, unit: &Unit) -> Result<TableEnd> {
    let Copying {
        session,
        run_id,
        stop,
        progress,
        ..
    } = *copying;
    let plan = &unit.plan;
    let (done, total): (i64, i64) = {
        let client = session.target.get().await?;
        let row = match unit.slice {
            None => client
                .query_one(
                    "SELECT rows_done, $3::bigint FROM odoo_migrate.model_state WHERE run_id = $1 AND source_table = $2",
                    &[&run_id, &plan.key, &plan.rows],
                )
                .await?,
            Some(slice) => client
                .query_one(
                    "SELECT rows_done, rows_total FROM odoo_migrate.slices WHERE run_id = $1 AND source_table = $2 AND slice = $3",
                    &[&run_id, &plan.key, &slice],
                )
                .await?,
        };
        (row.get(0), row.get(1))
    };
    let name = match unit.slice {
        None => plan.key.clone(),
        Some(slice) => format!("{} (slice {slice})", plan.key),
    };
    let progress = progress.table(&name, total.max(done) as u64);
    progress.advance(done as u64);
    loop {
        if stop.requested() {
            return Ok(TableEnd::Stopped);
        }
        let mut attempt = 0u32;
        let finished = loop {
            attempt += 1;
            match copy_chunk(copying, plan, unit.slice).await {
                Ok((finished, rows)) => {
                    progress.advance(rows);
                    break finished;
                }
                Err(error) if attempt < MAX_ATTEMPTS && is_transient(&error) => {
                    let wait = std::time::Duration::from_millis(500 * 2u64.pow(attempt - 1));
                    tracing::warn!(
                        table = %name,
                        attempt,
                        "transient error, retrying the chunk in {wait:?}: {error:#}"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(error) => return Err(error),
            }
        };
        if finished {
            return Ok(TableEnd::Done);
        }
    }
}

/// Attempts of one chunk before a transient error counts as a failure.
const MAX_ATTEMPTS: u32 = 5;

/// Errors worth retrying: the connection went away, or the server asked to try again.
fn is_transient(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let Some(pg) = cause.downcast_ref::<tokio_postgres::Error>() else {
            return cause
                .downcast_ref::<deadpool_postgres::PoolError>()
                .is_some();
        };
        if pg.is_closed() {
            return true;
        }
        match pg.code() {
            Some(code) => {
                let code = code.code();
                code.starts_with("08")
                    || matches!(
                        code,
                        "40001" | "40P01" | "57P01" | "57P02" | "57P03" | "53300"
                    )
            }
            // No SQLSTATE: an I/O error on the socket.
            None => pg.as_db_error().is_none(),
        }
    })
}

/// Copies the next chunk of a table (of its slice `slice`) in one target transaction. Returns
/// true when the table or slice is complete (its checkpoint then says `done`).
async fn copy_chunk(
    copying: &Copying<'_>,
    plan: &TablePlan,
    slice: Option<i32>,
) -> Result<(bool, u64)> {
    let Copying {
        session,
        mappings,
        renamed_models,
        run_id,
        chunk_size,
        triggers_off,
        ..
    } = *copying;
    let chunk_size = (plan.kind == TableKind::Model).then_some(chunk_size);
    let source = session.source.get().await?;
    let mut target = session.target.get().await?;
    let transaction = target.transaction().await?;
    // A lost chunk commit is recovered like a crash: the checkpoint is in the same transaction.
    transaction
        .batch_execute(if triggers_off {
            "SET LOCAL synchronous_commit = off; SET LOCAL session_replication_role = replica"
        } else {
            "SET LOCAL synchronous_commit = off"
        })
        .await?;
    let (after, upto) = claim(&transaction, plan, slice, run_id).await?;
    let source_client: &Client = &source;
    fault::point("before_chunk");
    let span = Span {
        after,
        upto,
        limit: chunk_size,
    };
    let outcome = rows::copy_rows(
        plan,
        source_client,
        &transaction,
        mappings,
        renamed_models,
        span,
        run_id,
    )
    .await?;
    fault::point("after_chunk_rows");
    let finished = chunk_size.is_none_or(|size| (outcome.rows_read as i64) < size);
    let last = outcome.last_source_id.map(i64::from).or(after);
    record_chunk_keys(&transaction, plan, mappings, &outcome.mapped_ids).await?;
    let table_done =
        record_checkpoint(&transaction, plan, slice, &outcome, last, finished, run_id).await?;
    // After the mappings, so that the rules' SQL can restrict itself to the rows of this run;
    // once, in the transaction that completes the table (a sliced plan has none: see
    // id_plan::Slicing).
    if table_done {
        for sql in &plan.post_sql {
            transaction
                .batch_execute(sql)
                .await
                .with_context(|| format!("post-copy SQL of {} failed: {sql}", plan.model))?;
        }
    }
    // The run's last checkpoint is read from model_state: an UPDATE of the run's row here would
    // make the parallel chunks wait on each other's commits.
    fault::point("before_chunk_commit");
    transaction
        .commit()
        .await
        .with_context(|| format!("cannot commit the copy of {}", plan.source_table))?;
    fault::point("after_chunk_commit");
    if slice.is_some() {
        fault::point("after_slice_chunk_commit");
    }
    tracing::debug!(
        table = %plan.source_table,
        slice,
        rows = outcome.rows_read,
        created = outcome.created,
        matched = outcome.matched,
        updated = outcome.updated,
        rejected = outcome.rejected,
        finished,
        "chunk copied"
    );
    Ok((finished, outcome.rows_read))
}

/// Marks the table (or its slice) as being copied and returns where its checkpoint stands: the
/// last source id copied, and the slice's last id.
async fn claim(
    transaction: &Transaction<'_>,
    plan: &TablePlan,
    slice: Option<i32>,
    run_id: i64,
) -> Result<(Option<i64>, Option<i64>)> {
    let Some(slice) = slice else {
        let state = transaction
            .query_one(
                "UPDATE odoo_migrate.model_state SET status = 'copying', started_at = coalesce(started_at, now()) \
                 WHERE run_id = $1 AND source_table = $2 RETURNING last_source_id",
                &[&run_id, &plan.key],
            )
            .await?;
        return Ok((state.get(0), None));
    };
    let state = transaction
        .query_one(
            "UPDATE odoo_migrate.slices SET status = 'copying' \
             WHERE run_id = $1 AND source_table = $2 AND slice = $3 RETURNING last_source_id, upto_id",
            &[&run_id, &plan.key, &slice],
        )
        .await
        .with_context(|| format!("cannot read the checkpoint of slice {slice} of {}", plan.key))?;
    Ok((state.get(0), state.get(1)))
}

/// The chunk's mappings and the external ids of its created records, in the chunk's transaction.
async fn record_chunk_keys(
    transaction: &Transaction<'_>,
    plan: &TablePlan,
    mappings: &Mappings,
    mapped_ids: &[i32],
) -> Result<()> {
    if plan.kind != TableKind::Model {
        return Ok(());
    }
    let (Some(first), Some(end)) = (mapped_ids.first(), mapped_ids.last()) else {
        return Ok(());
    };
    if plan.catch_up.is_some() {
        return record_catch_up_keys(transaction, plan, mapped_ids).await;
    }
    // The chunk's planned ids as a range, less the few that were not accounted for (rejected
    // rows, rows gone from the source): an index range instead of an array of every id.
    let excluded = unaccounted(mappings.get(&plan.model), mapped_ids);
    // A chunk's range follows the last checkpoint, so each mapping is written once: a plain
    // insert (half the cost of ON CONFLICT). A large load writes it without id_map's keys (built
    // once at the end, where the primary key refuses a double); otherwise the key stops the chunk.
    // `run --update` goes over records already mapped.
    let record_mappings = if plan.update_only {
        "INSERT INTO odoo_migrate.id_map (model, source_id, target_id, how, run_id) \
         SELECT p.model, p.source_id, p.target_id, p.how, p.run_id FROM odoo_migrate.id_plan p \
         WHERE p.model = $1 AND p.source_id BETWEEN $2 AND $3 AND p.source_id <> ALL($4::int[]) \
         ON CONFLICT (model, source_id) DO NOTHING"
    } else {
        "INSERT INTO odoo_migrate.id_map (model, source_id, target_id, how, run_id) \
         SELECT p.model, p.source_id, p.target_id, p.how, p.run_id FROM odoo_migrate.id_plan p \
         WHERE p.model = $1 AND p.source_id BETWEEN $2 AND $3 AND p.source_id <> ALL($4::int[])"
    };
    transaction
        .execute(record_mappings, &[&plan.model, first, end, &excluded])
        .await
        .with_context(|| format!("cannot record the mappings of {}", plan.model))?;
    transaction
        .execute(
            "INSERT INTO ir_model_data (id, module, name, model, res_id, noupdate, create_date, write_date) \
             SELECT x.target_id, x.module, x.name, $2, p.target_id, x.noupdate, x.create_date, x.write_date \
             FROM odoo_migrate.xmlid_plan x \
             JOIN odoo_migrate.id_plan p ON p.model = x.model AND p.source_id = x.source_id AND p.how = 'created' \
             WHERE x.model = $1 AND x.source_id BETWEEN $3 AND $4 AND x.source_id <> ALL($5::int[]) \
             ON CONFLICT DO NOTHING",
            &[&plan.model, &plan.target_model, first, end, &excluded],
        )
        .await
        .with_context(|| format!("cannot create the external ids of {}", plan.model))?;
    Ok(())
}

/// A catch-up's chunk: the mappings and external ids of exactly the rows it accounted for (it
/// reads only the rows that differ from the last sync; the others are mapped already).
async fn record_catch_up_keys(
    transaction: &Transaction<'_>,
    plan: &TablePlan,
    mapped_ids: &[i32],
) -> Result<()> {
    transaction
        .execute(
            "INSERT INTO odoo_migrate.id_map (model, source_id, target_id, how, run_id) \
             SELECT p.model, p.source_id, p.target_id, p.how, p.run_id FROM odoo_migrate.id_plan p \
             WHERE p.model = $1 AND p.source_id = ANY($2::int[]) ON CONFLICT (model, source_id) DO NOTHING",
            &[&plan.model, &mapped_ids],
        )
        .await
        .with_context(|| format!("cannot record the mappings of {}", plan.model))?;
    transaction
        .execute(
            "INSERT INTO ir_model_data (id, module, name, model, res_id, noupdate, create_date, write_date) \
             SELECT x.target_id, x.module, x.name, $2, p.target_id, x.noupdate, x.create_date, x.write_date \
             FROM odoo_migrate.xmlid_plan x \
             JOIN odoo_migrate.id_plan p ON p.model = x.model AND p.source_id = x.source_id AND p.how = 'created' \
             WHERE x.model = $1 AND x.source_id = ANY($3::int[]) ON CONFLICT DO NOTHING",
            &[&plan.model, &plan.target_model, &mapped_ids],
        )
        .await
        .with_context(|| format!("cannot create the external ids of {}", plan.model))?;
    Ok(())
}

/// The chunk's problems and the table's checkpoint (rows and counts so far, last source id, done
/// or still copying), in the chunk's transaction. Returns true when the table is complete: its
/// last chunk, or the last chunk of its last slice.
async fn record_checkpoint(
    transaction: &Transaction<'_>,
    plan: &TablePlan,
    slice: Option<i32>,
    outcome: &rows::CopyOutcome,
    last: Option<i64>,
    finished: bool,
    run_id: i64,
) -> Result<bool> {
    for problem in &outcome.problems {
        let message = problem_message(plan, problem);
        let detail = serde_json::json!({ "count": problem.count, "referenced_model": problem.model, "sample_source_ids": problem.samples });
        let recorded = Problem {
            severity: "warning",
            kind: problem.kind,
            model: Some(&plan.model),
            table: Some(&plan.target_table),
            column: Some(&problem.column),
            source_id: None,
            message: &message,
            detail: Some(&detail),
        };
        record_problem(transaction, run_id, &recorded).await?;
    }
    let counts = [
        outcome.rows_read as i64,
        outcome.created as i64,
        outcome.matched as i64,
        outcome.updated as i64,
        outcome.rejected as i64,
    ];
    let status = if finished { "done" } else { "copying" };
    let Some(slice) = slice else {
        transaction
            .execute(
                "UPDATE odoo_migrate.model_state SET status = $9, finished_at = CASE WHEN $9 = 'done' THEN clock_timestamp() END, \
                 checkpoint_at = now(), rows_done = rows_done + $3, rows_created = rows_created + $4, \
                 rows_matched = rows_matched + $5, rows_updated = rows_updated + $6, rows_rejected = rows_rejected + $7, \
                 last_source_id = $8, error = NULL WHERE run_id = $1 AND source_table = $2",
                &[
                    &run_id, &plan.key, &counts[0], &counts[1], &counts[2], &counts[3], &counts[4],
                    &last, &status,
                ],
            )
            .await?;
        return Ok(finished);
    };
    record_slice_checkpoint(transaction, plan, slice, &counts, last, status, run_id).await
}

/// A slice's checkpoint, and its counts added to its table's row. That row is locked from here
/// to the commit, so the slices finishing at the same moment take turns: the last to take it sees
/// every other slice done (committed before it got the lock) and marks the table done; a kill
/// between two of them leaves the table copying, and the resumed slice marks it.
async fn record_slice_checkpoint(
    transaction: &Transaction<'_>,
    plan: &TablePlan,
    slice: i32,
    counts: &[i64; 5],
    last: Option<i64>,
    status: &str,
    run_id: i64,
) -> Result<bool> {
    transaction
        .execute(
            "UPDATE odoo_migrate.slices SET status = $4, rows_done = rows_done + $5, last_source_id = $6 \
             WHERE run_id = $1 AND source_table = $2 AND slice = $3",
            &[&run_id, &plan.key, &slice, &status, &counts[0], &last],
        )
        .await?;
    transaction
        .execute(
            "UPDATE odoo_migrate.model_state SET status = 'copying', started_at = coalesce(started_at, now()), \
             checkpoint_at = now(), rows_done = rows_done + $3, rows_created = rows_created + $4, \
             rows_matched = rows_matched + $5, rows_updated = rows_updated + $6, rows_rejected = rows_rejected + $7, \
             error = NULL WHERE run_id = $1 AND source_table = $2",
            &[
                &run_id, &plan.key, &counts[0], &counts[1], &counts[2], &counts[3], &counts[4],
            ],
        )
        .await?;
    if status != "done" {
        return Ok(false);
    }
    let marked = transaction
        .execute(
            "UPDATE odoo_migrate.model_state SET status = 'done', finished_at = clock_timestamp() \
             WHERE run_id = $1 AND source_table = $2 AND NOT EXISTS \
             (SELECT 1 FROM odoo_migrate.slices WHERE run_id = $1 AND source_table = $2 AND status <> 'done')",
            &[&run_id, &plan.key],
        )
        .await?;
    Ok(marked == 1)
}

/// The planned ids between the first and last of `mapped` (ascending) that are not in it.
fn unaccounted(planned: Option<&ids::IdMap>, mapped: &[i32]) -> Vec<i32> {
    let (Some(planned), Some(&first), Some(&last)) = (planned, mapped.first(), mapped.last())
    else {
        return Vec::new();
    };
    let mut mapped = mapped.iter().peekable();
    let mut out = Vec::new();
    for id in planned.mapped_between(first, last) {
        while mapped.next_if(|&&m| m < id).is_some() {}
        if mapped.peek() != Some(&&id) {
            out.push(id);
        }
    }
    out
}

fn problem_message(plan: &TablePlan, problem: &rows::Problem) -> String {
    let (count, table, model) = (problem.count, &plan.source_table, &problem.model);
    match problem.kind {
        "record_of_unmigrated_model" => format!(
            "{count} row(s) of {table} belong to records of {model}, a model that is not migrated; those rows were not copied"
        ),
        "row_not_planned" => format!(
            "{count} row(s) of {table} appeared in the source after the run's id plan was made; they were not copied (the source must not change during a migration)"
        ),
        "invalid_jsonb" => format!(
            "{count} row(s) of {table} hold a value in {} that is not a jsonb object keyed by company; written as NULL",
            problem.column
        ),
        _ => {
            // A required column cannot take NULL: the copy rejected those rows instead.
            let required = plan
                .columns
                .iter()
                .any(|c| c.target_column == problem.column && c.not_null);
            let outcome = if required {
                "the column is required, so those rows were not copied"
            } else {
                "the column was written as NULL in those rows"
            };
            format!(
                "{count} row(s) of {table} reference {model} records that are not migrated (column {}); {outcome}",
                problem.column
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unaccounted_ids_are_the_planned_ones_missing_from_the_chunk() {
        let mut planned = ids::IdMap::default();
        for id in [3, 4, 5, 7, 9, 12] {
            planned.insert(id, id + 100, ids::How::Created);
        }
        assert_eq!(unaccounted(Some(&planned), &[3, 5, 9]), vec![4, 7]);
        assert_eq!(unaccounted(Some(&planned), &[]), Vec::<i32>::new());
        assert_eq!(unaccounted(None, &[3, 5]), Vec::<i32>::new());
    }

    #[test]
    fn a_plan_ends_failed_if_a_slice_failed_stopped_if_one_stopped_done_when_all_are() {
        let plan = |key: &str| {
            let mut plan = TablePlan::for_tests(TableKind::Model, "m", Vec::new());
            plan.key = key.to_string();
            plan
        };
        let merged = by_plan(vec![
            (plan("a"), Ok(TableEnd::Done)),
            (plan("b"), Ok(TableEnd::Done)),
            (plan("a"), Ok(TableEnd::Stopped)),
            (plan("c"), Ok(TableEnd::Done)),
            (plan("b"), Err(anyhow::anyhow!("slice 2 failed"))),
            (plan("a"), Ok(TableEnd::Done)),
            (plan("b"), Ok(TableEnd::Stopped)),
            (plan("c"), Ok(TableEnd::Done)),
        ]);
        let ends: Vec<(String, String)> = merged
            .iter()
            .map(|(p, o)| {
                let end = match o {
                    Ok(end) => format!("{end:?}"),
                    Err(e) => e.to_string(),
                };
                (p.key.clone(), end)
            })
            .collect();
        assert_eq!(
            ends,
            [
                ("a".to_string(), "Stopped".to_string()),
                ("b".to_string(), "slice 2 failed".to_string()),
                ("c".to_string(), "Done".to_string()),
            ]
        );
    }
}
