//! The `rollback` stage: undoes one migration run in the target, in a single transaction — the
//! rows it created and the external ids it added are deleted, the many2many pairs it added are
//! removed, matched records it updated get their before-image back, the sequences it moved return
//! to their former state, and foreign keys still set aside are restored. Afterwards the target's
//! tables hold exactly what they held before the run. It touches only the target, and knows
//! nothing of the command line (`commands::rollback` builds its [`Options`] and renders its
//! [`Outcome`]).

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use tokio_postgres::{Client, Transaction};

use crate::catalog::quote_ident;
use crate::io::connect::Endpoint;
use crate::io::exit::{Status, refuse};
use crate::side_schema;

/// Which run to roll back, where.
pub struct Options {
    pub target: Endpoint,
    /// The number of the run to roll back (as `status` shows it); the newest that is not rolled
    /// back when `None`.
    pub run: Option<i64>,
}

/// What a rollback did.
pub enum Outcome {
    /// The run is rolled back now.
    RolledBack { number: i64, undone: Undone },
    /// The run had been rolled back already; the foreign keys and indexes it had left aside are
    /// restored now.
    Restored {
        number: i64,
        keys: i64,
        indexes: i64,
    },
}

/// What the rollback of a run removed or gave back. `rows + pairs` are the rows the run counted as
/// created (its `rows_created`); the per-company copies and the rows cleared by the foreign keys'
/// `ON DELETE` are counted apart.
#[derive(Default)]
pub struct Undone {
    /// Records the run created (with the company defaults it wrote), deleted.
    pub rows: u64,
    /// Per-company copies of shared records made at the end of the run, deleted.
    pub copies: u64,
    /// Rows that referred to deleted rows, deleted or set to NULL as their keys' ON DELETE says.
    pub cascaded: u64,
    pub xmlids: u64,
    pub pairs: u64,
    pub restored: u64,
    /// Rows a catch-up deleted (records the source lost, their external ids and pairs), put back.
    pub reinserted: u64,
    pub sequences: u64,
    /// Rows, indexes, constraints, columns and tables the rules' final SQL created, removed.
    pub final_sql_objects: u64,
}

/// Rolls back the chosen run, or finishes the rollback of one that left keys or indexes aside.
pub async fn rollback(options: &Options) -> Result<Outcome> {
    let mut client = open_target(&options.target).await?;
    let (run_id, number, status) = chosen_run(&client, options.run).await?;
    if status == "rolled_back" {
        return restore_left_aside(&mut client, run_id, number).await;
    }
    refuse_later_runs(&client, run_id, number).await?;

    side_schema::ensure_id_map_keys(&client).await?;
    let touched = touched_tables(&client, run_id).await?;
    crate::copy::keys::set_aside(&mut client, &touched, run_id).await?;
    let transaction = client.transaction().await?;
    let undone = undo(&transaction, run_id).await?;
    transaction
        .commit()
        .await
        .with_context(|| format!("cannot commit the rollback of run {number}"))?;
    crate::copy::keys::restore(&mut client, run_id)
        .await
        .context("the rows of the run are removed, but foreign keys could not all be restored; run `odoo-migrate rollback` again")?;
    crate::copy::indexes::rebuild_on(&client, run_id)
        .await
        .context("the rows of the run are removed, but indexes could not all be built again; run `odoo-migrate rollback` again")?;
    Ok(Outcome::RolledBack { number, undone })
}

/// A connection to the target, its side schema up to date and the run lock held; refused when no
/// run was ever made there.
async fn open_target(endpoint: &Endpoint) -> Result<Client> {
    let mut client = endpoint.connect().await?;
    if side_schema::installed_version(&client).await? == 0 {
        return Err(refuse(
            Status::Usage,
            "the target has no odoo_migrate schema: no run was made there, nothing to roll back",
        ));
    }
    side_schema::ensure(&mut client).await?;
    side_schema::lock_run(
        &client,
        "a run is working on this target right now; stop it (Ctrl+C) before rolling back",
    )
    .await?;
    Ok(client)
}

