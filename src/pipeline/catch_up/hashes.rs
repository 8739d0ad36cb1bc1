//! What a catch-up reads again: every run keeps, per source table, a hash of each row as the
//! table's plan selects it (joined values included; a many2many table: one hash of all its
//! pairs), in `odoo_migrate.source_row_hashes`. A catch-up hashes the newer snapshot the same way
//! on the source server, compares with the last finished run's hashes, and reads again only the
//! rows that are new or whose values differ; a table whose hashes all agree is not read at all.
//! Values decide, never `write_date`. The hashes of the newer snapshot are kept for the next sync.
//!
//! A row is hashed by PostgreSQL's `hash_record_extended`: each column by its type's own hash
//! function, without converting the row to text (two to three times cheaper than hashing its
//! text). A table with a column type that has no hash function is hashed through its text. Each
//! table's hashes are kept with their method and the source server's major version: hashes made
//! otherwise are not compared, the table is read again whole.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures::{StreamExt, pin_mut};
use tokio_postgres::Client;

use crate::catalog::session::Session;
use crate::plan::tables::{Reread, TablePlan};
use crate::rules::pairing::TableKind;

/// Above this share of a table's rows differing, the whole table is read (one plain scan costs
/// less than a long list of ids).
pub(super) const MOST_ROWS: f64 = 0.3;

/// Per row (source id, or 0 for a many2many table's one hash), its hash.
type Hashes = HashMap<i32, u64>;

/// How a row is hashed (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// `hash_record_extended` of the row.
    Record,
    /// `hashtextextended` of the row's text: a column type without a hash function.
    Text,
}

impl Method {
    /// The name kept with the hashes: the method and the source server's major version (hash
    /// functions may change between major versions).
    fn name(self, server_major: i32) -> String {
        match self {
            Method::Record => format!("record/{server_major}"),
            Method::Text => format!("text/{server_major}"),
        }
    }
}

/// The source server's major version (15 for 15.4).
async fn server_major(source: &Client) -> Result<i32> {
    Ok(source
        .query_one(
            "SELECT current_setting('server_version_num')::int / 10000",
            &[],
        )
        .await
        .context("cannot read the source server's version")?
        .get(0))
}

/// Whether `plan` reads only its own source row: no join, no expression reading another table.
pub(super) fn reads_own_row_only(plan: &TablePlan) -> bool {
    plan.joins.is_empty()
        && !plan
            .select
            .iter()
            .any(|e| e.to_ascii_lowercase().contains("select"))
}

/// The statement hashing the source rows of `plan` as it selects them: the row itself where the
/// plan reads nothing else (cheaper than evaluating its expressions), else what it selects. A
/// many2many table's hash is the sum of its pairs' hashes (modulo 2^64), in any order.
fn hash_sql(plan: &TablePlan, method: Method) -> String {
    let row = if reads_own_row_only(plan) {
        "s".to_string()
    } else {
        format!("ROW({})", plan.select.join(", "))
    };
    let hash = match method {
        Method::Record => format!("hash_record_extended({row}, 0)"),
        Method::Text => format!("hashtextextended(({row})::text, 0)"),
    };
    let filter = plan
        .filter
        .as_ref()
        .map_or(String::new(), |f| format!(" WHERE {f}"));
    match plan.kind {
        TableKind::Model => format!(
            "COPY (SELECT s.id, {hash} FROM {}{filter}) TO STDOUT",
            plan.source_from()
        ),
        TableKind::Relation => format!(
            "COPY (SELECT 0, ((coalesce(sum(h), 0) % 18446744073709551616 + 18446744073709551616) \
             % 18446744073709551616)::numeric(20, 0) FROM (SELECT {hash}::numeric AS h FROM {}{filter}) x) TO STDOUT",
            plan.source_from()
        ),
    }
}

/// The source's hashes of `plan`'s rows, now (`id \t hash` lines of a text COPY), with the
/// method that made them: by record, or by text where a column's type has no hash function.
async fn source_hashes(source: &Client, plan: &TablePlan) -> Result<(Hashes, Method)> {
    match read_hashes(source, plan, Method::Record).await {
        Ok(hashes) => Ok((hashes, Method::Record)),
        Err(error)
            if error
                .downcast_ref::<tokio_postgres::Error>()
                .and_then(|e| e.code())
                == Some(&tokio_postgres::error::SqlState::UNDEFINED_FUNCTION) =>
        {
            Ok((read_hashes(source, plan, Method::Text).await?, Method::Text))
        }
        Err(error) => Err(error)
            .with_context(|| format!("cannot hash the rows of source table {}", plan.source_table)),
    }
}

