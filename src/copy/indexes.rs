//! Secondary indexes of the tables a run fills in bulk: dropped before the load and built again
//! after it. One build over the loaded rows costs far less than maintaining an index row by row,
//! above all Odoo's trigram (GIN) indexes on names, emails and phones.
//!
//! Only indexes that nothing depends on are set aside: never a primary key, a unique index (they
//! keep rows unique and serve the matching by natural key) or an index behind a constraint. Each
//! definition is committed in `odoo_migrate.deferred_indexes` together with its drop, and deleted
//! once the index exists again, so that an interrupted run, its resumption and a rollback all
//! find what is missing. This module changes secondary indexes and their records only, never a
//! row or a constraint.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use futures::StreamExt;
use tokio_postgres::{Client, GenericClient};

use crate::catalog::quote_ident;
use crate::io::fault;

const SECONDARY_INDEXES: &str = include_str!("../../sql/indexes/secondary.sql");

/// Memory for each index build: a GIN index built in too little memory spills to disk in many
/// passes; builds run `jobs` at a time, so the server may need `jobs` times this.
const BUILD_MEMORY: &str = "128MB";

/// An index set aside, with the statement that builds it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    pub table: String,
    pub name: String,
    pub definition: String,
}

impl Deferred {
    /// From a row of (table, index name, definition).
    fn from_row(row: &tokio_postgres::Row) -> Deferred {
        Deferred {
            table: row.get(0),
            name: row.get(1),
            definition: row.get(2),
        }
    }
}

/// The tables that receive at least `threshold` rows; `rows` lists the rows each plan brings to
/// its target table (several plans may fill one table). A threshold of 0 keeps every index.
pub fn bulk_tables<'a>(
    rows: impl IntoIterator<Item = (&'a str, i64)>,
    threshold: u64,
) -> Vec<String> {
    if threshold == 0 {
        return Vec::new();
    }
    let mut per_table: BTreeMap<&str, i64> = BTreeMap::new();
    for (table, count) in rows {
        *per_table.entry(table).or_default() += count.max(0);
    }
    per_table
        .into_iter()
        .filter(|(_, count)| *count as u64 >= threshold)
        .map(|(table, _)| table.to_string())
        .collect()
}

/// Drops the secondary indexes of `tables`, one transaction per table, each drop committed with
/// its record. Indexes already set aside by an interrupted attempt are not there to be found and
/// stay recorded. Returns how many were dropped now.
pub async fn set_aside(control: &mut Client, tables: &[String], run_id: i64) -> Result<usize> {
    if tables.is_empty() {
        return Ok(0);
    }
    let found: Vec<Deferred> = control
        .query(SECONDARY_INDEXES, &[&tables])
        .await
        .context("cannot read the indexes of the target tables")?
        .iter()
        .map(Deferred::from_row)
        .collect();
    for indexes in found.chunk_by(|a, b| a.table == b.table) {
        let transaction = control.transaction().await?;
        for index in indexes {
            record_and_drop(&transaction, index, run_id).await?;
        }
        transaction
            .commit()
            .await
            .with_context(|| format!("cannot set aside the indexes of {}", indexes[0].table))?;
        fault::point("after_indexes_set_aside");
    }
    if !found.is_empty() {
        tracing::info!(
            indexes = found.len(),
            tables = tables.len(),
            "secondary indexes set aside for the load"
        );
    }
    Ok(found.len())
}

/// Records one index's definition in the side schema and drops it, in the caller's transaction.
async fn record_and_drop(client: &impl GenericClient, index: &Deferred, run_id: i64) -> Result<()> {
    client
        .execute(
            "INSERT INTO odoo_migrate.deferred_indexes (run_id, table_name, index_name, definition) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&run_id, &index.table, &index.name, &index.definition],
        )
        .await?;
    client
        .batch_execute(&format!("DROP INDEX public.{}", quote_ident(&index.name)))
        .await
        .with_context(|| format!("cannot set aside index {} of {}", index.name, index.table))
}

