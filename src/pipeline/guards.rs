//! The checks that keep a run from doing harm: nothing blocking in the analysis, a fresh target
//! for a new run, an unfinished run resumed only while what it wrote is still there, a source that
//! does not change under the run, and plans whose reads the source accepts. Each refuses with the
//! reason and what to do; none writes to the target but the run's own row.

use anyhow::{Context, Result};
use tokio_postgres::Client;

use super::RunOptions;
use crate::catalog::quote_ident;
use crate::catalog::session::Session;
use crate::io::exit::{Status, refuse};
use crate::plan::analysis;
use crate::plan::tables::TablePlan;
use crate::rules::Rules;
use crate::side_schema;
use crate::side_schema::problems::{Problem, record_problem};

/// Where a run starts from.
pub(super) enum Start {
    /// A new run, or an unfinished one resumed.
    Run(i64),
    /// The last run finished: nothing to copy.
    AlreadyFinished(i64),
}

/// Starts a new run, or resumes the newest unfinished one; `--restart` only after a rollback.
pub(super) async fn start_or_resume(
    control: &Client,
    session: &Session,
    options: &RunOptions,
    jobs: usize,
) -> Result<Start> {
    let previous = control
        .query_opt(
            "SELECT id, status FROM odoo_migrate.runs WHERE command = 'run' ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await?;
    match previous {
        Some(row) if options.restart && row.get::<_, String>(1) != "rolled_back" => {
            let id: i64 = row.get(0);
            Err(refuse(
                Status::Usage,
                format!(
                    "--restart refused: run {id} on this target is {} and was not rolled back; run `odoo-migrate rollback` first, or run without --restart to resume it",
                    row.get::<_, String>(1)
                ),
            ))
        }
        Some(row) if row.get::<_, String>(1) == "finished" => {
            let id: i64 = row.get(0);
            refuse_other_snapshot(session, control, id, true).await?;
            Ok(Start::AlreadyFinished(id))
        }
        Some(row) if row.get::<_, String>(1) != "rolled_back" => {
            let id: i64 = row.get(0);
            refuse_other_snapshot(session, control, id, false).await?;
            control
                .execute(
                    "UPDATE odoo_migrate.runs SET status = 'running', finished_at = NULL, message = NULL WHERE id = $1",
                    &[&id],
                )
                .await?;
            tracing::info!(run = id, "resuming the unfinished run");
            check_finished_models(control, id).await?;
            Ok(Start::Run(id))
        }
        _ => {
            refuse_non_fresh_target(session).await?;
            let recorded = serde_json::json!({
                "jobs": jobs,
                "chunk_size": options.chunk_size,
                "rules": options.inputs.rules,
                "on_match": options.inputs.on_match,
                "foreign_keys": options.foreign_keys,
                "rebuild_indexes_from": options.rebuild_indexes_from,
            });
            let id = side_schema::start_run(
                control,
                "run",
                &session.source_catalog.database,
                &session.target_catalog.database,
                &recorded,
            )
            .await?;
            Ok(Start::Run(id))
        }
    }
}

/// A run starts only when the analysis finds nothing that blocks it: a module the target lacks, a
/// required column no rule fills. Nothing is written before this check.
pub(super) fn refuse_blocking_differences(session: &Session, rules: &Rules) -> Result<()> {
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

/// A target without a migration of its own yet must be fresh, checked before the side schema or
/// anything else is written into it: a refused run leaves the target as it was.
pub(super) async fn refuse_filled_target_before_writing(session: &Session) -> Result<()> {
    if holds_migration(session).await? {
        return Ok(());
    }
    refuse_non_fresh_target(session).await
}

/// Whether the target holds a migration of the tool: a side schema with a run not rolled back.
/// Reads only (no side schema is made when there is none).
pub(super) async fn holds_migration(session: &Session) -> Result<bool> {
    let client = session.target.get().await?;
    Ok(side_schema::installed_version(&**client).await? > 0
        && client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM odoo_migrate.runs WHERE command = 'run' AND status <> 'rolled_back')",
                &[],
            )
            .await
            .context("cannot read odoo_migrate.runs")?
            .get::<_, bool>(0))
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
/// freshly created Odoo 19 database, it does not merge two companies' books. Records that the
/// target's modules made at installation (an external id of a real module: the products of a
/// shop, the tasks of the internal project) are not the company's data: the migration matches them.
pub(super) async fn refuse_non_fresh_target(session: &Session) -> Result<()> {
    let client = session.target.get().await?;
    let mut filled = Vec::new();
    for table in BUSINESS_TABLES {
        let catalog = &session.target_catalog;
        if catalog.tables.get(*table).is_none_or(|t| t.row_count == 0) {
            continue;
        }
        let Some(model) = catalog
            .models
            .values()
            .find(|m| m.table.as_deref() == Some(*table))
        else {
            continue;
        };
        let rows: i64 = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM public.{} t WHERE NOT EXISTS (SELECT 1 FROM ir_model_data d \
                     WHERE d.model = $1 AND d.res_id = t.id AND left(d.module, 2) <> '__')",
                    quote_ident(table)
                ),
                &[&model.name],
            )
            .await
            .with_context(|| format!("cannot count the records of {table} in the target"))?
            .get(0);
        if rows > 0 {
            filled.push(format!("{table}: {rows} rows"));
        }
    }
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

