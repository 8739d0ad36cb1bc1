//! The target's foreign keys around a bulk load: how they are kept from checking every copied row
//! while tables load in any order, and how every one of them is proven to hold afterwards.
//!
//! Two ways, chosen per run:
//! - `replica`: the copying sessions run with `session_replication_role = replica`, which switches
//!   off the triggers that check foreign keys (what `pg_restore --disable-triggers` does). The
//!   schema is never changed; at the end one anti-join per key of the written tables proves that no
//!   row points at a missing row. Needs a superuser or the SET privilege on that parameter.
//! - `set-aside`: the keys of the written tables are dropped (their definitions kept in the side
//!   schema, one transaction per table) and restored with `VALIDATE` at the end.
//!
//! A key that does not hold at the end is left set aside, recorded, and reported with its orphans,
//! whichever way was used; `rollback` and the next `run` restore it. This module changes foreign
//! keys and their records in the side schema, never a row.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use futures::StreamExt;
use tokio_postgres::{Client, GenericClient};

use crate::catalog::quote_ident;
use crate::io::exit::{Status, refuse};
use crate::io::fault;

/// How foreign keys stay out of the way during the copy (`run --foreign-keys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// `replica` when the role may set `session_replication_role`, `set-aside` otherwise.
    Auto,
    /// Foreign key triggers off in the copying sessions; every key checked at the end.
    Replica,
    /// Keys dropped during the copy and restored with VALIDATE at the end.
    SetAside,
}

/// One foreign key of a target table.
#[derive(Debug, Clone)]
pub struct ForeignKey {
    pub table: String,
    pub name: String,
    /// Schema-qualified and quoted, as PostgreSQL prints it.
    pub referenced_relation: String,
    pub columns: Vec<String>,
    pub referenced_columns: Vec<String>,
    pub definition: String,
}

/// Rows of a table that point at rows that do not exist.
#[derive(Debug)]
pub struct Orphans {
    pub key: ForeignKey,
    pub count: i64,
    pub samples: Vec<String>,
}

impl Orphans {
    pub fn describe(&self) -> String {
        format!(
            "{}.{}: {} row(s) with {} pointing at no row of {} (e.g. {})",
            self.key.table,
            self.key.name,
            self.count,
            self.key.columns.join(", "),
            self.key.referenced_relation,
            self.samples.join("; ")
        )
    }
}

/// Resolves `auto` to what this role may do; refuses `replica` when the role may not.
pub async fn choose(client: &mut Client, wanted: Strategy) -> Result<Strategy> {
    if wanted == Strategy::SetAside {
        return Ok(wanted);
    }
    let transaction = client.transaction().await?;
    let allowed = transaction
        .batch_execute("SET LOCAL session_replication_role = replica")
        .await
        .is_ok();
    // A refused SET aborts the transaction; either way nothing is kept.
    drop(transaction);
    match (wanted, allowed) {
        (_, true) => Ok(Strategy::Replica),
        (Strategy::Replica, false) => Err(refuse(
            Status::Usage,
            "--foreign-keys replica needs a superuser, or `GRANT SET ON PARAMETER session_replication_role TO <role>`; \
             use --foreign-keys set-aside (or auto) with this role",
        )),
        (_, false) => Ok(Strategy::SetAside),
    }
}

/// The foreign keys of the given public tables.
pub async fn keys_of(client: &impl GenericClient, tables: &[String]) -> Result<Vec<ForeignKey>> {
    Ok(client
        .query(
            include_str!("../../sql/constraints/foreign_keys.sql"),
            &[&tables],
        )
        .await
        .context("cannot read the target's foreign keys")?
        .iter()
        .map(|r| ForeignKey {
            table: r.get(0),
            name: r.get(1),
            referenced_relation: r.get(2),
            columns: r.get(3),
            referenced_columns: r.get(4),
            definition: r.get(5),
        })
        .collect())
}

/// Sets aside the foreign keys of the tables the run writes, so that tables can be loaded in any
/// order; their definitions are kept in the side schema and restored at the end of the run.
pub async fn set_aside(control: &mut Client, tables: &[String], run_id: i64) -> Result<()> {
    let keys = keys_of(&*control, tables).await?;
    // One transaction per table: dropping a thousand keys at once takes more locks than a
    // server's default lock table holds. Each drop commits together with its record.
    for table_keys in keys.chunk_by(|a, b| a.table == b.table) {
        let transaction = control.transaction().await?;
        for key in table_keys {
            record_and_drop(&transaction, key, run_id).await?;
        }
        transaction.commit().await?;
    }
    if !keys.is_empty() {
        tracing::info!(count = keys.len(), "foreign keys set aside");
    }
    Ok(())
}