/// The indexes of `run_id` still set aside.
pub async fn deferred(client: &impl GenericClient, run_id: i64) -> Result<Vec<Deferred>> {
    Ok(client
        .query(
            "SELECT table_name, index_name, definition FROM odoo_migrate.deferred_indexes \
             WHERE run_id = $1 ORDER BY table_name, index_name",
            &[&run_id],
        )
        .await
        .context("cannot read odoo_migrate.deferred_indexes")?
        .iter()
        .map(Deferred::from_row)
        .collect())
}

/// Builds one index set aside, unless it exists already (an attempt cut off after the build),
/// then forgets its record.
async fn build(client: &impl GenericClient, index: &Deferred) -> Result<()> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass(format('public.%I', $1::text)) IS NOT NULL",
            &[&index.name],
        )
        .await?
        .get(0);
    if !exists {
        client
            .batch_execute(&format!(
                "SET maintenance_work_mem = '{BUILD_MEMORY}'; {}",
                index.definition
            ))
            .await
            .with_context(|| {
                format!(
                    "cannot build index {} of {} again ({}); the next `odoo-migrate run` or \
                     `odoo-migrate rollback` tries again",
                    index.name, index.table, index.definition
                )
            })?;
    }
    fault::point("after_index_built");
    client
        .execute(
            "DELETE FROM odoo_migrate.deferred_indexes WHERE table_name = $1 AND index_name = $2",
            &[&index.table, &index.name],
        )
        .await?;
    Ok(())
}

/// Builds again every index of `run_id` set aside, `jobs` at a time on connections of `pool`
/// (builds on one table share its lock). Returns how many were built.
pub async fn rebuild(
    pool: &deadpool_postgres::Pool,
    control: &Client,
    run_id: i64,
    jobs: usize,
) -> Result<usize> {
    let indexes = deferred(control, run_id).await?;
    let results = futures::stream::iter(indexes.iter().map(|index| async move {
        let client = pool.get().await?;
        build(&**client, index).await
    }))
    .buffer_unordered(jobs.max(1))
    .collect::<Vec<_>>()
    .await;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    if !indexes.is_empty() {
        tracing::info!(indexes = indexes.len(), "secondary indexes built again");
    }
    Ok(indexes.len())
}

/// Builds again the indexes of `table` set aside by `run_id`, on one connection.
pub async fn rebuild_table(client: &impl GenericClient, run_id: i64, table: &str) -> Result<()> {
    let indexes: Vec<Deferred> = client
        .query(
            "SELECT table_name, index_name, definition FROM odoo_migrate.deferred_indexes \
             WHERE run_id = $1 AND table_name = $2 ORDER BY index_name",
            &[&run_id, &table],
        )
        .await
        .with_context(|| format!("cannot read the indexes of {table} set aside"))?
        .iter()
        .map(Deferred::from_row)
        .collect();
    for index in &indexes {
        build(client, index).await?;
    }
    Ok(())
}

/// [`rebuild`] on one connection, for commands that hold a single one.
pub async fn rebuild_on(client: &Client, run_id: i64) -> Result<usize> {
    let indexes = deferred(client, run_id).await?;
    for index in &indexes {
        build(client, index).await?;
    }
    Ok(indexes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tables_receiving_enough_rows_lose_their_indexes() {
        let rows = [
            ("mail_message", 40_000),
            ("res_partner", 6_000),
            ("res_partner", 6_000),
            ("res_country", 250),
            ("odd", -1),
        ];
        assert_eq!(
            bulk_tables(rows, 10_000),
            vec!["mail_message".to_string(), "res_partner".to_string()]
        );
        assert_eq!(bulk_tables(rows, 0), Vec::<String>::new());
        assert_eq!(bulk_tables(rows, 1).len(), 3);
    }
}
