//! The finishing steps once every table is copied: the source checked unchanged, indexes built
//! again, foreign keys restored and proven, id sequences moved past the copied ids, company
//! defaults and per-company copies made, document numbering carried over, attachment files
//! brought, the run's totals and summary written.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use tokio_postgres::Client;

use super::copying::Copied;
use super::{FinalStatement, Load, RunOptions};
use crate::catalog::session::Session;
use crate::catalog::{quote_ident, quote_literal};
use crate::copy::keys;
use crate::io::exit::Status;
use crate::io::fault;
use crate::rules::Rules;
use crate::side_schema;
use crate::side_schema::problems::{Problem, record_problem};

/// Every finishing step, in order; the run is `finished` at the end.
pub(super) async fn finish(
    session: &Session,
    control: &mut Client,
    rules: &Rules,
    options: &RunOptions,
    load: &Load,
    copied: &Copied,
    run_id: i64,
) -> Result<Status> {
    let jobs = options.jobs.max(1);
    let catch_up: bool = control
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM odoo_migrate.syncs WHERE run_id = $1)",
            &[&run_id],
        )
        .await
        .context("cannot read whether the run is a catch-up")?
        .get(0);
    super::guards::check_source_unchanged(session, control, run_id).await?;
    // Keys set aside (by this attempt or an interrupted one) are restored with VALIDATE; the keys
    // that stayed in force while their triggers were off are proven by anti-joins.
    // The mappings' keys are built on a connection of their own while the indexes are.
    let id_map_keys = async {
        let client = session.target.get().await?;
        side_schema::ensure_id_map_keys(&**client).await
    };
    tokio::try_join!(
        crate::copy::indexes::rebuild(&session.target, control, run_id, jobs),
        id_map_keys
    )?;
    fault::point("after_indexes_built");
    let restored = keys::restore(control, run_id).await?;
    let named: Vec<String> = load
        .post_sql
        .iter()
        .chain(load.final_sql.iter().map(|s| &s.sql))
        .cloned()
        .collect();
    let changed = tables_changed(control, &load.written, &named, run_id).await?;
    keys::prove_in_force(
        control,
        &session.target,
        &changed,
        &copied.analyzed,
        &restored,
        run_id,
        jobs,
    )
    .await?;
    fault::point("before_sequences");
    move_sequences(control, session, run_id).await?;
    carry_over_company_data(session, control, rules, run_id).await?;
    run_final_sql(control, &load.final_sql, run_id).await?;
    bring_files(control, options, run_id).await?;
    if catch_up {
        let updated = super::catch_up::count_updates(control, run_id).await?;
        tracing::info!(updated, "records the catch-up changed counted");
    }
    update_totals(control, run_id).await?;
    if catch_up {
        super::catch_up::record_sync(control, run_id).await?;
    }
    side_schema::finish_run(control, run_id, "finished", None).await?;
    print_summary(control, run_id).await?;
    if let Some(directory) = &options.report_dir {
        let lines = crate::io::report::run_lines(control).await?;
        let number = side_schema::run_number(control, run_id).await?;
        crate::io::report::write_run_report(directory, number, &lines)?;
    }
    Ok(Status::Success)
}

/// After the sequences moved (the defaults take new ids from ir_default's own sequence): company
/// defaults, per-company copies of shared records, and document numbering.
async fn carry_over_company_data(
    session: &Session,
    control: &mut Client,
    rules: &Rules,
    run_id: i64,
) -> Result<()> {
    let defaults = crate::copy::defaults::carry_over(session, control, rules, run_id).await?;
    tracing::info!(defaults, "company defaults written into ir_default");
    let copies =
        crate::copy::company_copies::make(control, rules, &session.target_catalog, run_id).await?;
    tracing::info!(copies, "per-company copies of shared records made");
    let numbering = {
        let source = session.source.get().await?;
        crate::copy::sequences::carry_over(&source, control, run_id).await?
    };
    tracing::info!(sequences = numbering, "document numbering carried over");
    Ok(())
}

