//! `run --catch-up`: a target that holds a finished migration of an older snapshot of the source
//! is brought to a newer snapshot of it, as a migration run of its own (so that `status`,
//! `verify` and `rollback` treat it as any run). The run's machinery does the work, told that it
//! catches up: the id plan keeps the earlier runs' mappings and plans only the records new in the
//! source (external id, natural key, new id); the copy inserts those, updates the records earlier
//! runs created or matched (for update) where their values differ, settling conflicts with what the
//! target's users wrote since the last sync (`--on-conflict`), and removes the many2many pairs
//! the source lost; then `delete` removes the records the source lost (a record still referenced
//! in the target is reported and kept), and the finishing steps move sequences and numbering.
//! Each sync is recorded in `odoo_migrate.syncs`.

mod delete;
mod hashes;
mod written;
mod xmlids;

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{Context, Result};
use tokio_postgres::{Client, Transaction};

use super::RunOptions;
use super::guards::{self, Start};
use crate::catalog::session::Session;
use crate::io::exit::{Status, refuse};
use crate::plan::ids::Vanished;
use crate::plan::tables::{CatchUpCopy, OnConflict, Reread, TablePlan};
use crate::rules::pairing::{TableKind, TablePair};
use crate::side_schema;

use delete::delete_vanished;
pub(super) use hashes::{narrow, record_hashes, store_whole_tables};
use xmlids::follow_external_ids;

/// A catch-up's steps once its rows are copied: the records the source lost deleted (or kept
/// and reported when still referenced), external ids of earlier records made to follow the
/// source, and rows pointed at their company's copies again.
pub(super) async fn after_copy(
    session: &Session,
    control: &mut Client,
    rules: &crate::rules::Rules,
    run_id: i64,
    triggers_off: bool,
) -> Result<()> {
    delete_vanished(session, control, rules, run_id, triggers_off).await?;
    tracing::info!("records the source lost deleted or unmapped");
    let (created, deleted) = follow_external_ids(control, rules, run_id).await?;
    tracing::info!(
        created,
        deleted,
        "external ids of earlier records followed the source"
    );
    let repointed = repoint_to_copies(control, session, rules, run_id).await?;
    tracing::info!(repointed, "rows pointed at their company's copies again");
    Ok(())
}

/// The conflict policy of the newest run when it is an unfinished catch-up: a plain `run`
/// resumes it as the catch-up it is.
pub(super) async fn unfinished(control: &Client) -> Result<Option<OnConflict>> {
    let row = control
        .query_opt(
            "SELECT s.on_conflict FROM odoo_migrate.runs r JOIN odoo_migrate.syncs s ON s.run_id = r.id \
             WHERE r.id = (SELECT max(id) FROM odoo_migrate.runs WHERE command = 'run' AND status <> 'rolled_back') \
             AND r.status <> 'finished'",
            &[],
        )
        .await
        .context("cannot read odoo_migrate.syncs")?;
    Ok(row.and_then(|r| OnConflict::parse(r.get(0))))
}

/// Refuses a catch-up, before anything is written into the target (the side schema included),
/// when the target holds no migration to catch up on: no side schema, or no run of the tool that
/// is not rolled back.
pub(super) async fn refuse_without_migration(session: &Session) -> Result<()> {
    if guards::holds_migration(session).await? {
        return Ok(());
    }
    Err(refuse(
        Status::WrongDatabase,
        format!(
            "--catch-up brings a target that holds a migration up to date, and {} holds none (no \
             `odoo-migrate run` on it, or it was rolled back); nothing was written. Migrate it first \
             with `odoo-migrate run`, then catch up from the newer snapshots",
            session.target_catalog.database
        ),
    ))
}

