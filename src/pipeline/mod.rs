//! The migration's story, from the lock to the summary (`run`): rules and both catalogs read, the
//! run's row in the side schema, the id plan (made once per run), the parallel copy of every
//! table — each chunk in one target transaction together with its mappings, external ids and
//! checkpoint — and the finishing steps: indexes rebuilt, foreign keys restored and proven,
//! sequences and document numbering moved, defaults and per-company copies, files. The other
//! ways through the stages live beside it: `update`, `rehearse`, `rollback`; `catch_up` is the
//! run told that it brings a migrated target to a newer snapshot of its source.
//!
//! This folder may use every stage (catalog, rules, plan, copy, side schema); it knows nothing of
//! the command line: a command hands it plain options.

mod catch_up;
mod copying;
mod finish;
mod guards;
mod id_plan;
pub mod rehearse;
pub mod rollback;
pub mod update;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio_postgres::Client;

use crate::catalog::session::Session;
use crate::copy::keys;
use crate::io::connect::Endpoint;
use crate::io::exit::Status;
use crate::io::fault;
use crate::io::progress::Progress;
use crate::io::stop::StopSignal;
use crate::plan::ids;
use crate::plan::tables::{self, OnConflict, TablePlan};
use crate::rules::{OnMatch, Rules};
use crate::side_schema;

pub use guards::check_plans;

/// What every way through the stages starts from: both databases and the rules.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub source: Endpoint,
    pub target: Endpoint,
    /// The user's rules files, read after the default pack.
    pub rules: Vec<PathBuf>,
    /// Per model (Odoo 16 name): keep or update the target records matched to source records.
    pub on_match: Vec<(String, OnMatch)>,
}

impl Inputs {
    /// The rules (with the `on_match` choices applied) and a session on both databases, whose
    /// catalogs the rules' names are checked against.
    pub async fn open(&self, pool_size: usize) -> Result<(Session, Rules)> {
        let mut rules = Rules::load(&self.rules)?;
        for (model, policy) in &self.on_match {
            rules.models.entry(model.clone()).or_default().on_match = Some(*policy);
        }
        let session = Session::open(self.source.clone(), self.target.clone(), pool_size).await?;
        rules.check_names(&session.source_catalog, &session.target_catalog)?;
        Ok((session, rules))
    }
}

/// How a run goes: the options of `odoo-migrate run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub inputs: Inputs,
    pub jobs: usize,
    pub chunk_size: i64,
    pub foreign_keys: keys::Strategy,
    pub rebuild_indexes_from: u64,
    /// A model table of at least this many rows is cut into slices by id, copied by several
    /// jobs at once; 0 cuts none.
    pub slice_from: u64,
    pub keep_going: bool,
    pub restart: bool,
    /// Source and target filestores, to bring the attachments' files over.
    pub filestores: Option<(PathBuf, PathBuf)>,
    pub report_dir: Option<PathBuf>,
    /// A progress bar on the terminal.
    pub show_progress: bool,
    /// `--catch-up`: bring a finished migration to the source's newer snapshot.
    pub catch_up: bool,
    /// `--on-conflict` of a catch-up (fail when not given to a new one).
    pub on_conflict: Option<OnConflict>,
    /// `--prepare-catch-up`: keep a hash of every source row read, for the next catch-up.
    pub keep_row_hashes: bool,
    /// `--catch-up-compare write-date`: trust `write_date` where it is safe, reading the rows
    /// written since the last sync's newest less this many minutes; `None`: compare every row.
    pub write_date_margin: Option<u32>,
}

