//! The `run` command from start to end: the lock that keeps a second run out, the run's row in the
//! side schema, the id plan (made once per run), the parallel copy of every table — each table in
//! one target transaction together with its mappings, external ids and checkpoint — and the
//! finishing steps: foreign keys restored and validated, sequences moved past the copied ids.

pub mod rehearse;
pub mod rollback;
pub mod update;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures::StreamExt;
use tokio_postgres::Client;

use crate::catalog::quote_ident;
use crate::catalog::session::Session;
use crate::cli::{Cli, RunArgs};
use crate::copy::keys;
use crate::copy::rows;
use crate::io::exit::{Status, refuse};
use crate::io::progress::Progress;
use crate::io::stop::{self, StopSignal};
use crate::io::{connect, fault};
use crate::plan::analysis;
use crate::plan::ids::{self, Mappings};
use crate::plan::tables::{self, TablePlan};
use crate::rules::Rules;
use crate::rules::pairing::TableKind;
use crate::side_schema;

pub async fn run_command(cli: &Cli, args: &RunArgs) -> Result<Status> {
    if !args.update.is_empty() {
        return crate::pipeline::update::update_command(cli, args).await;
    }
    let mut rules = Rules::load(&cli.rules)?;
    for (model, policy) in &args.on_match {
        rules.models.entry(model.clone()).or_default().on_match = Some(*policy);
    }
    let jobs = args.jobs.max(1);
    let stop = StopSignal::default();
    if let Some(deadline) = &args.deadline {
        let wait = stop::until_deadline(deadline, chrono::Local::now()).ok_or_else(|| {
            refuse(
                Status::Usage,
                format!("--deadline takes a time of day as HH:MM (e.g. 06:30), not `{deadline}`"),
            )
        })?;
        stop.stop_after(wait);
    }
    if let Some(duration) = &args.max_duration {
        let wait = stop::parse_duration(duration).ok_or_else(|| {
            refuse(
                Status::Usage,
                format!(
                    "--max-duration takes a duration such as 90m, 2h or 1h30m, not `{duration}`"
                ),
            )
        })?;
        stop.stop_after(wait);
    }
    stop.watch_signals();
    let session = Session::open(cli.source()?, cli.target()?, jobs + 1).await?;
    rules.check_names(&session.source_catalog, &session.target_catalog)?;
    tracing::info!("both catalogs read");
    refuse_blocking_differences(&session, &rules)?;
    tracing::info!("analysis found nothing blocking");
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

    let previous = control
        .query_opt(
            "SELECT id, status FROM odoo_migrate.runs WHERE command = 'run' ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await?;
    let run_id = match previous {
        Some(row) if args.restart && row.get::<_, String>(1) != "rolled_back" => {
            let id: i64 = row.get(0);
            return Err(refuse(
                Status::Usage,
                format!(
                    "--restart refused: run {id} on this target is {} and was not rolled back; run `odoo-migrate rollback` first, or run without --restart to resume it",
                    row.get::<_, String>(1)
                ),
            ));
        }
        Some(row) if row.get::<_, String>(1) == "finished" => {
            let id: i64 = row.get(0);
            crate::io::report::emit(&format!(
                "Nothing to do: run {id} already migrated {} into {}. Use `odoo-migrate verify` to check it.\n",
                session.source_catalog.database, session.target_catalog.database
            ))?;
            bring_files(&control, args, id).await?;
            return Ok(Status::Success);
        }
        Some(row) if row.get::<_, String>(1) != "rolled_back" => {
            let id: i64 = row.get(0);
            control
                .execute(
                    "UPDATE odoo_migrate.runs SET status = 'running', finished_at = NULL, message = NULL WHERE id = $1",
                    &[&id],
                )
                .await?;
            tracing::info!(run = id, "resuming the unfinished run");
            check_finished_models(&control, id).await?;
            id
        }
        _ => {
            refuse_non_fresh_target(&session)?;
            let options = serde_json::json!({
                "jobs": jobs,
                "chunk_size": args.chunk_size,
                "rules": cli.rules,
                "on_match": args.on_match,
                "foreign_keys": args.foreign_keys,
                "rebuild_indexes_from": args.rebuild_indexes_from,
            });
            side_schema::start_run(
                &control,
                "run",
                &session.source_catalog.database,
                &session.target_catalog.database,
                &options,
            )
            .await?
        }
    };

    // Committed on its own and recorded once per run: new ids are allocated from these values, so
    // that a planning interrupted and made again allocates the same ids.
    control
        .execute(
            include_str!("../../sql/run/record_sequences.sql"),
            &[&run_id],
        )
        .await
        .context("cannot record the state of the target's sequences")?;

    let (pairs, plans) = tables::for_session(&session, &rules)?;
    check_plans(&session, &plans).await?;
    tracing::info!(tables = plans.len(), "copy plans made and checked");

    let planned: i64 = control
        .query_one(
            "SELECT count(*) FROM odoo_migrate.model_state WHERE run_id = $1",
            &[&run_id],
        )
        .await?
        .get(0);
    let foreign_keys = keys::choose(&mut control, args.foreign_keys).await?;
    tracing::info!(strategy = ?foreign_keys, "foreign keys during the copy");
    if planned == 0 {
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
            &rules,
            &pairs,
            &plans,
            run_id,
        )
        .await?;
        tracing::info!(
            xmlid = counts.xmlid,
            natural_key = counts.natural_key,
            created = counts.created,
            unmatched_metadata = counts.unmatched,
            "id plan made"
        );
        // For model tables, the count and largest id as the plan saw them, to notice later a
        // source that changes under the run; all read in one statement, stored in another.
        let model_tables: Vec<(&str, bool)> = plans
            .iter()
            .filter(|p| p.kind == TableKind::Model)
            .map(|p| {
                (
                    p.source_table.as_str(),
                    has_write_date(&session, &p.source_table),
                )
            })
            .collect();
        let mut extents = source_extents(&source, &model_tables)
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
        for plan in &plans {
            let (rows, max_id, last_write) = if plan.kind == TableKind::Model {
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
        // Records of match-only models move no rows; their mappings are final now.
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
        // Tables with rows that are not migrated are listed, never dropped silently.
        for pair in &pairs {
            let not_migrated = pair.policy == crate::rules::Policy::Skip
                || pair.target_table.is_none()
                || pair.source_table == "ir_model_data";
            if pair.rows == 0 || pair.transient || !not_migrated {
                continue;
            }
            let why = if pair.source_table == "ir_model_data" {
                "external ids are recreated with the records they name".to_string()
            } else if pair.policy == crate::rules::Policy::Skip {
                "a rule skips it".to_string()
            } else {
                "the target has no table for it".to_string()
            };
            transaction
                .execute(
                    "INSERT INTO odoo_migrate.problems (run_id, severity, kind, model, table_name, message, detail) \
                     VALUES ($1, 'info', 'table_not_migrated', $2, $3, $4, $5)",
                    &[
                        &run_id,
                        &pair.source_model,
                        &pair.source_table,
                        &format!("{} row(s) of {} are not migrated: {why}", pair.rows, pair.source_table),
                        &serde_json::json!({ "rows": pair.rows, "policy": pair.policy }),
                    ],
                )
                .await?;
        }
        fault::point("before_plan_commit");
        transaction
            .commit()
            .await
            .context("cannot commit the id plan")?;
    }
    // Rules may fill the many2many tables of the target models after the copy (accounts'
    // companies): their keys are set aside too, so that load order never matters. Keys already
    // set aside by an interrupted attempt are recorded and stay aside.
    let written = tables_written(&plans, &session.target_catalog);
    let plans_post_sql: Vec<String> = plans.iter().flat_map(|p| p.post_sql.clone()).collect();
    if foreign_keys == keys::Strategy::SetAside {
        keys::set_aside(&mut control, &written, run_id).await?;
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
        args.rebuild_indexes_from,
    );
    crate::copy::indexes::set_aside(&mut control, &bulk, run_id).await?;
    // The mappings table is loaded in bulk too: its index by target id is built once at the end.
    let mappings_to_write: i64 = control
        .query_one(
            "SELECT count(*) FROM odoo_migrate.id_plan WHERE run_id = $1",
            &[&run_id],
        )
        .await?
        .get(0);
    if args.rebuild_indexes_from > 0 && mappings_to_write as u64 >= args.rebuild_indexes_from {
        side_schema::set_id_map_index_aside(&control).await?;
    }

    let mappings = Arc::new(ids::load(&control, &rules, &pairs).await?);
    tracing::info!(bytes = mappings.heap_bytes(), "mappings loaded into memory");
    let renamed_models: Arc<BTreeMap<String, String>> = Arc::new(rules.renamed_models());
    let mut pending: Vec<TablePlan> = plans
        .into_iter()
        .filter(|p| !done_at_start.contains(&p.key))
        .collect();
    // Largest first: a big table started last would leave the other workers idle at the end.
    pending.sort_by_key(|p| std::cmp::Reverse(p.rows));
    tracing::info!(tables = pending.len(), jobs, "copying");

    let (rows_total, rows_done): (i64, i64) = {
        let row = control
            .query_one(
                "SELECT coalesce(sum(rows_total), 0)::bigint, coalesce(sum(rows_done), 0)::bigint \
                 FROM odoo_migrate.model_state WHERE run_id = $1",
                &[&run_id],
            )
            .await?;
        (row.get(0), row.get(1))
    };
    let progress = Progress::new(
        !cli.quiet && cli.log_format == crate::cli::LogFormat::Text,
        rows_total.max(0) as u64,
        rows_done.max(0) as u64,
    );
    // A table whose last plan is copied gets its indexes built again and its statistics at once,
    // while the other tables are still loading.
    let plans_left: Arc<std::sync::Mutex<BTreeMap<String, usize>>> = Arc::default();
    if let Ok(mut left) = plans_left.lock() {
        for plan in &pending {
            *left.entry(plan.target_table.clone()).or_default() += 1;
        }
    }
    let analyzed: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>> = Arc::default();
    let results = futures::stream::iter(pending.into_iter().map(|plan| {
        let plans_left = Arc::clone(&plans_left);
        let analyzed = Arc::clone(&analyzed);
        let session = &session;
        let mappings = Arc::clone(&mappings);
        let renamed_models = Arc::clone(&renamed_models);
        let stop = stop.clone();
        let progress = progress.clone();
        let keep_going = args.keep_going;
        async move {
            let copying = Copying {
                session,
                mappings: &mappings,
                renamed_models: &renamed_models,
                run_id,
                chunk_size: args.chunk_size,
                triggers_off: foreign_keys == keys::Strategy::Replica,
                stop: &stop,
                progress: &progress,
            };
            let mut outcome = copy_table(&copying, &plan).await;
            if matches!(outcome, Ok(TableEnd::Done))
                && last_plan_of(&plans_left, &plan.target_table)
            {
                outcome = finish_table(session, run_id, &plan.target_table)
                    .await
                    .map(|()| {
                        if let Ok(mut analyzed) = analyzed.lock() {
                            analyzed.insert(plan.target_table.clone());
                        }
                        TableEnd::Done
                    });
            }
            if outcome.is_err() && !keep_going {
                stop.request_after_failure();
            }
            (plan, outcome)
        }
    }))
    .buffer_unordered(jobs)
    .collect::<Vec<_>>()
    .await;

    progress.finish();
    let mut failures = Vec::new();
    for (plan, outcome) in &results {
        if let Err(error) = outcome {
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
            control
                .execute(
                    "INSERT INTO odoo_migrate.problems (run_id, severity, kind, model, table_name, message) \
                     VALUES ($1, 'error', 'table_failed', $2, $3, $4)",
                    &[&run_id, &plan.model, &plan.target_table, &message],
                )
                .await?;
            failures.push(format!(
                "{} → {}: {message}",
                plan.source_table, plan.target_table
            ));
        }
    }
    update_totals(&control, run_id).await?;
    if !failures.is_empty() {
        let message = format!(
            "{} table(s) failed; what was copied is committed and the next `run` resumes with them:\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
        side_schema::finish_run(&control, run_id, "failed", Some(&message)).await?;
        return Err(anyhow::anyhow!(message));
    }
    if let Some(status) = stop.status() {
        let (state, what) = match status {
            Status::DeadlineReached => ("paused", "the deadline was reached"),
            _ => ("interrupted", "the run was interrupted"),
        };
        let message = format!(
            "{what}; every committed chunk is kept and the next `odoo-migrate run` resumes after it"
        );
        side_schema::finish_run(&control, run_id, state, Some(&message)).await?;
        crate::io::report::emit(&format!("Run {run_id} stopped: {message}.\n"))?;
        return Ok(status);
    }
    fault::point("before_finish");
    tracing::info!("every table copied");
    check_source_unchanged(&session, &control, run_id).await?;

    // Keys set aside (by this attempt or an interrupted one) are restored with VALIDATE; the keys
    // that stayed in force while their triggers were off are proven by anti-joins.
    crate::copy::indexes::rebuild(&session.target, &control, run_id, jobs).await?;
    side_schema::ensure_id_map_index(&control).await?;
    fault::point("after_indexes_built");
    let restored = keys::restore(&mut control, run_id).await?;
    let changed = tables_changed(&control, &written, &plans_post_sql, run_id).await?;
    let analyzed = analyzed.lock().map(|a| a.clone()).unwrap_or_default();
    keys::prove_in_force(
        &control,
        &session.target,
        &changed,
        &analyzed,
        &restored,
        run_id,
        jobs,
    )
    .await?;
    fault::point("before_sequences");
    move_sequences(&control, &session, run_id).await?;
    // After the sequences moved: the defaults take new ids from ir_default's own sequence.
    let defaults =
        crate::copy::defaults::carry_over(&session, &mut control, &rules, run_id).await?;
    tracing::info!(defaults, "company defaults written into ir_default");
    let copies =
        crate::copy::company_copies::make(&mut control, &rules, &session.target_catalog, run_id)
            .await?;
    tracing::info!(copies, "per-company copies of shared records made");
    let numbering = {
        let source = session.source.get().await?;
        crate::copy::sequences::carry_over(&source, &control, run_id).await?
    };
    tracing::info!(sequences = numbering, "document numbering carried over");
    bring_files(&control, args, run_id).await?;
    update_totals(&control, run_id).await?;
    side_schema::finish_run(&control, run_id, "finished", None).await?;
    print_summary(&control, run_id).await?;
    if let Some(directory) = &args.report_dir {
        let lines = crate::io::report::run_lines(&control).await?;
        crate::io::report::write_run_report(directory, run_id, &lines)?;
    }
    Ok(Status::Success)
}

/// A run starts only when the analysis finds nothing that blocks it: a module the target lacks, a
/// required column no rule fills. Nothing is written before this check.
fn refuse_blocking_differences(session: &Session, rules: &Rules) -> Result<()> {
    let analysis = analysis::analyze(&session.source_catalog, &session.target_catalog, rules);
    let blocking: Vec<String> = analysis
        .blocking()
        .map(|f| format!("[{}] {}: {}", f.category, f.subject, f.detail))
        .collect();
    if blocking.is_empty() {
        return Ok(());
    }
    Err(refuse(
        Status::Blocking,
        format!(
            "the migration cannot start: {} blocking difference(s) (details with `odoo-migrate analyze`):\n  {}",
            blocking.len(),
            blocking.join("\n  ")
        ),
    ))
}

/// Business tables that a freshly created Odoo 19 database has empty.
const BUSINESS_TABLES: &[&str] = &[
    "account_move",
    "account_payment",
    "sale_order",
    "purchase_order",
    "stock_picking",
    "stock_move",
    "crm_lead",
    "product_template",
];

/// A new run goes only into a target that holds no business data of its own: the tool fills a
/// freshly created Odoo 19 database, it does not merge two companies' books.
fn refuse_non_fresh_target(session: &Session) -> Result<()> {
    let filled: Vec<String> = BUSINESS_TABLES
        .iter()
        .filter_map(|table| {
            let rows = session.target_catalog.tables.get(*table)?.row_count;
            (rows > 0).then(|| format!("{table}: {rows} rows"))
        })
        .collect();
    if filled.is_empty() {
        return Ok(());
    }
    Err(refuse(
        Status::WrongDatabase,
        format!(
            "the target {} already holds business data ({}); odoo-migrate fills a freshly created Odoo 19 database: create a new one with the same modules",
            session.target_catalog.database,
            filled.join(", ")
        ),
    ))
}

/// The source must not change while it is migrated: rows added after the plan would be missing
/// and rows removed would leave records behind. Each model table's row count and largest id are
/// compared with what they were when the plan was made.
/// What the run notices a source table by: its row count, its largest id (0 when empty) and, for
/// tables with Odoo's `write_date`, the latest one as text (NULL when none).
type Extent = (i64, i64, Option<String>);

/// The [`Extent`] of each source table, in one statement.
async fn source_extents(source: &Client, tables: &[(&str, bool)]) -> Result<Vec<Extent>> {
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let branches: Vec<String> = tables
        .iter()
        .enumerate()
        .map(|(index, (table, has_write_date))| {
            format!(
                "SELECT {index}, count(*), coalesce(max(id), 0)::bigint, {} FROM public.{}",
                if *has_write_date {
                    "max(write_date)::text"
                } else {
                    "NULL::text"
                },
                quote_ident(table)
            )
        })
        .collect();
    let mut extents = vec![(0, 0, None); tables.len()];
    for row in source.query(&branches.join(" UNION ALL "), &[]).await? {
        let index: i32 = row.get(0);
        extents[index as usize] = (row.get(1), row.get(2), row.get(3));
    }
    Ok(extents)
}

/// Whether a source table has Odoo's `write_date` column.
fn has_write_date(session: &Session, table: &str) -> bool {
    session
        .source_catalog
        .tables
        .get(table)
        .is_some_and(|t| t.columns.iter().any(|c| c.name == "write_date"))
}

async fn check_source_unchanged(session: &Session, control: &Client, run_id: i64) -> Result<()> {
    let source = session.source.get().await?;
    let recorded = control
        .query(
            "SELECT source_table, rows_total, source_max_id, source_last_write::text FROM odoo_migrate.model_state \
             WHERE run_id = $1 AND kind = 'model' AND source_max_id IS NOT NULL ORDER BY source_table",
            &[&run_id],
        )
        .await?;
    let tables: Vec<(&str, bool)> = recorded
        .iter()
        .map(|row| {
            let table: &str = row.get(0);
            (table, has_write_date(session, table))
        })
        .collect();
    let now = source_extents(&source, &tables)
        .await
        .context("cannot count the rows of the source tables again")?;
    let mut changed = Vec::new();
    for (row, (rows_now, max_now, write_now)) in recorded.iter().zip(now) {
        let table: String = row.get(0);
        let rows: i64 = row.get(1);
        let max_id: i64 = row.get(2);
        let last_write: Option<String> = row.get(3);
        if rows_now != rows || max_now != max_id {
            changed.push(format!(
                "{table}: {rows} rows up to id {max_id} when planned, {rows_now} up to id {max_now} now"
            ));
        } else if last_write.is_some() && write_now != last_write {
            changed.push(format!(
                "{table}: records written at {} since the plan (last write {} when planned)",
                write_now.as_deref().unwrap_or("?"),
                last_write.as_deref().unwrap_or("?")
            ));
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    let message = format!(
        "the source changed during the migration ({}); migrate from a copy that nothing writes to: roll this run back and start again",
        changed.join("; ")
    );
    control
        .execute(
            "INSERT INTO odoo_migrate.problems (run_id, severity, kind, message) VALUES ($1, 'error', 'source_changed', $2)",
            &[&run_id, &message],
        )
        .await?;
    side_schema::finish_run(control, run_id, "failed", Some(&message)).await?;
    Err(refuse(Status::WrongDatabase, message))
}

/// Before resuming, checks that the tables recorded as done still hold their rows: every mapping
/// of a created record must point at an existing target row.
async fn check_finished_models(control: &Client, run_id: i64) -> Result<()> {
    let done = control
        .query(
            "SELECT model, target_table FROM odoo_migrate.model_state \
             WHERE run_id = $1 AND status = 'done' AND kind = 'model'",
            &[&run_id],
        )
        .await?;
    for row in &done {
        let model: String = row.get(0);
        let table: String = row.get(1);
        let missing: i64 = control
            .query_one(
                &format!(
                    "SELECT count(*) FROM odoo_migrate.id_map m WHERE m.model = $1 AND m.run_id = $2 \
                     AND NOT EXISTS (SELECT 1 FROM public.{} t WHERE t.id = m.target_id)",
                    quote_ident(&table)
                ),
                &[&model, &run_id],
            )
            .await
            .with_context(|| format!("cannot check the finished table {table}"))?
            .get(0);
        if missing > 0 {
            return Err(refuse(
                Status::WrongDatabase,
                format!(
                    "cannot resume run {run_id}: {missing} record(s) of {model} that it migrated are gone from target table {table}; \
                     the target was changed since. Roll the run back (`odoo-migrate rollback`) and start again with --restart"
                ),
            ));
        }
    }
    Ok(())
}

/// With both filestores given, brings the files of the migrated attachments over; missing source
/// files are recorded as problems. Safe to repeat: files already there are left alone.
async fn bring_files(control: &Client, args: &RunArgs, run_id: i64) -> Result<()> {
    let (Some(from), Some(to)) = (&args.source_filestore, &args.target_filestore) else {
        return Ok(());
    };
    let names = crate::copy::filestore::migrated_files(control).await?;
    let transfer = crate::copy::filestore::transfer(from, to, &names)?;
    tracing::info!(
        linked = transfer.linked,
        copied = transfer.copied,
        already_there = transfer.present,
        missing = transfer.missing.len(),
        "attachment files brought over"
    );
    if !transfer.missing.is_empty() {
        control
            .execute(
                "INSERT INTO odoo_migrate.problems (run_id, severity, kind, model, table_name, message, detail) \
                 VALUES ($1, 'warning', 'missing_file', 'ir.attachment', 'ir_attachment', $2, $3)",
                &[
                    &run_id,
                    &format!(
                        "{} attachment file(s) are missing from the source filestore {}",
                        transfer.missing.len(),
                        from.display()
                    ),
                    &serde_json::json!({ "files": transfer.missing }),
                ],
            )
            .await?;
    }
    Ok(())
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

/// The written tables that may have changed: those the copy put rows in or updated, those that
/// rules' post-copy SQL names, and the many2many tables that no plan fills (rules may).
async fn tables_changed(
    control: &Client,
    written: &[String],
    post_sql: &[String],
    run_id: i64,
) -> Result<Vec<String>> {
    let untouched: std::collections::BTreeSet<String> = control
        .query(
            "SELECT target_table FROM odoo_migrate.model_state WHERE run_id = $1 \
             GROUP BY target_table HAVING sum(rows_created + rows_updated) = 0",
            &[&run_id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let named_by_rules = |table: &str| {
        post_sql.iter().any(|sql| {
            sql.match_indices(table).any(|(at, _)| {
                let before = sql[..at].chars().next_back();
                let after = sql[at + table.len()..].chars().next();
                let part_of_word =
                    |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !part_of_word(before) && !part_of_word(after)
            })
        })
    };
    Ok(written
        .iter()
        .filter(|t| !untouched.contains(*t) || named_by_rules(t))
        .cloned()
        .collect())
}

/// Prepares every plan's SELECT on the source, so that a rule naming a missing column or a bad
/// expression stops the run before anything is written.
pub async fn check_plans(session: &Session, plans: &[TablePlan]) -> Result<()> {
    let source = session.source.get().await?;
    for plan in plans {
        source.prepare(&plan.probe_sql()).await.map_err(|error| {
            let detail = error
                .as_db_error()
                .map_or_else(|| error.to_string(), |db| db.message().to_string());
            refuse(
                Status::Usage,
                format!(
                    "the copy of {} → {} cannot read the source: {detail}; check the rules of model {}",
                    plan.source_table, plan.target_table, plan.model
                ),
            )
        })?;
    }
    Ok(())
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

/// Copies one table chunk by chunk; each chunk commits with its mappings, external ids, problems
/// and checkpoint, so that a resumed run starts after the last committed chunk. A transient error
/// (lost connection, server restart, serialization failure) retries the chunk.
/// What every table's copy shares within a run.
struct Copying<'a> {
    session: &'a Session,
    mappings: &'a Mappings,
    renamed_models: &'a BTreeMap<String, String>,
    run_id: i64,
    chunk_size: i64,
    /// Foreign key triggers off in the copying transactions (keys::Strategy::Replica).
    triggers_off: bool,
    stop: &'a StopSignal,
    progress: &'a Progress,
}

async fn copy_table(copying: &Copying<'_>, plan: &TablePlan) -> Result<TableEnd> {
    let Copying {
        session,
        mappings,
        renamed_models,
        run_id,
        chunk_size,
        triggers_off,
        stop,
        progress,
    } = *copying;
    let chunked = plan.kind == TableKind::Model;
    let done: i64 = {
        let client = session.target.get().await?;
        client
            .query_one(
                "SELECT rows_done FROM odoo_migrate.model_state WHERE run_id = $1 AND source_table = $2",
                &[&run_id, &plan.key],
            )
            .await?
            .get(0)
    };
    let progress = progress.table(&plan.key, plan.rows.max(done) as u64);
    progress.advance(done as u64);
    loop {
        if stop.requested() {
            return Ok(TableEnd::Stopped);
        }
        let mut attempt = 0u32;
        let finished = loop {
            attempt += 1;
            match copy_chunk(
                session,
                plan,
                mappings,
                renamed_models,
                run_id,
                chunked.then_some(chunk_size),
                triggers_off,
            )
            .await
            {
                Ok((finished, rows)) => {
                    progress.advance(rows);
                    break finished;
                }
                Err(error) if attempt < MAX_ATTEMPTS && is_transient(&error) => {
                    let wait = std::time::Duration::from_millis(500 * 2u64.pow(attempt - 1));
                    tracing::warn!(
                        table = %plan.source_table,
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

/// Copies the next chunk of a table in one target transaction. Returns true when the table is
/// complete (the checkpoint then says `done`).
async fn copy_chunk(
    session: &Session,
    plan: &TablePlan,
    mappings: &Mappings,
    renamed_models: &BTreeMap<String, String>,
    run_id: i64,
    chunk_size: Option<i64>,
    triggers_off: bool,
) -> Result<(bool, u64)> {
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
    let state = transaction
        .query_one(
            "UPDATE odoo_migrate.model_state SET status = 'copying', started_at = coalesce(started_at, now()) \
             WHERE run_id = $1 AND source_table = $2 RETURNING last_source_id",
            &[&run_id, &plan.key],
        )
        .await?;
    let after: Option<i64> = state.get(0);
    let source_client: &Client = &source;
    fault::point("before_chunk");
    let outcome = rows::copy_rows(
        plan,
        source_client,
        &transaction,
        mappings,
        renamed_models,
        after,
        chunk_size,
        run_id,
    )
    .await?;
    fault::point("after_chunk_rows");
    let finished = chunk_size.is_none_or(|size| (outcome.rows_read as i64) < size);
    let last = outcome.last_source_id.map(i64::from).or(after);
    if plan.kind == TableKind::Model
        && let (Some(first), Some(end)) = (outcome.mapped_ids.first(), outcome.mapped_ids.last())
    {
        // The chunk's planned ids as a range, less the few that were not accounted for (rejected
        // rows, rows gone from the source): an index range instead of an array of every id.
        let excluded = unaccounted(mappings.get(&plan.model), &outcome.mapped_ids);
        // A chunk's range follows the last checkpoint, so each mapping is written once: a plain
        // insert (half the cost of ON CONFLICT), whose key would stop the chunk on a double.
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
    }
    // After the mappings, so that the rules' SQL can restrict itself to the rows of this run.
    if finished {
        for sql in &plan.post_sql {
            transaction
                .batch_execute(sql)
                .await
                .with_context(|| format!("post-copy SQL of {} failed: {sql}", plan.model))?;
        }
    }
    for problem in &outcome.problems {
        transaction
            .execute(
                "INSERT INTO odoo_migrate.problems (run_id, severity, kind, model, table_name, column_name, message, detail) \
                 VALUES ($1, 'warning', $2, $3, $4, $5, $6, $7)",
                &[
                    &run_id,
                    &problem.kind,
                    &plan.model,
                    &plan.target_table,
                    &problem.column,
                    &problem_message(plan, problem),
                    &serde_json::json!({ "count": problem.count, "referenced_model": problem.model, "sample_source_ids": problem.samples }),
                ],
            )
            .await?;
    }
    transaction
        .execute(
            "UPDATE odoo_migrate.model_state SET status = $9, finished_at = CASE WHEN $9 = 'done' THEN clock_timestamp() END, \
             checkpoint_at = now(), rows_done = rows_done + $3, rows_created = rows_created + $4, \
             rows_matched = rows_matched + $5, rows_updated = rows_updated + $6, rows_rejected = rows_rejected + $7, \
             last_source_id = $8, error = NULL WHERE run_id = $1 AND source_table = $2",
            &[
                &run_id,
                &plan.key,
                &(outcome.rows_read as i64),
                &(outcome.created as i64),
                &(outcome.matched as i64),
                &(outcome.updated as i64),
                &(outcome.rejected as i64),
                &last,
                &(if finished { "done" } else { "copying" }),
            ],
        )
        .await?;
    // The run's last checkpoint is read from model_state: an UPDATE of the run's row here would
    // make the parallel chunks wait on each other's commits.
    fault::point("before_chunk_commit");
    transaction
        .commit()
        .await
        .with_context(|| format!("cannot commit the copy of {}", plan.source_table))?;
    fault::point("after_chunk_commit");
    tracing::debug!(
        table = %plan.source_table,
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
        _ => format!(
            "{count} row(s) of {table} reference {model} records that are not migrated (column {}); written as NULL, or the row not copied where the column is required",
            problem.column
        ),
    }
}

/// Moves the id sequence of every written table past its largest id.
async fn move_sequences(control: &Client, session: &Session, run_id: i64) -> Result<()> {
    let tables: Vec<String> = control
        .query(
            "SELECT DISTINCT target_table FROM odoo_migrate.model_state WHERE run_id = $1",
            &[&run_id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    // One statement for all tables: a round trip per table costs more than the setval itself.
    let moves: Vec<String> = tables
        .iter()
        .filter_map(|table| {
            let sequence = session.target_catalog.tables.get(table)?.sequences.get("id")?;
            let qualified = format!("public.{}", quote_ident(sequence));
            Some(format!(
                "SELECT setval({literal}::regclass, GREATEST((SELECT coalesce(max(id), 0) FROM public.{table}), \
                 (SELECT last_value FROM {qualified}), 1))",
                literal = crate::catalog::quote_literal(&qualified),
                table = quote_ident(table),
            ))
        })
        .collect();
    if moves.is_empty() {
        return Ok(());
    }
    control
        .batch_execute(&moves.join(";\n"))
        .await
        .context("cannot move the id sequences of the written tables past their largest ids")?;
    Ok(())
}

async fn update_totals(control: &Client, run_id: i64) -> Result<()> {
    control
        .execute(
            "UPDATE odoo_migrate.runs r SET models_ok = s.ok, models_failed = s.failed, \
             rows_created = s.created, rows_matched = s.matched, rows_updated = s.updated, last_checkpoint_at = now() \
             FROM (SELECT count(*) FILTER (WHERE status = 'done') AS ok, count(*) FILTER (WHERE status = 'failed') AS failed, \
                   coalesce(sum(rows_created), 0) AS created, coalesce(sum(rows_matched), 0) AS matched, \
                   coalesce(sum(rows_updated), 0) AS updated \
                   FROM odoo_migrate.model_state WHERE run_id = $1) s WHERE r.id = $1",
            &[&run_id],
        )
        .await?;
    Ok(())
}

async fn print_summary(control: &Client, run_id: i64) -> Result<()> {
    let row = control
        .query_one(
            "SELECT models_ok, rows_created, rows_matched, rows_updated, \
             (SELECT count(*) FROM odoo_migrate.problems WHERE run_id = $1 AND severity <> 'info') \
             FROM odoo_migrate.runs WHERE id = $1",
            &[&run_id],
        )
        .await?;
    crate::io::report::emit(&format!(
        "Run {run_id} finished: {} tables, {} rows created, {} matched, {} updated, {} problem(s) recorded in odoo_migrate.problems.\n",
        row.get::<_, i32>(0),
        row.get::<_, i64>(1),
        row.get::<_, i64>(2),
        row.get::<_, i64>(3),
        row.get::<_, i64>(4)
    ))?;
    Ok(())
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
}