/// Starts a catch-up after the newest finished run, or resumes an unfinished one; refused when
/// the target has no finished migration to catch up on.
pub(super) async fn start_or_resume(
    control: &Client,
    session: &Session,
    options: &RunOptions,
    plans: &[TablePlan],
    jobs: usize,
) -> Result<Start> {
    let previous = control
        .query_opt(
            "SELECT r.id, r.status, EXISTS (SELECT 1 FROM odoo_migrate.syncs s WHERE s.run_id = r.id) \
             FROM odoo_migrate.runs r WHERE r.command = 'run' AND r.status <> 'rolled_back' ORDER BY r.id DESC LIMIT 1",
            &[],
        )
        .await?
        .ok_or_else(|| {
            refuse(
                Status::WrongDatabase,
                "--catch-up needs a finished migration on this target: run `odoo-migrate run` first",
            )
        })?;
    let (id, status, is_sync): (i64, String, bool) =
        (previous.get(0), previous.get(1), previous.get(2));
    let number = side_schema::run_number(control, id).await?;
    // Its mappings are written with ON CONFLICT on id_map's primary key.
    side_schema::ensure_id_map_keys(control).await?;
    if status != "finished" && !is_sync {
        return Err(refuse(
            Status::Usage,
            format!(
                "run {number} on this target is {status}: finish it with `odoo-migrate run` (it resumes) before catching up"
            ),
        ));
    }
    if status != "finished" {
        guards::refuse_other_snapshot(session, control, id, false).await?;
        if let Some(policy) = options.on_conflict {
            control
                .execute(
                    "UPDATE odoo_migrate.syncs SET on_conflict = $2 WHERE run_id = $1",
                    &[&id, &policy.as_str()],
                )
                .await?;
        }
        control
            .execute(
                "UPDATE odoo_migrate.runs SET status = 'running', finished_at = NULL, message = NULL WHERE id = $1",
                &[&id],
            )
            .await?;
        tracing::info!(run = id, "resuming the unfinished catch-up");
        guards::check_finished_models(control, id).await?;
        return Ok(Start::Run(id));
    }
    if source_unchanged(session, control, id, plans, options, jobs).await? {
        return Ok(Start::AlreadyFinished(id));
    }
    let on_conflict = options.on_conflict.unwrap_or(OnConflict::Fail);
    let recorded = serde_json::json!({
        "catch_up": true,
        "on_conflict": on_conflict.as_str(),
        "jobs": jobs,
        "chunk_size": options.chunk_size,
        "rules": options.inputs.rules,
        "on_match": options.inputs.on_match,
        "foreign_keys": options.foreign_keys,
    });
    let run_id = side_schema::start_run(
        control,
        "run",
        &session.source_catalog.database,
        &session.target_catalog.database,
        &recorded,
    )
    .await?;
    control
        .execute(
            "INSERT INTO odoo_migrate.syncs (run_id, previous_run, since, on_conflict, source_database) \
             SELECT $1, r.id, r.finished_at, $3, $4 FROM odoo_migrate.runs r WHERE r.id = $2",
            &[
                &run_id,
                &id,
                &on_conflict.as_str(),
                &session.source_catalog.database,
            ],
        )
        .await
        .context("cannot record the catch-up in odoo_migrate.syncs")?;
    tracing::info!(run = run_id, after = id, "catching up");
    Ok(Start::Run(run_id))
}

/// Whether the source reads as the finished run `previous` left it, so that a catch-up has
/// nothing to do (no run, no sync recorded). Row counts, largest ids, newest `write_date`s and
/// the external ids and company defaults are compared first: any difference starts the
/// catch-up. Equal, they prove nothing by default (Odoo itself writes some values by SQL
/// without the stamp): every table's rows are hashed and compared with the hashes `previous`
/// kept, as the catch-up would, and a table it kept none of counts as changed. With
/// `--catch-up-compare write-date`, the tables where that mode trusts `write_date` are taken
/// from the counts, ids and stamps alone; the others are hashed.
async fn source_unchanged(
    session: &Session,
    control: &Client,
    previous: i64,
    plans: &[TablePlan],
    options: &RunOptions,
    jobs: usize,
) -> Result<bool> {
    if !guards::changed_since_plan(session, control, previous)
        .await?
        .is_empty()
        || hashes::whole_tables_changed(session, previous).await?
    {
        return Ok(false);
    }
    // A rule the source cannot run is refused as a run refuses it, not as a failed hash.
    guards::check_plans(session, plans).await?;
    let trusts_write_date = options.write_date_margin.is_some();
    hashes::rows_unchanged(session, plans, previous, jobs, |plan| {
        trusts_write_date && written::trusted(session, plan)
    })
    .await
}