/// The run asked for by its number, or else the newest one not rolled back or whose rollback was
/// cut off before it restored every key and index it set aside: its id, number and status.
async fn chosen_run(client: &Client, run: Option<i64>) -> Result<(i64, i64, String)> {
    let run = match run {
        Some(number) => client
            .query_opt(
                "SELECT id, number::bigint, status FROM odoo_migrate.runs WHERE number = $1 AND command = 'run'",
                &[&i32::try_from(number).unwrap_or(i32::MAX)],
            )
            .await?
            .ok_or_else(|| refuse(Status::Usage, format!("there is no migration run {number} on this target; `odoo-migrate status` shows the current one")))?,
        None => client
            .query_opt(include_str!("../../sql/run/rollback_default_run.sql"), &[])
            .await?
            .ok_or_else(|| refuse(Status::Usage, "there is no migration run to roll back on this target"))?,
    };
    Ok((run.get(0), run.get(1), run.get(2)))
}

/// For a run already rolled back: restores the foreign keys and indexes it still has set aside,
/// or refuses when there are none.
async fn restore_left_aside(client: &mut Client, run_id: i64, number: i64) -> Result<Outcome> {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM odoo_migrate.deferred_constraints WHERE run_id = $1), \
             (SELECT count(*) FROM odoo_migrate.deferred_indexes WHERE run_id = $1)",
            &[&run_id],
        )
        .await?;
    let (keys, indexes): (i64, i64) = (row.get(0), row.get(1));
    if keys + indexes > 0 {
        crate::copy::keys::restore(client, run_id).await?;
        crate::copy::indexes::rebuild_on(client, run_id).await?;
        return Ok(Outcome::Restored {
            number,
            keys,
            indexes,
        });
    }
    Err(refuse(
        Status::Usage,
        format!("run {number} was already rolled back"),
    ))
}

/// Refuses to roll back a run that later runs, not rolled back, built on.
async fn refuse_later_runs(client: &Client, run_id: i64, number: i64) -> Result<()> {
    let later: i64 = client
        .query_one(
            "SELECT count(*) FROM odoo_migrate.runs WHERE command = 'run' AND id > $1 AND status <> 'rolled_back'",
            &[&run_id],
        )
        .await?
        .get(0);
    if later > 0 {
        return Err(refuse(
            Status::Usage,
            format!("run {number} has later runs that are not rolled back; roll those back first"),
        ));
    }
    Ok(())
}

/// The tables a run wrote: those it copied into and the many2many tables it added pairs to.
async fn touched_tables(client: &Client, run_id: i64) -> Result<Vec<String>> {
    let mut touched: BTreeSet<String> = BTreeSet::new();
    for row in client
        .query(
            "SELECT target_table FROM odoo_migrate.model_state WHERE run_id = $1 \
             UNION SELECT table_name FROM odoo_migrate.relation_rows WHERE run_id = $1 \
             UNION SELECT table_name FROM odoo_migrate.deferred_constraints WHERE run_id = $1 \
             UNION SELECT table_name FROM odoo_migrate.removed_rows WHERE run_id = $1 AND table_name NOT LIKE 'odoo\\_migrate.%'",
            &[&run_id],
        )
        .await?
    {
        touched.insert(row.get(0));
    }
    Ok(touched.into_iter().collect())
}

/// Undoes everything the run did to the target's tables, inside `transaction`, and forgets the
/// run's records in the side schema.
async fn undo(transaction: &Transaction<'_>, run_id: i64) -> Result<Undone> {
    let mut undone = Undone::default();
    let tables = model_tables(transaction, run_id).await?;
    let keys = key_definitions(transaction, run_id).await?;
    undone.restored = restore_before_images(transaction, run_id).await?;
    undone.pairs = remove_pairs(transaction, run_id).await?;
    let (xmlids, copies) = remove_company_copies(transaction, run_id).await?;
    undone.xmlids += xmlids;
    undone.copies = copies;
    let (xmlids, rows) = remove_created(transaction, run_id, &tables).await?;
    undone.xmlids += xmlids;
    undone.rows = rows;
    undone.reinserted = reinsert_removed(transaction, run_id).await?;
    undone.cascaded = clear_cascades(transaction, &keys).await?;
    undone.sequences = reset_sequences(transaction, run_id).await?;
    undone.final_sql_objects = undo_final_sql(transaction, run_id).await?;
    forget_run(transaction, run_id).await?;
    Ok(undone)
}