/// What the run notices a source table by: its row count, its largest id (0 when empty) and, for
/// tables with Odoo's `write_date`, the latest one as text (NULL when none).
pub(super) type Extent = (i64, i64, Option<String>);

/// The [`Extent`] of each source table, in one statement.
pub(super) async fn source_extents(
    source: &Client,
    tables: &[(&str, bool)],
) -> Result<Vec<Extent>> {
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
pub(super) fn has_write_date(session: &Session, table: &str) -> bool {
    session
        .source_catalog
        .tables
        .get(table)
        .is_some_and(|t| t.columns.iter().any(|c| c.name == "write_date"))
}

/// The source must not change while it is migrated: rows added after the plan would be missing
/// and rows removed would leave records behind. Each model table's row count and largest id are
/// compared with what they were when the plan was made.
pub(super) async fn check_source_unchanged(
    session: &Session,
    control: &Client,
    run_id: i64,
) -> Result<()> {
    let changed = changed_since_plan(session, control, run_id).await?;
    if changed.is_empty() {
        return Ok(());
    }
    let message = format!(
        "the source changed during the migration ({}); migrate from a copy that nothing writes to: roll this run back and start again",
        changed.join("; ")
    );
    let problem = Problem {
        severity: "error",
        kind: "source_changed",
        model: None,
        table: None,
        column: None,
        source_id: None,
        message: &message,
        detail: None,
    };
    record_problem(control, run_id, &problem).await?;
    side_schema::finish_run(control, run_id, "failed", Some(&message)).await?;
    Err(refuse(Status::WrongDatabase, message))
}

/// The same database in another state than the one run `run_id` planned from — a newer dump of
/// it, or a copy someone wrote to — is refused before anything is written: a finished run would
/// otherwise say "nothing to do" over rows it never saw, and a resumed one would mix two
/// snapshots.
pub(super) async fn refuse_other_snapshot(
    session: &Session,
    control: &Client,
    run_id: i64,
    finished: bool,
) -> Result<()> {
    let changed = changed_since_plan(session, control, run_id).await?;
    if changed.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = changed.iter().take(5).map(String::as_str).collect();
    let number = side_schema::run_number(control, run_id).await?;
    let (what, advice) = if finished {
        (
            "migrated",
            "bring the target up to it with `odoo-migrate run --catch-up` (only what changed moves), migrate it into a fresh Odoo 19 database, ",
        )
    } else {
        (
            "started migrating",
            "resume from the snapshot it started with, migrate this one into a fresh Odoo 19 database, ",
        )
    };
    Err(refuse(
        Status::WrongDatabase,
        format!(
            "the source {} is another snapshot of the database that run {number} {what} into this target: {} table(s) differ ({}{}); \
             {advice}or roll run {number} back (`odoo-migrate rollback`) and run again with --restart",
            session.source_catalog.database,
            changed.len(),
            shown.join("; "),
            if changed.len() > shown.len() {
                "; …"
            } else {
                ""
            }
        ),
    ))
}

/// The source's model tables whose row count, largest id or last write differ from what they
/// were when run `run_id` made its plan, each said in a line.
pub(super) async fn changed_since_plan(
    session: &Session,
    control: &Client,
    run_id: i64,
) -> Result<Vec<String>> {
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
    Ok(changed)
}

/// Before resuming, checks that the tables recorded as done still hold their rows: every mapping
/// of a created record must point at an existing target row.
pub(super) async fn check_finished_models(control: &Client, run_id: i64) -> Result<()> {
    // The killed run may have set the keys of the mappings aside: without them each model below
    // would scan every mapping.
    side_schema::ensure_id_map_keys(control).await?;
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
            let number = side_schema::run_number(control, run_id).await?;
            return Err(refuse(
                Status::WrongDatabase,
                format!(
                    "cannot resume run {number}: {missing} record(s) of {model} that it migrated are gone from target table {table}; \
                     the target was changed since. Roll the run back (`odoo-migrate rollback`) and start again with --restart"
                ),
            ));
        }
    }
    Ok(())
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