/// Migrates the source into the target, resuming an unfinished run; stops cleanly at a chunk
/// boundary when `stop` is signalled.
pub async fn run(options: &RunOptions, stop: StopSignal) -> Result<Status> {
    let jobs = options.jobs.max(1);
    let (session, rules) = options.inputs.open(jobs + 1).await?;
    tracing::info!("both catalogs read");
    guards::refuse_blocking_differences(&session, &rules)?;
    tracing::info!("analysis found nothing blocking");
    guards::refuse_filled_target_before_writing(&session).await?;
    if options.catch_up {
        catch_up::refuse_without_migration(&session).await?;
    }
    let mut control = lock_target(&session).await?;
    let catch_up = options.catch_up || catch_up::unfinished(&control).await?.is_some();
    let (pairs, mut plans) = tables::for_session(&session, &rules)?;
    let Some(run_id) = start(&control, &session, options, &plans, jobs, catch_up).await? else {
        return Ok(Status::Success);
    };
    record_target_sequences(&control, run_id).await?;
    check_plans(&session, &plans).await?;
    tracing::info!(tables_planned = plans.len(), "copy plans made and checked");
    let foreign_keys = keys::choose(&mut control, options.foreign_keys).await?;
    tracing::info!(strategy = ?foreign_keys, "foreign keys during the copy");
    id_plan::make_once(
        &session,
        &mut control,
        &rules,
        &pairs,
        &plans,
        run_id,
        foreign_keys,
        catch_up,
        id_plan::Slicing {
            jobs,
            chunk_size: options.chunk_size,
            from_rows: options.slice_from,
        },
    )
    .await?;
    let mut load_options = options.clone();
    if catch_up {
        plans = catch_up_plans(&session, &control, plans, run_id, jobs, options).await?;
        // A catch-up writes few rows into large tables: their indexes stay.
        load_options.rebuild_indexes_from = 0;
    }
    let load = prepare_load(
        &session,
        &mut control,
        &plans,
        &load_options,
        foreign_keys,
        run_id,
    )
    .await?;
    let mut mappings = ids::load(&control, &rules, &pairs).await?;
    if catch_up {
        mappings.fresh = Some(catch_up::fresh_ids(&control, run_id).await?);
    }
    let mappings = Arc::new(mappings);
    tracing::info!(bytes = mappings.heap_bytes(), "mappings loaded into memory");
    // A run asked to (`--prepare-catch-up`) keeps the hashes of the rows it read, for the next
    // catch-up (a catch-up kept the newer snapshot's when it compared them). Without them the
    // next catch-up reads the whole source again.
    let to_hash = (!catch_up && options.keep_row_hashes).then(|| plans.clone());
    let pending = pending_plans(plans, &load.done_at_start);
    tracing::info!(
        tables_to_copy = pending.len(),
        tables_done_before = load.done_at_start.len(),
        jobs,
        "copying"
    );
    let progress = progress_bar(&control, options, run_id, &stop).await?;
    let copy = copying::Copying {
        session: &session,
        mappings: &mappings,
        renamed_models: &rules.renamed_models(),
        run_id,
        chunk_size: options.chunk_size,
        triggers_off: foreign_keys == keys::Strategy::Replica,
        stop: &stop,
        progress: &progress,
    };
    let copied = copying::copy_tables(&copy, pending, jobs, options.keep_going).await?;
    progress.finish();
    if let Some(status) = copying::record_end(&control, &copied, &stop, run_id).await? {
        return Ok(status);
    }
    if let Some(plans) = &to_hash {
        tracing::info!("rows copied; hashing the source rows");
        catch_up::record_hashes(&session, plans, run_id, jobs).await?;
        tracing::info!("source rows hashed for the next catch-up");
    } else if !catch_up {
        catch_up::store_whole_tables(&session, run_id).await?;
    }
    if catch_up {
        let triggers_off = foreign_keys == keys::Strategy::Replica;
        catch_up::after_copy(&session, &mut control, &rules, run_id, triggers_off).await?;
    }
    fault::point("before_finish");
    tracing::info!("every table copied");
    let status = finish::finish(
        &session,
        &mut control,
        &rules,
        options,
        &load,
        &copied,
        run_id,
    )
    .await?;
    Ok(status)
}