/// In the plan's transaction: the records the source lost, for the deletion step, and the
/// snapshot's identity from the extents the plan recorded.
pub(super) async fn record_plan(
    transaction: &Transaction<'_>,
    pairs: &[TablePair],
    vanished: &[Vanished],
    run_id: i64,
) -> Result<()> {
    let tables: BTreeMap<&str, &str> = pairs
        .iter()
        .filter(|p| p.kind == TableKind::Model)
        // A model's own table, not a relation table it owns; its own rows win over derived sets.
        .filter(|p| p.derived_filter.is_some())
        .chain(
            pairs
                .iter()
                .filter(|p| p.kind == TableKind::Model && p.derived_filter.is_none()),
        )
        .filter_map(|p| Some((p.source_model.as_deref()?, p.target_table.as_deref()?)))
        .collect();
    let models: Vec<&str> = vanished.iter().map(|v| v.model.as_str()).collect();
    let source_ids: Vec<i32> = vanished.iter().map(|v| v.source_id).collect();
    let target_ids: Vec<i32> = vanished.iter().map(|v| v.target_id).collect();
    let hows: Vec<&str> = vanished.iter().map(|v| v.how.as_str()).collect();
    let runs: Vec<i64> = vanished.iter().map(|v| v.run_id).collect();
    let table_names: Vec<&str> = vanished
        .iter()
        .map(|v| tables.get(v.model.as_str()).copied().unwrap_or_default())
        .collect();
    transaction
        .execute(
            "INSERT INTO odoo_migrate.catch_up_deletions (run_id, model, source_id, target_id, how, mapped_by, table_name) \
             SELECT $1, * FROM unnest($2::text[], $3::int[], $4::int[], $5::text[], $6::bigint[], $7::text[])",
            &[&run_id, &models, &source_ids, &target_ids, &hows, &runs, &table_names],
        )
        .await
        .context("cannot record the records the source lost")?;
    transaction
        .execute(
            "UPDATE odoo_migrate.syncs s SET snapshot = x.digest, source_last_write = x.last_write \
             FROM (SELECT md5(string_agg(source_table || ':' || rows_total || ':' || coalesce(source_max_id, 0) || ':' \
                   || coalesce(source_last_write::text, ''), ',' ORDER BY source_table)) AS digest, \
                   max(source_last_write) AS last_write \
                   FROM odoo_migrate.model_state WHERE run_id = $1 AND kind = 'model') x \
             WHERE s.run_id = $1",
            &[&run_id],
        )
        .await
        .context("cannot record the snapshot's identity")?;
    Ok(())
}

/// The plans told that they catch up: since when a target record counts as changed by its users,
/// and what a conflict becomes.
pub(super) async fn prepare_plans(
    control: &Client,
    plans: Vec<TablePlan>,
    run_id: i64,
) -> Result<Vec<TablePlan>> {
    let row = control
        .query_one(
            "SELECT to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), on_conflict \
             FROM odoo_migrate.syncs WHERE run_id = $1",
            &[&run_id],
        )
        .await
        .context("cannot read the catch-up's row in odoo_migrate.syncs")?;
    let since: String = row.get(0);
    let on_conflict = OnConflict::parse(row.get(1)).unwrap_or(OnConflict::Fail);
    let mut writers: HashMap<String, usize> = HashMap::new();
    for plan in &plans {
        *writers.entry(plan.target_table.clone()).or_default() += 1;
    }
    Ok(plans
        .into_iter()
        .map(|mut plan| {
            plan.catch_up = Some(CatchUpCopy {
                since: since.clone(),
                on_conflict,
                remove_vanished_pairs: plan.kind == TableKind::Relation
                    && writers.get(&plan.target_table) == Some(&1),
                reread: Reread::All,
            });
            plan
        })
        .collect())
}

/// Per model, the source records the catch-up's own plan creates: the only ones its copy inserts.
pub(super) async fn fresh_ids(
    control: &Client,
    run_id: i64,
) -> Result<HashMap<String, HashSet<i32>>> {
    Ok(control
        .query(
            "SELECT model, array_agg(source_id) FROM odoo_migrate.id_plan \
             WHERE run_id = $1 AND how = 'created' GROUP BY model",
            &[&run_id],
        )
        .await
        .context("cannot read the catch-up's new records")?
        .iter()
        .map(|r| (r.get(0), r.get::<_, Vec<i32>>(1).into_iter().collect()))
        .collect())
}

