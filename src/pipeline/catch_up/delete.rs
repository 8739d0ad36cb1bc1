//! A catch-up's deletions: the records earlier runs mapped that the newer snapshot no longer has.
//! A record the migration matched (the target's own) loses its mapping only. A record a run
//! created is deleted with its external ids — unless a row that stays in the target still refers
//! to it by a foreign key (a record the target's users made, or one kept for the same reason):
//! then it is kept, its mapping dropped, and reported with who refers to it; nothing is cascaded.
//! Every row deleted, and every mapping dropped, is kept whole in `removed_rows` for `rollback`.
//! One target transaction; a resumed catch-up does what is still pending.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use tokio_postgres::{Client, Transaction};

use crate::catalog::quote_ident;
use crate::catalog::session::Session;
use crate::rules::Rules;
use crate::side_schema::problems::{Problem, record_problem};

/// A created record still referred to: the referring table, column and a few of its ids.
struct Referrer {
    table: String,
    column: String,
    ids: Vec<i32>,
}

/// Deletes or unmaps the records the source lost (see the module's doc).
pub async fn delete_vanished(
    session: &Session,
    control: &mut Client,
    rules: &Rules,
    run_id: i64,
    triggers_off: bool,
) -> Result<()> {
    let transaction = control.transaction().await?;
    if triggers_off {
        transaction
            .batch_execute("SET LOCAL session_replication_role = replica")
            .await?;
    }
    transaction
        .execute(
            "UPDATE odoo_migrate.catch_up_deletions SET status = 'unmapped' \
             WHERE run_id = $1 AND status = 'pending' AND how <> 'created'",
            &[&run_id],
        )
        .await?;
    let mut candidates: BTreeMap<String, (String, BTreeSet<i32>)> = BTreeMap::new();
    for row in transaction
        .query(
            "SELECT table_name, model, target_id FROM odoo_migrate.catch_up_deletions \
             WHERE run_id = $1 AND status = 'pending' AND table_name <> ''",
            &[&run_id],
        )
        .await?
    {
        candidates
            .entry(row.get(0))
            .or_insert_with(|| (row.get(1), BTreeSet::new()))
            .1
            .insert(row.get(2));
    }
    let referenced = still_referenced(session, &transaction, &mut candidates).await?;
    report_referenced(&transaction, run_id, &referenced).await?;
    for (table, (model, ids)) in &candidates {
        delete_records(&transaction, rules, run_id, table, model, ids).await?;
    }
    drop_mappings(&transaction, run_id).await?;
    transaction
        .commit()
        .await
        .context("cannot commit the deletions of the catch-up")?;
    Ok(())
}

/// Takes out of `candidates` (per table: the model and target ids) every record a row that stays
/// still refers to, until none is left that is; returns them per table and id with a referrer.
async fn still_referenced(
    session: &Session,
    transaction: &Transaction<'_>,
    candidates: &mut BTreeMap<String, (String, BTreeSet<i32>)>,
) -> Result<BTreeMap<(String, i32), (String, Referrer)>> {
    // Per parent table, the single-column keys pointing at its id: (child table, column).
    let mut keys: BTreeMap<&str, Vec<(&str, &str, bool)>> = BTreeMap::new();
    for (name, table) in &session.target_catalog.tables {
        let has_id = table.column("id").is_some();
        for key in &table.foreign_keys {
            if key.columns.len() == 1 && key.referenced_columns == ["id"] {
                keys.entry(key.referenced_table.as_str())
                    .or_default()
                    .push((name.as_str(), key.columns[0].as_str(), has_id));
            }
        }
    }
    let mut referenced = BTreeMap::new();
    loop {
        let mut found: Vec<(String, i32, String, Referrer)> = Vec::new();
        for (parent, (model, ids)) in candidates.iter() {
            let parent_ids: Vec<i32> = ids.iter().copied().collect();
            for &(child, column, has_id) in keys.get(parent.as_str()).into_iter().flatten() {
                let leaving: Vec<i32> = candidates
                    .get(child)
                    .map(|(_, ids)| ids.iter().copied().collect())
                    .unwrap_or_default();
                let staying = if has_id {
                    " AND NOT (c.id = ANY($2))"
                } else {
                    ""
                };
                let ids_of = if has_id { "c.id" } else { "0" };
                let sql = format!(
                    "SELECT c.{col}, (array_agg({ids_of} ORDER BY {ids_of}))[1:5] FROM public.{child} c \
                     WHERE c.{col} = ANY($1){staying} GROUP BY c.{col}",
                    col = quote_ident(column),
                    child = quote_ident(child),
                );
                let rows = if has_id {
                    transaction.query(&sql, &[&parent_ids, &leaving]).await
                } else {
                    transaction.query(&sql, &[&parent_ids]).await
                }
                .with_context(|| {
                    format!("cannot look for rows of {child} that refer to {parent}")
                })?;
                for row in rows {
                    found.push((
                        parent.clone(),
                        row.get(0),
                        model.clone(),
                        Referrer {
                            table: child.to_string(),
                            column: column.to_string(),
                            ids: row.get(1),
                        },
                    ));
                }
            }
        }
        if found.is_empty() {
            return Ok(referenced);
        }
        for (parent, id, model, referrer) in found {
            if let Some((_, ids)) = candidates.get_mut(&parent) {
                ids.remove(&id);
            }
            referenced.entry((parent, id)).or_insert((model, referrer));
        }
    }
}