/// One hashing statement's rows, parsed (a signed 64-bit hash read as its bits).
async fn read_hashes(source: &Client, plan: &TablePlan, method: Method) -> Result<Hashes> {
    let stream = source.copy_out(&hash_sql(plan, method)).await?;
    pin_mut!(stream);
    let mut text = Vec::new();
    while let Some(chunk) = stream.next().await {
        text.extend_from_slice(&chunk?);
    }
    let mut hashes = Hashes::new();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = std::str::from_utf8(line)?;
        let (id, hash) = line
            .split_once('\t')
            .with_context(|| format!("a row hash without its id: {line}"))?;
        let hash = match hash.parse::<i64>() {
            Ok(signed) => signed as u64,
            Err(_) => hash
                .parse::<u64>()
                .with_context(|| format!("not a hash: {hash}"))?,
        };
        hashes.insert(id.parse()?, hash);
    }
    Ok(hashes)
}

/// The run the hashes of a catch-up are compared with: the newest finished run before `run_id`.
/// Only its hashes count: an older run's would not say what the target holds now.
pub(super) const LAST_FINISHED: &str = "(SELECT max(id) FROM odoo_migrate.runs WHERE command = 'run' \
     AND status = 'finished' AND id <> $2)";

/// The hashes the last finished run before `run_id` kept for `plan`'s table when it made them
/// with `method` (else none: the table is read again whole).
async fn last_sync_hashes(
    target: &Client,
    plan: &TablePlan,
    run_id: i64,
    method: &str,
) -> Result<Hashes> {
    let row = target
        .query_opt(
            &format!(
                "SELECT h.ids, h.hashes FROM odoo_migrate.source_row_hashes h \
                 WHERE h.source_table = $1 AND h.run_id = {LAST_FINISHED} AND h.method = $3"
            ),
            &[&plan.key, &run_id, &method],
        )
        .await
        .with_context(|| {
            format!(
                "cannot read the row hashes of {} kept by the last sync",
                plan.key
            )
        })?;
    Ok(row.map(|row| kept(&row)).unwrap_or_default())
}

/// The hashes of a row of `source_row_hashes` (its `ids` and `hashes`, in that order).
fn kept(row: &tokio_postgres::Row) -> Hashes {
    let (ids, bytes): (Vec<i32>, Vec<u8>) = (row.get(0), row.get(1));
    ids.into_iter()
        .zip(bytes.chunks_exact(8))
        .map(|(id, hash)| (id, u64::from_be_bytes(hash.try_into().unwrap_or_default())))
        .collect()
}