/// Records one key's definition in the side schema and drops it, in the caller's transaction (or
/// on its own when `client` is a connection).
async fn record_and_drop(client: &impl GenericClient, key: &ForeignKey, run_id: i64) -> Result<()> {
    client
        .execute(
            "INSERT INTO odoo_migrate.deferred_constraints (run_id, table_name, constraint_name, definition) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&run_id, &key.table, &key.name, &key.definition],
        )
        .await?;
    drop_foreign_key(client, &key.table, &key.name).await
}

/// Drops one foreign key (its definition was kept by the caller).
pub async fn drop_foreign_key(client: &impl GenericClient, table: &str, name: &str) -> Result<()> {
    client
        .batch_execute(&format!(
            "ALTER TABLE public.{} DROP CONSTRAINT {}",
            quote_ident(table),
            quote_ident(name)
        ))
        .await
        .with_context(|| format!("cannot set aside foreign key {name} of {table}"))
}

/// Restores and validates the foreign keys set aside, one transaction each; a key that does not
/// validate stays recorded and its orphans are reported. Returns the keys restored.
pub async fn restore(control: &mut Client, run_id: i64) -> Result<BTreeSet<(String, String)>> {
    let rows = control
        .query(
            "SELECT table_name, constraint_name, definition FROM odoo_migrate.deferred_constraints \
             WHERE run_id = $1 ORDER BY table_name, constraint_name",
            &[&run_id],
        )
        .await?;
    let mut restored = BTreeSet::new();
    let mut invalid = Vec::new();
    for row in &rows {
        let table: String = row.get(0);
        let name: String = row.get(1);
        let definition: String = row.get(2);
        let transaction = control.transaction().await?;
        let result = transaction
            .batch_execute(&format!(
                "ALTER TABLE public.{table} ADD CONSTRAINT {name} {definition} NOT VALID; \
                 ALTER TABLE public.{table} VALIDATE CONSTRAINT {name};",
                table = quote_ident(&table),
                name = quote_ident(&name),
            ))
            .await;
        match result {
            Ok(()) => {
                transaction
                    .execute(
                        "DELETE FROM odoo_migrate.deferred_constraints WHERE table_name = $1 AND constraint_name = $2",
                        &[&table, &name],
                    )
                    .await?;
                transaction.commit().await?;
                fault::point("after_foreign_key_restored");
                restored.insert((table, name));
            }
            Err(error) => {
                transaction.rollback().await?;
                let detail = error.as_db_error().map_or_else(
                    || error.to_string(),
                    |db| {
                        format!(
                            "{}{}",
                            db.message(),
                            db.detail().map_or(String::new(), |d| format!(" ({d})"))
                        )
                    },
                );
                invalid.push(format!("{table}.{name}: {detail}"));
            }
        }
    }
    if !invalid.is_empty() {
        return Err(anyhow::anyhow!(
            "{} foreign key(s) do not hold after the copy; the target has rows pointing at missing rows:\n  {}",
            invalid.len(),
            invalid.join("\n  ")
        ));
    }
    Ok(restored)
}

/// Counts, for each key, the rows that point at no row (`MATCH SIMPLE`: a row with a NULL in the
/// key holds). One query per table checks all its keys in one scan; `jobs` tables at a time on
/// connections of `pool`.
pub async fn find_orphans(
    pool: &deadpool_postgres::Pool,
    keys: Vec<ForeignKey>,
    jobs: usize,
) -> Result<Vec<Orphans>> {
    let mut by_table: Vec<Vec<ForeignKey>> = Vec::new();
    for key in keys {
        match by_table.last_mut() {
            Some(group) if group[0].table == key.table => group.push(key),
            _ => by_table.push(vec![key]),
        }
    }
    let checks = futures::stream::iter(by_table.into_iter().map(|keys| async move {
        let client = pool.get().await?;
        let row = client
            .query_one(orphan_query(&keys).as_str(), &[])
            .await
            .with_context(|| format!("cannot check the foreign keys of {}", keys[0].table))?;
        let mut found = Vec::new();
        for (index, key) in keys.into_iter().enumerate() {
            let count: i64 = row.get(2 * index);
            if count > 0 {
                let samples: Vec<String> = row
                    .get::<_, Option<Vec<String>>>(2 * index + 1)
                    .unwrap_or_default();
                found.push(Orphans {
                    key,
                    count,
                    samples,
                });
            }
        }
        anyhow::Ok(found)
    }))
    .buffer_unordered(jobs.max(1))
    .collect::<Vec<_>>()
    .await;
    let mut orphans = Vec::new();
    for check in checks {
        orphans.extend(check?);
    }
    orphans.sort_by(|a, b| (&a.key.table, &a.key.name).cmp(&(&b.key.table, &b.key.name)));
    Ok(orphans)
}

/// Refreshes the planner statistics of the tables, `jobs` at a time.
async fn analyze(pool: &deadpool_postgres::Pool, tables: &[String], jobs: usize) -> Result<()> {
    let results = futures::stream::iter(tables.iter().map(|table| async move {
        let client = pool.get().await?;
        client
            .batch_execute(&format!("ANALYZE public.{}", quote_ident(table)))
            .await
            .with_context(|| format!("cannot analyze {table}"))
    }))
    .buffer_unordered(jobs.max(1))
    .collect::<Vec<_>>()
    .await;
    results.into_iter().collect()
}