/// The per-company copies earlier runs made ([[company_copies]]) are pointed at again by the rows
/// of their company that the copy wrote back to the shared original (its update writes the
/// source's value), and by the rows this catch-up created, before the finishing steps would make
/// second copies. The rows it changes had their before-image kept by the update, or are new.
pub(super) async fn repoint_to_copies(
    control: &Client,
    session: &Session,
    rules: &crate::rules::Rules,
    run_id: i64,
) -> Result<u64> {
    let mut repointed = 0;
    for rule in &rules.company_copies {
        for referrer in &rule.referrers {
            let model = rules.model_in_target(&referrer.model);
            let Some(table) = session
                .target_catalog
                .models
                .get(model)
                .and_then(|m| m.table.clone())
            else {
                continue;
            };
            repointed += control
                .execute(
                    &format!(
                        "UPDATE public.{table} r SET {column} = c.target_id FROM odoo_migrate.copied_rows c \
                         JOIN odoo_migrate.runs u ON u.id = c.run_id AND u.status <> 'rolled_back' \
                         WHERE c.run_id <> $1 AND c.model = $2 AND r.{column} = c.copy_of AND r.company_id = c.company_id",
                        table = crate::catalog::quote_ident(&table),
                        column = crate::catalog::quote_ident(&referrer.column),
                    ),
                    &[&run_id, &rule.model],
                )
                .await
                .with_context(|| {
                    format!(
                        "cannot point {}.{} at the per-company copies again",
                        referrer.model, referrer.column
                    )
                })?;
        }
    }
    Ok(repointed)
}

/// The sync's counts recorded in `odoo_migrate.syncs`, from the run's tables (created records,
/// updated ones as [`count_updates`] left them), its deletions and its conflicts; said by the
/// run's summary ([`crate::side_schema::syncs::Sync::line`]).
pub(super) async fn record_sync(control: &Client, run_id: i64) -> Result<()> {
    control
        .execute(
            "UPDATE odoo_migrate.syncs s SET finished_at = now(), \
             created = (SELECT coalesce(sum(rows_created), 0) FROM odoo_migrate.model_state WHERE run_id = $1 AND kind = 'model'), \
             updated = (SELECT coalesce(sum(rows_updated), 0) FROM odoo_migrate.model_state WHERE run_id = $1 AND kind = 'model'), \
             deleted = (SELECT count(*) FROM odoo_migrate.catch_up_deletions WHERE run_id = $1 AND status = 'deleted') \
                       + (SELECT count(*) FROM odoo_migrate.removed_rows WHERE run_id = $1 AND table_name = 'ir_default'), \
             still_referenced = (SELECT count(*) FROM odoo_migrate.catch_up_deletions WHERE run_id = $1 AND status = 'referenced'), \
             conflicts = (SELECT count(*) FROM odoo_migrate.problems WHERE run_id = $1 AND kind = 'catch_up_conflict') \
             WHERE s.run_id = $1",
            &[&run_id],
        )
        .await
        .context("cannot record the sync in odoo_migrate.syncs")?;
    Ok(())
}

/// After the finishing steps, each table's count of updated records is what the target shows:
/// the records whose row now differs from its before-image (the copy's updates and the numbering
/// both keep one), so that a value the copy wrote and a rule's final SQL derived back again is no
/// update. A table's count goes to the first of the plans that write it.
pub(super) async fn count_updates(control: &mut Client, run_id: i64) -> Result<u64> {
    let transaction = control.transaction().await?;
    transaction
        .execute(
            "UPDATE odoo_migrate.model_state SET rows_updated = 0 WHERE run_id = $1 AND kind = 'model'",
            &[&run_id],
        )
        .await
        .context("cannot reset the catch-up's counts of updated records")?;
    let tables: Vec<String> = transaction
        .query(
            "SELECT DISTINCT table_name FROM odoo_migrate.before_images WHERE run_id = $1",
            &[&run_id],
        )
        .await
        .context("cannot read the catch-up's before-images")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut updated = 0;
    for table in &tables {
        let changed: i64 = transaction
            .query_one(
                &format!(
                    "SELECT count(DISTINCT b.target_id) FROM odoo_migrate.before_images b \
                     JOIN public.{} t ON t.id = b.target_id \
                     WHERE b.run_id = $1 AND b.table_name = $2 AND b.image <> to_jsonb(t)",
                    crate::catalog::quote_ident(table)
                ),
                &[&run_id, table],
            )
            .await
            .with_context(|| format!("cannot count the records of {table} the catch-up changed"))?
            .get(0);
        transaction
            .execute(
                "UPDATE odoo_migrate.model_state s SET rows_updated = $3 \
                 WHERE s.run_id = $1 AND s.kind = 'model' AND s.source_table = \
                 (SELECT min(source_table) FROM odoo_migrate.model_state \
                  WHERE run_id = $1 AND kind = 'model' AND target_table = $2)",
                &[&run_id, table, &changed],
            )
            .await
            .with_context(|| {
                format!("cannot record the records of {table} the catch-up changed")
            })?;
        updated += changed as u64;
    }
    transaction
        .commit()
        .await
        .context("cannot commit the catch-up's counts of updated records")?;
    Ok(updated)
}