/// A catch-up's plans, narrowed to the rows whose hashes differ from the last sync's (or, where
/// `--catch-up-compare write-date` trusts the stamp, to the rows stamped since).
async fn catch_up_plans(
    session: &Session,
    control: &Client,
    plans: Vec<TablePlan>,
    run_id: i64,
    jobs: usize,
    options: &RunOptions,
) -> Result<Vec<TablePlan>> {
    let mut plans = catch_up::prepare_plans(control, plans, run_id).await?;
    let (unchanged, rows) =
        catch_up::narrow(session, &mut plans, run_id, jobs, options.write_date_margin).await?;
    tracing::info!(
        tables_unchanged = unchanged,
        rows_to_read = rows,
        "source rows hashed and compared with the last sync"
    );
    Ok(plans)
}

/// The run to work on: a new one or the unfinished one resumed (a catch-up when `catch_up`), or
/// `None` when the newest run is finished and there is nothing to do (said, and files brought).
async fn start(
    control: &Client,
    session: &Session,
    options: &RunOptions,
    plans: &[TablePlan],
    jobs: usize,
    catch_up: bool,
) -> Result<Option<i64>> {
    let start = if catch_up {
        catch_up::start_or_resume(control, session, options, plans, jobs).await?
    } else {
        guards::start_or_resume(control, session, options, jobs).await?
    };
    match start {
        guards::Start::Run(run_id) => Ok(Some(run_id)),
        guards::Start::AlreadyFinished(run_id) => {
            let number = side_schema::run_number(control, run_id).await?;
            crate::io::report::emit(&format!(
                "Nothing to do: run {number} already migrated {} into {}{}. Use `odoo-migrate verify` to check it.\n",
                session.source_catalog.database,
                session.target_catalog.database,
                if catch_up {
                    " and the source has not changed since"
                } else {
                    ""
                }
            ))?;
            finish::bring_files(control, options, run_id).await?;
            Ok(None)
        }
    }
}

/// A control connection to the target with the side schema in place and the run's lock held.
async fn lock_target(session: &Session) -> Result<Client> {
    let mut control = session.target_endpoint.connect().await?;
    side_schema::ensure(&mut control).await?;
    side_schema::lock_run(
        &control,
        &format!(
            "another odoo-migrate run is working on the target {} right now; wait for it to end (see `odoo-migrate status`)",
            session.target_endpoint
        ),
    )
    .await?;
    side_schema::claim_source(
        &control,
        &session.source_uuid,
        &session.source_catalog.database,
        &session.source_catalog.base_version,
    )
    .await?;
    Ok(control)
}

/// Committed on its own and recorded once per run: new ids are allocated from these values, so
/// that a planning interrupted and made again allocates the same ids.
async fn record_target_sequences(control: &Client, run_id: i64) -> Result<()> {
    control
        .execute(
            include_str!("../../sql/run/record_sequences.sql"),
            &[&run_id],
        )
        .await
        .context("cannot record the state of the target's sequences")?;
    Ok(())
}

/// What the load set aside, for the finishing steps.
pub(crate) struct Load {
    /// Every target table the run writes.
    written: Vec<String>,
    /// The rules' post-copy SQL of every plan.
    post_sql: Vec<String>,
    /// The rules' SQL run once every table is copied, with the model it belongs to.
    final_sql: Vec<FinalStatement>,
    /// Tables already done when this attempt started.
    done_at_start: Vec<String>,
}