/// One scan of a table joined to every table its keys reference (each on a unique key, so rows
/// are not multiplied): per key, the count of orphans and up to five of their key values.
fn orphan_query(keys: &[ForeignKey]) -> String {
    let mut outputs = Vec::new();
    let mut joins = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let alias = format!("p{index}");
        let matches: Vec<String> = key
            .columns
            .iter()
            .zip(&key.referenced_columns)
            .map(|(c, r)| format!("{alias}.{} = c.{}", quote_ident(r), quote_ident(c)))
            .collect();
        joins.push(format!(
            "LEFT JOIN {} {alias} ON {}",
            key.referenced_relation,
            matches.join(" AND ")
        ));
        let mut orphan: Vec<String> = key
            .columns
            .iter()
            .map(|c| format!("c.{} IS NOT NULL", quote_ident(c)))
            .collect();
        if let Some(first) = key.referenced_columns.first() {
            orphan.push(format!("{alias}.{} IS NULL", quote_ident(first)));
        }
        let sample: Vec<String> = key
            .columns
            .iter()
            .map(|c| format!("c.{}::text", quote_ident(c)))
            .collect();
        let orphan = orphan.join(" AND ");
        outputs.push(format!("count(*) FILTER (WHERE {orphan})"));
        outputs.push(format!(
            "(array_agg(concat_ws(',', {})) FILTER (WHERE {orphan}))[1:5]",
            sample.join(", ")
        ));
    }
    format!(
        "SELECT {} FROM public.{} c {}",
        outputs.join(", "),
        quote_ident(&keys[0].table),
        joins.join(" ")
    )
}

/// After a copy made with foreign key triggers off: proves every key of the written tables that is
/// in force (not in `except`). The tables not yet `analyzed` are analyzed first, so that the
/// checks (and Odoo afterwards) are planned on their real sizes. A key with orphans is set aside
/// and recorded, so that the target's state says it does not hold, and the run fails naming the
/// rows.
pub async fn prove_in_force(
    control: &Client,
    pool: &deadpool_postgres::Pool,
    tables: &[String],
    analyzed: &BTreeSet<String>,
    except: &BTreeSet<(String, String)>,
    run_id: i64,
    jobs: usize,
) -> Result<()> {
    let keys: Vec<ForeignKey> = keys_of(control, tables)
        .await?
        .into_iter()
        .filter(|k| !except.contains(&(k.table.clone(), k.name.clone())))
        .collect();
    let checked = keys.len();
    let started = std::time::Instant::now();
    let stale: Vec<String> = tables
        .iter()
        .filter(|t| !analyzed.contains(*t))
        .cloned()
        .collect();
    analyze(pool, &stale, jobs).await?;
    let analyzed = started.elapsed();
    let orphans = find_orphans(pool, keys, jobs).await?;
    tracing::info!(
        checked,
        failing = orphans.len(),
        analyze_ms = analyzed.as_millis() as u64,
        check_ms = (started.elapsed() - analyzed).as_millis() as u64,
        "foreign keys checked against the copied rows"
    );
    fault::point("after_foreign_keys_checked");
    if orphans.is_empty() {
        return Ok(());
    }
    for orphan in &orphans {
        record_and_drop(control, &orphan.key, run_id).await?;
    }
    let lines: Vec<String> = orphans.iter().map(Orphans::describe).collect();
    Err(anyhow::anyhow!(
        "{} foreign key(s) do not hold after the copy; they are set aside until the rows are fixed \
         (`odoo-migrate rollback`, or a rule, then run again):\n  {}",
        orphans.len(),
        lines.join("\n  ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_orphan_query_quotes_every_name_and_keeps_null_keys_valid() {
        let key = ForeignKey {
            table: "x_Odd \"table\"".to_string(),
            name: "k".to_string(),
            referenced_relation: "public.res_partner".to_string(),
            columns: vec!["Partner Id".to_string(), "company_id".to_string()],
            referenced_columns: vec!["id".to_string(), "company_id".to_string()],
            definition: String::new(),
        };
        let sql = orphan_query(&[key]);
        assert!(
            sql.contains("FROM public.\"x_Odd \"\"table\"\"\" c"),
            "{sql}"
        );
        assert!(
            sql.contains("LEFT JOIN public.res_partner p0 ON p0.\"id\" = c.\"Partner Id\" AND p0.\"company_id\" = c.\"company_id\""),
            "{sql}"
        );
        assert!(
            sql.contains("c.\"Partner Id\" IS NOT NULL AND c.\"company_id\" IS NOT NULL AND p0.\"id\" IS NULL"),
            "{sql}"
        );
    }
}