/// The rules' `final_sql`, once every table is copied and the keys are in force, in one
/// transaction: derived values that read rows of several migrated tables. What the statements
/// create beyond values (tables, columns, constraints, indexes, rows such as the manual fields of
/// new columns) is recorded for `rollback` in the same transaction, and so are the former values
/// of the matched records of a statement's own model that it changes (a 19 record whose stored
/// count the migrated rows change). The ids its new rows take are those of an uninterrupted run
/// even when it is cut off and run again (`sql/run/final_sql_sequences.sql`).
pub(crate) async fn run_final_sql(
    control: &mut Client,
    statements: &[FinalStatement],
    run_id: i64,
) -> Result<()> {
    if statements.is_empty() {
        return Ok(());
    }
    let named = quote_literal(
        &statements
            .iter()
            .map(|s| s.sql.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    control
        .batch_execute(
            &include_str!("../../sql/run/final_sql_sequences.sql")
                .replace("{statements}", &named)
                .replace("{run_id}", &run_id.to_string()),
        )
        .await
        .context(
            "cannot record or set back the id sequences of the tables the rules' final SQL names",
        )?;
    let transaction = control.transaction().await?;
    transaction
        .batch_execute(&include_str!("../../sql/run/final_sql_before.sql").replace("{statements}", &named))
        .await
        .context("cannot record the target's tables, columns, keys, indexes and largest ids before the rules' final SQL")?;
    let owners: BTreeSet<(&str, &str)> = statements
        .iter()
        .filter_map(|s| Some((s.model.as_str(), s.table.as_deref()?)))
        .collect();
    keep_matched_images(&transaction, &owners, run_id).await?;
    for FinalStatement { model, sql, .. } in statements {
        transaction.batch_execute(sql).await.with_context(|| {
            format!(
                "the final SQL of the rules of {model} failed: {sql}; correct the rule (it runs \
                 once every table is copied) and run again, the finish is resumed"
            )
        })?;
    }
    transaction
        .batch_execute(
            &include_str!("../../sql/run/final_sql_after.sql")
                .replace("{run_id}", &run_id.to_string()),
        )
        .await
        .context("cannot record what the rules' final SQL created, for rollback")?;
    forget_unchanged_images(&transaction, &owners, run_id).await?;
    transaction
        .execute(
            "INSERT INTO odoo_migrate.final_sql_done (run_id) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&run_id],
        )
        .await
        .context("cannot record that the rules' final SQL ran")?;
    fault::point("before_final_sql_commit");
    transaction
        .commit()
        .await
        .context("cannot commit the rules' final SQL")?;
    tracing::info!(statements = statements.len(), "rules' final SQL run");
    Ok(())
}

/// Before the final SQL, in its transaction: the before-image of every matched record of the
/// statements' own models (`odoo_migrate.before_images`, kept when the copy already took one), and
/// which of them this step added (a temporary table), so that those the statements leave as they
/// were are forgotten afterwards ([`forget_unchanged_images`]).
async fn keep_matched_images(
    transaction: &tokio_postgres::Transaction<'_>,
    owners: &BTreeSet<(&str, &str)>,
    run_id: i64,
) -> Result<()> {
    transaction
        .batch_execute(
            "CREATE TEMP TABLE odoo_migrate_final_images (table_name text, target_id integer) ON COMMIT DROP",
        )
        .await
        .context("cannot prepare the before-images of the final SQL")?;
    for (model, table) in owners {
        transaction
            .execute(
                &format!(
                    "WITH kept AS (INSERT INTO odoo_migrate.before_images (run_id, table_name, target_id, image) \
                     SELECT $1, $2, t.id, to_jsonb(t) FROM public.{} t WHERE t.id IN \
                     (SELECT target_id FROM odoo_migrate.id_map WHERE model = $3 AND how <> 'created') \
                     ON CONFLICT DO NOTHING RETURNING table_name, target_id) \
                     INSERT INTO pg_temp.odoo_migrate_final_images SELECT table_name, target_id FROM kept",
                    quote_ident(table)
                ),
                &[&run_id, table, model],
            )
            .await
            .with_context(|| {
                format!("cannot keep the before-images of the matched records of {table}")
            })?;
    }
    Ok(())
}

/// After the final SQL: the before-images [`keep_matched_images`] took of records the statements
/// did not change are removed (rollback has nothing to give back to them).
async fn forget_unchanged_images(
    transaction: &tokio_postgres::Transaction<'_>,
    owners: &BTreeSet<(&str, &str)>,
    run_id: i64,
) -> Result<()> {
    let tables: BTreeSet<&str> = owners.iter().map(|(_, table)| *table).collect();
    for table in tables {
        transaction
            .execute(
                &format!(
                    "DELETE FROM odoo_migrate.before_images b USING pg_temp.odoo_migrate_final_images f, public.{} t \
                     WHERE b.run_id = $1 AND b.table_name = $2 AND f.table_name = b.table_name \
                     AND f.target_id = b.target_id AND t.id = b.target_id AND b.image = to_jsonb(t)",
                    quote_ident(table)
                ),
                &[&run_id, &table],
            )
            .await
            .with_context(|| format!("cannot forget the unchanged records of {table}"))?;
    }
    Ok(())
}

/// With both filestores given, brings the files of the migrated attachments over; missing source
/// files are recorded as problems. Safe to repeat: files already there are left alone.
pub(super) async fn bring_files(control: &Client, options: &RunOptions, run_id: i64) -> Result<()> {
    let Some((from, to)) = &options.filestores else {
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
        let message = format!(
            "{} attachment file(s) are missing from the source filestore {}",
            transfer.missing.len(),
            from.display()
        );
        let problem = Problem {
            severity: "warning",
            kind: "missing_file",
            model: Some("ir.attachment"),
            table: Some("ir_attachment"),
            column: None,
            source_id: None,
            message: &message,
            detail: Some(&serde_json::json!({ "files": transfer.missing })),
        };
        record_problem(control, run_id, &problem).await?;
    }
    Ok(())
}

/// The written tables that may have changed: those the copy put rows in or updated, those that
/// rules' post-copy SQL names, and the many2many tables that no plan fills (rules may).
async fn tables_changed(
    control: &Client,
    written: &[String],
    post_sql: &[String],
    run_id: i64,
) -> Result<Vec<String>> {
    let untouched: BTreeSet<String> = control
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

/// The run's totals, summed from its tables.
pub(super) async fn update_totals(control: &Client, run_id: i64) -> Result<()> {
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

/// The line a finished run prints (and a catch-up's line after it); its figures are those
/// `status` shows for the run. Rows are records (rows of model tables) and many2many pairs.
async fn print_summary(control: &Client, run_id: i64) -> Result<()> {
    let row = control
        .query_one(
            "SELECT models_ok, rows_created, rows_matched, rows_updated, number, \
             (SELECT coalesce(sum(rows_created), 0)::bigint FROM odoo_migrate.model_state WHERE run_id = $1 AND kind = 'relation') \
             FROM odoo_migrate.runs WHERE id = $1",
            &[&run_id],
        )
        .await?;
    let problems = side_schema::ProblemCounts::of_run(control, run_id).await?;
    let (created, pairs): (i64, i64) = (row.get(1), row.get(5));
    let mut summary = format!(
        "Run {} finished: {} tables copied, {created} rows created ({} records, {pairs} many2many pairs), {} matched, \
         {} records updated; {problems} in odoo_migrate.problems.\n",
        row.get::<_, Option<i32>>(4).map_or(run_id, i64::from),
        row.get::<_, i32>(0),
        created - pairs,
        row.get::<_, i64>(2),
        row.get::<_, i64>(3),
    );
    if let Some(sync) = side_schema::syncs::Sync::read(control, run_id).await? {
        summary.push_str(&sync.line());
        summary.push_str(" Details in odoo_migrate.syncs and odoo_migrate.problems.\n");
    }
    crate::io::report::emit(&summary)?;
    Ok(())
}