/// Makes the target ready for a bulk load: foreign keys set aside (with `set-aside`), secondary
/// indexes of the tables that receive many rows dropped, and the index of the mappings table too
/// when it receives many. Rules may fill the many2many tables of the target models after the copy
/// (accounts' companies): their keys are set aside too, so that load order never matters. Keys
/// already set aside by an interrupted attempt are recorded and stay aside.
async fn prepare_load(
    session: &Session,
    control: &mut Client,
    plans: &[TablePlan],
    options: &RunOptions,
    foreign_keys: keys::Strategy,
    run_id: i64,
) -> Result<Load> {
    let written = tables_written(plans, &session.target_catalog);
    let post_sql: Vec<String> = plans.iter().flat_map(|p| p.post_sql.clone()).collect();
    let final_sql = final_statements(plans);
    if foreign_keys == keys::Strategy::SetAside {
        keys::set_aside(control, &written, run_id).await?;
    }
    let done_at_start: Vec<String> = control
        .query(
            "SELECT source_table FROM odoo_migrate.model_state WHERE run_id = $1 AND status = 'done'",
            &[&run_id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    fault::point("after_foreign_keys_set_aside");
    let bulk = crate::copy::indexes::bulk_tables(
        plans
            .iter()
            .filter(|p| !done_at_start.contains(&p.key))
            .map(|p| (p.target_table.as_str(), p.rows)),
        options.rebuild_indexes_from,
    );
    crate::copy::indexes::set_aside(control, &bulk, run_id).await?;
    // The mappings table is loaded in bulk too: its keys are built once at the end.
    let mappings_to_write: i64 = control
        .query_one(
            "SELECT count(*) FROM odoo_migrate.id_plan WHERE run_id = $1",
            &[&run_id],
        )
        .await?
        .get(0);
    if options.rebuild_indexes_from > 0 && mappings_to_write as u64 >= options.rebuild_indexes_from
    {
        side_schema::set_id_map_keys_aside(control).await?;
    }
    Ok(Load {
        written,
        post_sql,
        final_sql,
        done_at_start,
    })
}

/// One statement of the rules' `final_sql`, with the model whose rules give it and, for a model's
/// own table, that table (whose matched records it may change: their before-images are kept).
pub(crate) struct FinalStatement {
    pub model: String,
    pub table: Option<String>,
    pub sql: String,
}

/// The rules' `final_sql` of the plans, each with its model, in the plans' order and once each
/// (a model copied in chunks has one plan).
pub(crate) fn final_statements(plans: &[TablePlan]) -> Vec<FinalStatement> {
    let mut statements: Vec<FinalStatement> = Vec::new();
    for plan in plans {
        for sql in &plan.final_sql {
            if !statements.iter().any(|s| &s.sql == sql) {
                statements.push(FinalStatement {
                    model: plan.model.clone(),
                    table: (plan.kind == crate::rules::pairing::TableKind::Model && !plan.derived)
                        .then(|| plan.target_table.clone()),
                    sql: sql.clone(),
                });
            }
        }
    }
    statements
}

/// The plans still to copy, largest first: a big table started last would leave the other
/// workers idle at the end.
fn pending_plans(plans: Vec<TablePlan>, done_at_start: &[String]) -> Vec<TablePlan> {
    let mut pending: Vec<TablePlan> = plans
        .into_iter()
        .filter(|p| !done_at_start.contains(&p.key))
        .collect();
    pending.sort_by_key(|p| std::cmp::Reverse(p.rows));
    pending
}

/// The run's progress bar, started at the rows already copied by earlier attempts.
async fn progress_bar(
    control: &Client,
    options: &RunOptions,
    run_id: i64,
    stop: &StopSignal,
) -> Result<Progress> {
    let row = control
        .query_one(
            "SELECT coalesce(sum(rows_total), 0)::bigint, coalesce(sum(rows_done), 0)::bigint \
             FROM odoo_migrate.model_state WHERE run_id = $1",
            &[&run_id],
        )
        .await?;
    let (rows_total, rows_done): (i64, i64) = (row.get(0), row.get(1));
    Ok(Progress::new(
        options.show_progress,
        rows_total.max(0) as u64,
        rows_done.max(0) as u64,
        {
            let stop = stop.clone();
            move || stop.requested()
        },
    ))
}

/// The target tables a run writes: those it copies into and the many2many tables of the models it
/// copies, which rules may fill after the copy.
pub fn tables_written(plans: &[TablePlan], target: &crate::catalog::Catalog) -> Vec<String> {
    let mut written: Vec<String> = plans.iter().map(|p| p.target_table.clone()).collect();
    let target_models: std::collections::BTreeSet<&str> =
        plans.iter().map(|p| p.target_model.as_str()).collect();
    for (table, (model, _)) in target.relation_tables() {
        if target_models.contains(model.name.as_str()) && !written.contains(&table) {
            written.push(table);
        }
    }
    written
}