/// Whether every row of `plans` (but those `skip` names) hashes now as the finished run
/// `previous` hashed it, `jobs` tables at a time; false at the first table that differs or whose
/// hashes `previous` did not keep (made by another method, or not at all). Rows no run mapped
/// count as unchanged here: the same rows would be rejected or left out again.
pub(crate) async fn rows_unchanged(
    session: &Session,
    plans: &[TablePlan],
    previous: i64,
    jobs: usize,
    skip: impl Fn(&TablePlan) -> bool,
) -> Result<bool> {
    let major = server_major(&*session.source.get().await?).await?;
    let same = |plan: &TablePlan| {
        let plan = plan.clone();
        async move {
            let (now, method) = {
                let source = session.source.get().await?;
                source_hashes(&source, &plan).await?
            };
            let target = session.target.get().await?;
            let kept = kept_hashes(&target, &plan.key, previous, &method.name(major)).await?;
            anyhow::Ok(kept.is_some_and(|then| then == now))
        }
    };
    let compared = futures::stream::iter(plans.iter().filter(|p| !skip(p)))
        .map(same)
        .buffer_unordered(jobs.max(1));
    pin_mut!(compared);
    while let Some(same) = compared.next().await {
        if !same? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The hashes run `run_id` kept for the source table named `key` when it made them with
/// `method` (`None` when it kept none so made).
async fn kept_hashes(
    target: &Client,
    key: &str,
    run_id: i64,
    method: &str,
) -> Result<Option<Hashes>> {
    let row = target
        .query_opt(
            "SELECT ids, hashes FROM odoo_migrate.source_row_hashes \
             WHERE source_table = $1 AND run_id = $2 AND method = $3",
            &[&key, &run_id, &method],
        )
        .await
        .with_context(|| format!("cannot read the row hashes of {key} kept by run {run_id}"))?;
    Ok(row.as_ref().map(kept))
}

/// The source ids the last finished run before `run_id` hashed for `plan`'s table and that the
/// mappings do not know (rows it rejected or left out), found on the target server.
async fn unmapped(target: &Client, plan: &TablePlan, run_id: i64) -> Result<Vec<i32>> {
    Ok(target
        .query(
            &format!(
                "SELECT i FROM unnest((SELECT h.ids FROM odoo_migrate.source_row_hashes h \
                 WHERE h.source_table = $1 AND h.run_id = {LAST_FINISHED})) i \
                 EXCEPT SELECT source_id FROM odoo_migrate.id_map WHERE model = $3"
            ),
            &[&plan.key, &run_id, &plan.model],
        )
        .await
        .with_context(|| format!("cannot read the mappings of {}", plan.model))?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Keeps `hashes`, made by `method`, as the run's hashes of the table named `source_table`
/// (those of an interrupted attempt replaced).
async fn store_as(
    target: &Client,
    source_table: &str,
    hashes: &Hashes,
    run_id: i64,
    method: &str,
) -> Result<()> {
    let mut rows: Vec<(i32, u64)> = hashes.iter().map(|(id, hash)| (*id, *hash)).collect();
    rows.sort_unstable();
    let ids: Vec<i32> = rows.iter().map(|(id, _)| *id).collect();
    let bytes: Vec<u8> = rows.iter().flat_map(|(_, h)| h.to_be_bytes()).collect();
    target
        .execute(
            "INSERT INTO odoo_migrate.source_row_hashes (run_id, source_table, ids, hashes, method) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id, source_table) \
             DO UPDATE SET ids = EXCLUDED.ids, hashes = EXCLUDED.hashes, method = EXCLUDED.method",
            &[&run_id, &source_table, &ids, &bytes, &method],
        )
        .await
        .with_context(|| format!("cannot keep the row hashes of {source_table}"))?;
    Ok(())
}

/// Source tables that no plan copies but whose changes a catch-up carries (external ids, company
/// defaults): one digest each, to tell whether a snapshot has anything new.
const WHOLE_TABLES: [&str; 2] = ["ir_model_data", "ir_property"];

/// The name a whole table's digest is kept under.
fn whole_name(table: &str) -> String {
    format!("{table} (whole)")
}

/// The digest of a whole source table (`None` when the source has no such table).
async fn whole_digest(source: &Client, table: &str) -> Result<Option<u64>> {
    let exists: bool = source
        .query_one(
            "SELECT to_regclass(format('public.%I', $1::text)) IS NOT NULL",
            &[&table],
        )
        .await?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let hex: String = source
        .query_one(
            &format!(
                "SELECT left(md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')), 16) FROM public.{} t",
                crate::catalog::quote_ident(table)
            ),
            &[],
        )
        .await
        .with_context(|| format!("cannot digest the source's {table}"))?
        .get(0);
    Ok(Some(u64::from_str_radix(&hex, 16)?))
}

/// Keeps the digests of the [`WHOLE_TABLES`] for the run.
pub(crate) async fn store_whole_tables(session: &Session, run_id: i64) -> Result<()> {
    let source = session.source.get().await?;
    let target = session.target.get().await?;
    for table in WHOLE_TABLES {
        if let Some(digest) = whole_digest(&source, table).await? {
            store_as(
                &target,
                &whole_name(table),
                &Hashes::from([(0, digest)]),
                run_id,
                "md5",
            )
            .await?;
        }
    }
    Ok(())
}

/// Whether the source's external ids or company defaults differ from what run `run_id` kept
/// (false when it kept nothing to compare with).
pub(crate) async fn whole_tables_changed(session: &Session, run_id: i64) -> Result<bool> {
    let source = session.source.get().await?;
    let target = session.target.get().await?;
    for table in WHOLE_TABLES {
        let kept = target
            .query_opt(
                "SELECT hashes FROM odoo_migrate.source_row_hashes WHERE run_id = $1 AND source_table = $2",
                &[&run_id, &whole_name(table)],
            )
            .await
            .context("cannot read the digests the last sync kept")?;
        let Some(kept) = kept else {
            continue;
        };
        let kept: Vec<u8> = kept.get(0);
        let now = whole_digest(&source, table).await?.map(u64::to_be_bytes);
        if now.as_ref().map(|n| n.as_slice()) != Some(kept.as_slice()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What to read again of a table whose rows hash to `now`, given the last sync's `then`.
fn reread(kind: TableKind, now: &Hashes, then: &Hashes) -> Reread {
    if then.is_empty() && !now.is_empty() {
        return Reread::All;
    }
    let mut differing: Vec<i32> = now
        .iter()
        .filter(|(id, hash)| then.get(id) != Some(hash))
        .map(|(id, _)| *id)
        .collect();
    if differing.is_empty() {
        return Reread::Nothing;
    }
    if kind == TableKind::Relation || differing.len() as f64 > MOST_ROWS * now.len() as f64 {
        return Reread::All;
    }
    differing.sort_unstable();
    Reread::Only(Arc::new(differing))
}

/// Hashes one table's rows on the source and keeps them in the run; with `compare`, also says
/// what to read again against the last sync.
async fn hash_table(
    session: &Session,
    plan: &TablePlan,
    run_id: i64,
    compare: bool,
    server_major: i32,
) -> Result<Option<(Reread, usize)>> {
    let started = std::time::Instant::now();
    let (now, method) = {
        let source = session.source.get().await?;
        source_hashes(&source, plan).await?
    };
    let method = method.name(server_major);
    let hashed = started.elapsed();
    let target = session.target.get().await?;
    let decided = if compare {
        let mut then = last_sync_hashes(&target, plan, run_id, &method).await?;
        // Rows no earlier run mapped (rejected, left out) are read again, to be counted and
        // reported by this run as by a fresh one.
        if plan.kind == TableKind::Model && !then.is_empty() {
            for id in unmapped(&target, plan, run_id).await? {
                then.remove(&id);
            }
        }
        Some((reread(plan.kind, &now, &then), now.len()))
    } else {
        None
    };
    store_as(&target, &plan.key, &now, run_id, &method).await?;
    tracing::debug!(
        table = plan.key,
        rows = now.len(),
        hashed_ms = hashed.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "source rows hashed"
    );
    Ok(decided)
}

/// A catch-up's plans told what to read again (see the module's doc), `jobs` tables at a time;
/// the newer snapshot's hashes are kept for the next sync. With `write_date_margin`, the tables
/// where `write_date` can be trusted are narrowed by it instead ([`super::written`]). Returns
/// (tables not read, rows read again) for the log.
pub(crate) async fn narrow(
    session: &Session,
    plans: &mut [TablePlan],
    run_id: i64,
    jobs: usize,
    write_date_margin: Option<u32>,
) -> Result<(usize, usize)> {
    let major = server_major(&*session.source.get().await?).await?;
    let decide = |plan: &TablePlan| {
        let plan = plan.clone();
        async move {
            if let Some(margin) = write_date_margin
                && super::written::trusted(session, &plan)
                && let Some(decided) =
                    super::written::reread(session, &plan, run_id, margin).await?
            {
                return Ok(Some(decided));
            }
            hash_table(session, &plan, run_id, true, major).await
        }
    };
    let decisions: Vec<Result<Option<(Reread, usize)>>> = futures::stream::iter(plans.iter())
        .map(decide)
        .buffered(jobs.max(1))
        .collect()
        .await;
    store_whole_tables(session, run_id).await?;
    let (mut skipped, mut reread_rows) = (0, 0);
    for (plan, decided) in plans.iter_mut().zip(decisions) {
        let Some((decided, rows)) = decided? else {
            continue;
        };
        match &decided {
            Reread::Nothing => skipped += 1,
            Reread::Only(ids) => reread_rows += ids.len(),
            Reread::All => reread_rows += rows,
        }
        if let Some(catch_up) = plan.catch_up.as_mut() {
            catch_up.reread = decided;
        }
    }
    Ok((skipped, reread_rows))
}

/// A run's hashes of every table it copied, `jobs` tables at a time, for the next catch-up.
pub(crate) async fn record_hashes(
    session: &Session,
    plans: &[TablePlan],
    run_id: i64,
    jobs: usize,
) -> Result<()> {
    let major = server_major(&*session.source.get().await?).await?;
    let results: Vec<Result<Option<(Reread, usize)>>> = futures::stream::iter(plans.iter())
        .map(|plan| hash_table(session, plan, run_id, false, major))
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    for result in results {
        result?;
    }
    store_whole_tables(session, run_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(rows: &[(i32, u64)]) -> Hashes {
        rows.iter().copied().collect()
    }

    #[test]
    fn only_new_and_differing_rows_are_read_again() {
        let then = hashes(&[
            (1, 10),
            (2, 20),
            (3, 30),
            (4, 40),
            (5, 50),
            (6, 60),
            (7, 70),
        ]);
        let now = hashes(&[
            (1, 10),
            (2, 21),
            (3, 30),
            (4, 40),
            (5, 50),
            (6, 60),
            (8, 80),
        ]);
        match reread(TableKind::Model, &now, &then) {
            Reread::Only(ids) => assert_eq!(*ids, vec![2, 8]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            reread(TableKind::Model, &then, &then),
            Reread::Nothing
        ));
        assert!(matches!(
            reread(TableKind::Model, &now, &Hashes::new()),
            Reread::All
        ));
        assert!(matches!(
            reread(TableKind::Relation, &hashes(&[(0, 1)]), &hashes(&[(0, 2)])),
            Reread::All
        ));
        let most = hashes(&[(1, 11), (2, 21), (3, 30)]);
        assert!(matches!(
            reread(TableKind::Model, &most, &then),
            Reread::All
        ));
    }
}