/// Each record kept because it is still referred to: marked and reported.
async fn report_referenced(
    transaction: &Transaction<'_>,
    run_id: i64,
    referenced: &BTreeMap<(String, i32), (String, Referrer)>,
) -> Result<()> {
    for ((table, target_id), (model, referrer)) in referenced {
        let source_id: i32 = transaction
            .query_one(
                "UPDATE odoo_migrate.catch_up_deletions SET status = 'referenced' \
                 WHERE run_id = $1 AND table_name = $2 AND target_id = $3 RETURNING source_id",
                &[&run_id, table, target_id],
            )
            .await?
            .get(0);
        let message = format!(
            "{model} id {source_id} was deleted in the source, but {table} id {target_id} is still referenced in the target \
             by {}.{} (ids {:?}); it is kept and no longer mapped: delete or repoint those rows in Odoo 19 if it must go",
            referrer.table, referrer.column, referrer.ids
        );
        let detail = serde_json::json!({
            "target_id": target_id,
            "referring_table": referrer.table,
            "referring_column": referrer.column,
            "referring_ids": referrer.ids,
        });
        record_problem(
            transaction,
            run_id,
            &Problem {
                severity: "warning",
                kind: "deleted_record_still_referenced",
                model: Some(model),
                table: Some(table),
                column: None,
                source_id: Some(i64::from(source_id)),
                message: &message,
                detail: Some(&detail),
            },
        )
        .await?;
    }
    Ok(())
}

/// Deletes the records of one table with their external ids, each row kept in `removed_rows`.
async fn delete_records(
    transaction: &Transaction<'_>,
    rules: &Rules,
    run_id: i64,
    table: &str,
    model: &str,
    ids: &BTreeSet<i32>,
) -> Result<()> {
    let ids: Vec<i32> = ids.iter().copied().collect();
    if ids.is_empty() {
        return Ok(());
    }
    transaction
        .execute(
            "WITH gone AS (DELETE FROM public.ir_model_data d WHERE d.model = $2 AND d.res_id = ANY($3) RETURNING d.*) \
             INSERT INTO odoo_migrate.removed_rows (run_id, table_name, image) SELECT $1, 'ir_model_data', to_jsonb(g) FROM gone g",
            &[&run_id, &rules.model_in_target(model), &ids],
        )
        .await
        .with_context(|| format!("cannot delete the external ids of the {model} records the source lost"))?;
    transaction
        .execute(
            &format!(
                "WITH gone AS (DELETE FROM public.{} t WHERE t.id = ANY($3) RETURNING t.*) \
                 INSERT INTO odoo_migrate.removed_rows (run_id, table_name, image) SELECT $1, $2, to_jsonb(g) FROM gone g",
                quote_ident(table)
            ),
            &[&run_id, &table, &ids],
        )
        .await
        .with_context(|| format!("cannot delete the {model} records the source lost from {table}"))?;
    transaction
        .execute(
            "UPDATE odoo_migrate.catch_up_deletions SET status = 'deleted' \
             WHERE run_id = $1 AND table_name = $2 AND target_id = ANY($3) AND status = 'pending'",
            &[&run_id, &table, &ids],
        )
        .await?;
    Ok(())
}

/// The mappings of every record the source lost are dropped, each kept in `removed_rows`.
async fn drop_mappings(transaction: &Transaction<'_>, run_id: i64) -> Result<()> {
    for side_table in ["id_map", "id_plan"] {
        transaction
            .execute(
                &format!(
                    "WITH gone AS (DELETE FROM odoo_migrate.{side_table} m USING odoo_migrate.catch_up_deletions d \
                     WHERE d.run_id = $1 AND d.status <> 'pending' AND m.model = d.model AND m.source_id = d.source_id \
                     RETURNING m.*) \
                     INSERT INTO odoo_migrate.removed_rows (run_id, table_name, image) \
                     SELECT $1, 'odoo_migrate.{side_table}', to_jsonb(g) FROM gone g"
                ),
                &[&run_id],
            )
            .await
            .with_context(|| format!("cannot drop the mappings of the records the source lost ({side_table})"))?;
    }
    Ok(())
}
