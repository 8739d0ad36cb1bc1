//! The counts of a catch-up (`run --catch-up`), as its row of `odoo_migrate.syncs` keeps them and
//! as the run's last lines and `status` say them, in one wording. Records are rows of model tables
//! (one per Odoo record); many2many pairs are rows of relation tables, counted apart; a run's
//! "rows" are both.

use anyhow::{Context, Result};
use serde::Serialize;
use tokio_postgres::GenericClient;

/// One catch-up's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sync {
    pub source_database: String,
    /// The first characters of the snapshot's digest.
    pub snapshot: String,
    pub on_conflict: String,
    pub finished: bool,
    pub records_created: i64,
    pub records_updated: i64,
    pub records_deleted: i64,
    /// Deleted in the source but still referenced in the target: kept and reported.
    pub records_kept: i64,
    pub conflicts: i64,
    pub pairs_added: i64,
    pub pairs_removed: i64,
}

impl Sync {
    /// Reads the counts of the catch-up `run_id` (`None` when that run is no catch-up).
    pub async fn read(client: &impl GenericClient, run_id: i64) -> Result<Option<Sync>> {
        let row = client
            .query_opt(
                "SELECT s.source_database, coalesce(left(s.snapshot, 12), ''), s.on_conflict, s.finished_at IS NOT NULL, \
                 s.created, s.updated, s.deleted, s.still_referenced, s.conflicts, \
                 (SELECT coalesce(sum(rows_created), 0)::bigint FROM odoo_migrate.model_state \
                  WHERE run_id = $1 AND kind = 'relation'), \
                 (SELECT count(*) FROM odoo_migrate.removed_rows r WHERE r.run_id = $1 AND r.table_name IN \
                  (SELECT target_table FROM odoo_migrate.model_state WHERE run_id = $1 AND kind = 'relation')) \
                 FROM odoo_migrate.syncs s WHERE s.run_id = $1",
                &[&run_id],
            )
            .await
            .context("cannot read odoo_migrate.syncs")?;
        Ok(row.map(|r| Sync {
            source_database: r.get(0),
            snapshot: r.get(1),
            on_conflict: r.get(2),
            finished: r.get(3),
            records_created: r.get(4),
            records_updated: r.get(5),
            records_deleted: r.get(6),
            records_kept: r.get(7),
            conflicts: r.get(8),
            pairs_added: r.get(9),
            pairs_removed: r.get(10),
        }))
    }

    /// The line the catch-up ends with and `status` repeats.
    pub fn line(&self) -> String {
        format!(
            "Caught up with {} (snapshot {}): {} records created, {} updated, {} deleted; {} deleted in the source but \
             still referenced in the target (kept); {} many2many pairs added, {} removed; {} conflict(s) (--on-conflict {}).",
            self.source_database,
            self.snapshot,
            self.records_created,
            self.records_updated,
            self.records_deleted,
            self.records_kept,
            self.pairs_added,
            self.pairs_removed,
            self.conflicts,
            self.on_conflict
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_records_and_pairs_apart() {
        let sync = Sync {
            source_database: "flows".into(),
            snapshot: "abc".into(),
            on_conflict: "fail".into(),
            finished: true,
            records_created: 5,
            records_updated: 3,
            records_deleted: 2,
            records_kept: 1,
            conflicts: 0,
            pairs_added: 7,
            pairs_removed: 4,
        };
        assert_eq!(
            sync.line(),
            "Caught up with flows (snapshot abc): 5 records created, 3 updated, 2 deleted; 1 deleted in the source \
             but still referenced in the target (kept); 7 many2many pairs added, 4 removed; 0 conflict(s) (--on-conflict fail)."
        );
    }
}