/// The (target table, Odoo 16 model) of every model table the run copied.
async fn model_tables(transaction: &Transaction<'_>, run_id: i64) -> Result<Vec<(String, String)>> {
    Ok(transaction
        .query(
            "SELECT source_table, target_table, CASE WHEN kind = 'model' THEN coalesce(model, '') ELSE '' END \
             FROM odoo_migrate.model_state WHERE run_id = $1",
            &[&run_id],
        )
        .await?
        .iter()
        .filter_map(|r| {
            let model: String = r.get(2);
            (!model.is_empty()).then(|| (r.get(1), model))
        })
        .collect())
}

/// The (table, definition) of every key the run set aside. The keys of the tables the run wrote
/// were set aside (each recorded, in transactions of their own) so that the order of deletions
/// does not matter; their definitions drive the cascades.
async fn key_definitions(
    transaction: &Transaction<'_>,
    run_id: i64,
) -> Result<Vec<(String, String)>> {
    Ok(transaction
        .query(
            "SELECT table_name, definition FROM odoo_migrate.deferred_constraints WHERE run_id = $1",
            &[&run_id],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Matched records that the run changed get their former values back. Returns how many.
async fn restore_before_images(transaction: &Transaction<'_>, run_id: i64) -> Result<u64> {
    let mut restored = 0;
    let images = transaction
        .query(
            "SELECT DISTINCT table_name FROM odoo_migrate.before_images WHERE run_id = $1",
            &[&run_id],
        )
        .await?;
    for row in &images {
        let table: String = row.get(0);
        let columns: Vec<String> = transaction
            .query(
                "SELECT a.attname::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' \
                 WHERE c.relname = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'id' \
                 ORDER BY a.attnum",
                &[&table],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let assignments: Vec<String> = columns
            .iter()
            .map(|c| format!("{col} = r.{col}", col = quote_ident(c)))
            .collect();
        restored += transaction
            .execute(
                &format!(
                    "UPDATE public.{table} t SET {} FROM odoo_migrate.before_images b \
                     CROSS JOIN LATERAL jsonb_populate_record(NULL::public.{table}, b.image) r \
                     WHERE b.run_id = $1 AND b.table_name = $2 AND t.id = b.target_id",
                    assignments.join(", "),
                    table = quote_ident(&table)
                ),
                &[&run_id, &table],
            )
            .await
            .with_context(|| format!("cannot restore the matched records of {table}"))?;
    }
    Ok(restored)
}

/// The rows a catch-up deleted (records, external ids, pairs, and its dropped mappings in the side
/// schema's `odoo_migrate.` tables) inserted again as they were. Returns how many rows of Odoo's.
async fn reinsert_removed(transaction: &Transaction<'_>, run_id: i64) -> Result<u64> {
    let mut rows = 0;
    let tables = transaction
        .query(
            "SELECT DISTINCT table_name FROM odoo_migrate.removed_rows WHERE run_id = $1",
            &[&run_id],
        )
        .await?;
    for row in &tables {
        let table: String = row.get(0);
        let (qualified, odoo) = match table.strip_prefix("odoo_migrate.") {
            Some(side) => (format!("odoo_migrate.{}", quote_ident(side)), false),
            None => (format!("public.{}", quote_ident(&table)), true),
        };
        let inserted = transaction
            .execute(
                &format!(
                    "INSERT INTO {qualified} SELECT (jsonb_populate_record(NULL::{qualified}, r.image)).* \
                     FROM odoo_migrate.removed_rows r WHERE r.run_id = $1 AND r.table_name = $2"
                ),
                &[&run_id, &table],
            )
            .await
            .with_context(|| format!("cannot put back the rows of {table} the catch-up deleted"))?;
        if odoo {
            rows += inserted;
        }
    }
    Ok(rows)
}

/// Removes the pairs the run added to many2many tables. Returns how many.
async fn remove_pairs(transaction: &Transaction<'_>, run_id: i64) -> Result<u64> {
    let mut pairs = 0;
    let relations = transaction
        .query(
            "SELECT DISTINCT table_name, columns FROM odoo_migrate.relation_rows WHERE run_id = $1",
            &[&run_id],
        )
        .await?;
    for row in &relations {
        let table: String = row.get(0);
        let columns: Vec<String> = row.get(1);
        let matches: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("t.{} = x.row_values[{}]", quote_ident(c), i + 1))
            .collect();
        pairs += transaction
            .execute(
                &format!(
                    "DELETE FROM public.{} t USING odoo_migrate.relation_rows x \
                     WHERE x.run_id = $1 AND x.table_name = $2 AND x.columns = $3::text[] AND {}",
                    quote_ident(&table),
                    matches.join(" AND ")
                ),
                &[&run_id, &table, &columns],
            )
            .await
            .with_context(|| format!("cannot remove the pairs added to {table}"))?;
    }
    Ok(pairs)
}

/// Deletes the per-company copies of shared records, with the external ids they were given.
/// Returns (external ids, rows) deleted.
async fn remove_company_copies(transaction: &Transaction<'_>, run_id: i64) -> Result<(u64, u64)> {
    let xmlids = transaction
        .execute(
            "DELETE FROM ir_model_data d USING odoo_migrate.copied_rows c \
             WHERE c.run_id = $1 AND d.model = c.target_model AND d.res_id = c.target_id",
            &[&run_id],
        )
        .await
        .context("cannot remove the external ids of the per-company copies the run made")?;
    let copied = transaction
        .query(
            "SELECT DISTINCT table_name FROM odoo_migrate.copied_rows WHERE run_id = $1",
            &[&run_id],
        )
        .await?;
    let mut rows = 0;
    for row in &copied {
        let table: String = row.get(0);
        rows += transaction
            .execute(
                &format!(
                    "DELETE FROM public.{} t USING odoo_migrate.copied_rows c \
                     WHERE c.run_id = $1 AND c.table_name = $2 AND t.id = c.target_id",
                    quote_ident(&table)
                ),
                &[&run_id, &table],
            )
            .await
            .with_context(|| {
                format!("cannot delete the per-company copies the run made in {table}")
            })?;
    }
    Ok((xmlids, rows))
}

/// Deletes the external ids the run created, then the rows it created in each model table.
/// Returns (external ids, rows) deleted.
async fn remove_created(
    transaction: &Transaction<'_>,
    run_id: i64,
    tables: &[(String, String)],
) -> Result<(u64, u64)> {
    let xmlids = transaction
        .execute(
            // The row ids were allocated by the run's plan: its rows, also those a catch-up gave
            // to records of earlier runs.
            "DELETE FROM ir_model_data d USING odoo_migrate.xmlid_plan x \
             WHERE x.run_id = $1 AND d.id = x.target_id AND d.module = x.module AND d.name = x.name",
            &[&run_id],
        )
        .await
        .context("cannot remove the external ids the run created")?;
    let mut rows = 0;
    for (table, model) in tables {
        rows += transaction
            .execute(
                &format!(
                    "DELETE FROM public.{} t USING odoo_migrate.id_map m \
                     WHERE m.run_id = $1 AND m.model = $2 AND m.how = 'created' AND t.id = m.target_id",
                    quote_ident(table)
                ),
                &[&run_id, model],
            )
            .await
            .with_context(|| format!("cannot delete the rows the run created in {table}"))?;
    }
    Ok((xmlids, rows))
}

/// What the deletions would have cascaded to with the keys in force (rows that rules added after
/// the copy, such as the companies of created accounts): done here, until nothing moves. Returns
/// how many rows were deleted or updated.
async fn clear_cascades(transaction: &Transaction<'_>, keys: &[(String, String)]) -> Result<u64> {
    let mut total = 0;
    loop {
        let mut changed = 0;
        for (child, definition) in keys {
            let Some(statement) = parse_foreign_key(definition).and_then(|k| cascade(child, &k))
            else {
                continue;
            };
            changed += transaction
                .execute(&statement, &[])
                .await
                .with_context(|| {
                    format!("cannot clear the rows of {child} that pointed at deleted rows")
                })?;
        }
        if changed == 0 {
            return Ok(total);
        }
        total += changed;
    }
}

/// The statement that does to the rows of `child` pointing at no row what `key`'s `ON DELETE`
/// would have done; `None` when it does nothing.
fn cascade(child: &str, key: &ForeignKey) -> Option<String> {
    let orphan = format!(
        "c.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public.{parent} p WHERE p.{pcol} = c.{col})",
        col = quote_ident(&key.column),
        parent = quote_ident(&key.parent),
        pcol = quote_ident(&key.parent_column)
    );
    match key.on_delete {
        OnDelete::Cascade => Some(format!(
            "DELETE FROM public.{} c WHERE {orphan}",
            quote_ident(child)
        )),
        OnDelete::SetNull => Some(format!(
            "UPDATE public.{} c SET {} = NULL WHERE {orphan}",
            quote_ident(child),
            quote_ident(&key.column)
        )),
        OnDelete::Other => None,
    }
}

/// Sequences back to where they were; those the run created are dropped. Returns how many.
async fn reset_sequences(transaction: &Transaction<'_>, run_id: i64) -> Result<u64> {
    let mut sequences = 0;
    let states = transaction
        .query(
            "SELECT sequence_name, last_value, is_called FROM odoo_migrate.sequence_states WHERE run_id = $1",
            &[&run_id],
        )
        .await?;
    let known: BTreeSet<String> = states.iter().map(|r| r.get(0)).collect();
    for row in &states {
        let name: String = row.get(0);
        let last: i64 = row.get(1);
        let called: bool = row.get(2);
        transaction
            .execute(
                "SELECT setval($1::text::regclass, $2, $3)",
                &[&format!("public.{}", quote_ident(&name)), &last, &called],
            )
            .await
            .with_context(|| format!("cannot reset sequence {name}"))?;
        sequences += 1;
    }
    if known.is_empty() {
        return Ok(sequences);
    }
    for row in transaction
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' \
             WHERE c.relkind = 'S' AND c.relname LIKE 'ir\\_sequence\\_%'",
            &[],
        )
        .await?
    {
        let name: String = row.get(0);
        if !known.contains(&name) {
            transaction
                .batch_execute(&format!("DROP SEQUENCE public.{}", quote_ident(&name)))
                .await?;
            sequences += 1;
        }
    }
    Ok(sequences)
}

/// What the rules' final SQL created (recorded by `pipeline::finish::run_final_sql`): its rows
/// deleted, then its indexes, constraints, columns and tables dropped, newest first. Keys and
/// indexes of those that the rollback or the run set aside are forgotten, not restored. Returns
/// how many.
async fn undo_final_sql(transaction: &Transaction<'_>, run_id: i64) -> Result<u64> {
    let mut undone = 0;
    let tables = transaction
        .query(
            "SELECT table_name FROM odoo_migrate.final_sql_objects WHERE run_id = $1 AND kind = 'row' \
             GROUP BY table_name ORDER BY max(position) DESC",
            &[&run_id],
        )
        .await?;
    for row in &tables {
        let table: String = row.get(0);
        undone += transaction
            .execute(
                &format!(
                    "DELETE FROM public.{} t USING odoo_migrate.final_sql_objects o \
                     WHERE o.run_id = $1 AND o.kind = 'row' AND o.table_name = $2 AND t.id::text = o.name",
                    quote_ident(&table)
                ),
                &[&run_id, &table],
            )
            .await
            .with_context(|| {
                format!("cannot delete the rows of {table} that the rules' final SQL created")
            })?;
    }
    let objects = transaction
        .query(
            "SELECT kind, table_name, name FROM odoo_migrate.final_sql_objects \
             WHERE run_id = $1 AND kind <> 'row' ORDER BY position DESC",
            &[&run_id],
        )
        .await?;
    for row in &objects {
        let (kind, table, name): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let Some(statement) = undo_statement(&kind, &table, &name) else {
            continue;
        };
        transaction
            .batch_execute(&statement)
            .await
            .with_context(|| {
                format!("cannot undo the {kind} {name} of {table} that the rules' final SQL created ({statement})")
            })?;
        undone += 1;
    }
    transaction
        .execute(
            "DELETE FROM odoo_migrate.deferred_constraints d USING odoo_migrate.final_sql_objects o \
             WHERE o.run_id = $1 AND d.table_name = o.table_name \
             AND ((o.kind = 'constraint' AND d.constraint_name = o.name) OR o.kind = 'table')",
            &[&run_id],
        )
        .await?;
    transaction
        .execute(
            "DELETE FROM odoo_migrate.deferred_indexes d USING odoo_migrate.final_sql_objects o \
             WHERE o.run_id = $1 AND d.table_name = o.table_name \
             AND ((o.kind = 'index' AND d.index_name = o.name) OR o.kind = 'table')",
            &[&run_id],
        )
        .await?;
    Ok(undone)
}

/// The statement that drops one object the rules' final SQL created; `None` for rows (deleted
/// per table) and kinds this tool does not know.
fn undo_statement(kind: &str, table: &str, name: &str) -> Option<String> {
    let table = format!("public.{}", quote_ident(table));
    let name = quote_ident(name);
    Some(match kind {
        "index" => format!("DROP INDEX IF EXISTS public.{name}"),
        "constraint" => format!("ALTER TABLE IF EXISTS {table} DROP CONSTRAINT IF EXISTS {name}"),
        "column" => format!("ALTER TABLE IF EXISTS {table} DROP COLUMN IF EXISTS {name}"),
        "table" => format!("DROP TABLE IF EXISTS {table}"),
        _ => return None,
    })
}

/// Forgets the run's mappings, plans and images, marks it rolled back, and forgets the source's
/// identity once no run is left on the target.
async fn forget_run(transaction: &Transaction<'_>, run_id: i64) -> Result<()> {
    for statement in [
        "DELETE FROM odoo_migrate.id_map WHERE run_id = $1",
        "DELETE FROM odoo_migrate.id_plan WHERE run_id = $1",
        "DELETE FROM odoo_migrate.xmlid_plan WHERE run_id = $1",
        "DELETE FROM odoo_migrate.relation_rows WHERE run_id = $1",
        "DELETE FROM odoo_migrate.copied_rows WHERE run_id = $1",
        "DELETE FROM odoo_migrate.before_images WHERE run_id = $1",
        "DELETE FROM odoo_migrate.removed_rows WHERE run_id = $1",
        "DELETE FROM odoo_migrate.catch_up_deletions WHERE run_id = $1",
        "DELETE FROM odoo_migrate.final_sql_objects WHERE run_id = $1",
        "DELETE FROM odoo_migrate.final_sql_sequences WHERE run_id = $1",
        "DELETE FROM odoo_migrate.final_sql_done WHERE run_id = $1",
        "DELETE FROM odoo_migrate.source_row_hashes WHERE run_id = $1",
        "DELETE FROM odoo_migrate.catch_up_lost_xmlids WHERE run_id = $1",
        "UPDATE odoo_migrate.runs SET status = 'rolled_back', finished_at = now(), \
         message = 'rolled back at ' || now()::text WHERE id = $1",
    ] {
        transaction.execute(statement, &[&run_id]).await?;
    }
    transaction
        .execute(
            "DELETE FROM odoo_migrate.source_identity WHERE NOT EXISTS \
             (SELECT 1 FROM odoo_migrate.runs WHERE command = 'run' AND status <> 'rolled_back')",
            &[],
        )
        .await?;
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum OnDelete {
    Cascade,
    SetNull,
    Other,
}

/// A single-column foreign key as `pg_get_constraintdef` writes it.
#[derive(Debug, PartialEq, Eq)]
struct ForeignKey {
    column: String,
    parent: String,
    parent_column: String,
    on_delete: OnDelete,
}

/// Reads `FOREIGN KEY (col) REFERENCES parent(col) [ON DELETE …]`; keys over several columns are
/// not Odoo's and are left alone.
fn parse_foreign_key(definition: &str) -> Option<ForeignKey> {
    let rest = definition.strip_prefix("FOREIGN KEY (")?;
    let (column, rest) = rest.split_once(") REFERENCES ")?;
    let (parent, rest) = rest.split_once('(')?;
    let (parent_column, rest) = rest.split_once(')')?;
    if column.contains(',') || parent_column.contains(',') {
        return None;
    }
    let unquote = |name: &str| name.trim().trim_matches('"').replace("\"\"", "\"");
    let on_delete = if rest.contains("ON DELETE CASCADE") {
        OnDelete::Cascade
    } else if rest.contains("ON DELETE SET NULL") {
        OnDelete::SetNull
    } else {
        OnDelete::Other
    };
    Some(ForeignKey {
        column: unquote(column),
        parent: unquote(parent.trim_start_matches("public.")),
        parent_column: unquote(parent_column),
        on_delete,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_key_definitions_are_read() {
        assert_eq!(
            parse_foreign_key(
                "FOREIGN KEY (account_account_id) REFERENCES account_account(id) ON DELETE CASCADE"
            ),
            Some(ForeignKey {
                column: "account_account_id".into(),
                parent: "account_account".into(),
                parent_column: "id".into(),
                on_delete: OnDelete::Cascade,
            })
        );
        let quoted = parse_foreign_key(
            "FOREIGN KEY (\"Order\") REFERENCES \"My Table\"(id) ON DELETE SET NULL",
        )
        .unwrap();
        assert_eq!(quoted.column, "Order");
        assert_eq!(quoted.parent, "My Table");
        assert_eq!(quoted.on_delete, OnDelete::SetNull);
        assert_eq!(
            parse_foreign_key("FOREIGN KEY (a, b) REFERENCES t(x, y)"),
            None
        );
        // Either side over several columns is enough to leave the key alone.
        assert_eq!(
            parse_foreign_key("FOREIGN KEY (a, b) REFERENCES t(x)"),
            None
        );
        assert_eq!(
            parse_foreign_key("FOREIGN KEY (a) REFERENCES t(x, y)"),
            None
        );
        assert_eq!(parse_foreign_key("UNIQUE (a)"), None);
    }

    fn key(on_delete: OnDelete) -> ForeignKey {
        ForeignKey {
            column: "partner_id".into(),
            parent: "res_partner".into(),
            parent_column: "id".into(),
            on_delete,
        }
    }

    #[test]
    fn a_cascading_key_deletes_the_orphans_and_a_set_null_key_empties_their_column() {
        let orphan = "c.\"partner_id\" IS NOT NULL AND NOT EXISTS \
                      (SELECT 1 FROM public.\"res_partner\" p WHERE p.\"id\" = c.\"partner_id\")";
        assert_eq!(
            cascade("sale_order", &key(OnDelete::Cascade)).as_deref(),
            Some(format!("DELETE FROM public.\"sale_order\" c WHERE {orphan}").as_str())
        );
        assert_eq!(
            cascade("sale_order", &key(OnDelete::SetNull)).as_deref(),
            Some(
                format!("UPDATE public.\"sale_order\" c SET \"partner_id\" = NULL WHERE {orphan}")
                    .as_str()
            )
        );
        // RESTRICT, NO ACTION, SET DEFAULT: the deletion would have failed or left the row.
        assert_eq!(cascade("sale_order", &key(OnDelete::Other)), None);
    }

    #[test]
    fn each_kind_of_object_the_final_sql_made_has_its_own_drop() {
        assert_eq!(
            undo_statement("index", "res_partner", "my_index").as_deref(),
            Some("DROP INDEX IF EXISTS public.\"my_index\"")
        );
        assert_eq!(
            undo_statement("constraint", "res_partner", "my_check").as_deref(),
            Some(
                "ALTER TABLE IF EXISTS public.\"res_partner\" DROP CONSTRAINT IF EXISTS \"my_check\""
            )
        );
        assert_eq!(
            undo_statement("column", "res_partner", "x_plan").as_deref(),
            Some("ALTER TABLE IF EXISTS public.\"res_partner\" DROP COLUMN IF EXISTS \"x_plan\"")
        );
        assert_eq!(
            undo_statement("table", "x_rel", "x_rel").as_deref(),
            Some("DROP TABLE IF EXISTS public.\"x_rel\"")
        );
        // Rows are deleted per table, not dropped; an unknown kind is left alone.
        assert_eq!(undo_statement("row", "res_partner", "1"), None);
        assert_eq!(undo_statement("view", "v", "v"), None);
    }
}
