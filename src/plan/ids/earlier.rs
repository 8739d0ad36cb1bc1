//! A catch-up's planning (`run --catch-up`) starts from the plans of the runs before it: every
//! source record they mapped and that the newer snapshot still has keeps its target record (and
//! that record is nobody else's counterpart), so that only records new in the source are matched
//! or given new ids; the records they mapped that the source no longer has are listed as vanished,
//! for the catch-up to delete or unmap. Reads the side schema only.

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, Result};
use tokio_postgres::Transaction;

use super::Planning;
use super::map::How;

/// A record an earlier run mapped whose source record is gone from the newer snapshot.
#[derive(Debug, Clone)]
pub struct Vanished {
    pub model: String,
    pub source_id: i32,
    pub target_id: i32,
    pub how: How,
    /// The run whose plan mapped it.
    pub run_id: i64,
}

/// The earlier plans' records, per model: (source id, target id, how, run), in source id order.
#[derive(Default)]
pub(super) struct Earlier {
    records: BTreeMap<String, Vec<(i32, i32, How, i64)>>,
}

impl Earlier {
    /// Whether earlier plans were read (a catch-up's planning).
    pub(super) fn is_some(&self) -> bool {
        !self.records.is_empty()
    }

    /// Whether the earlier plans mapped this source record.
    pub(super) fn knows(&self, model: &str, source_id: i32) -> bool {
        self.records.get(model).is_some_and(|records| {
            records
                .binary_search_by_key(&source_id, |&(id, ..)| id)
                .is_ok()
        })
    }
}

/// Reads the plans of the runs before `run_id` (rolled back runs have none left): one row of
/// arrays per model, far cheaper to read than a row per record.
pub(super) async fn read(transaction: &Transaction<'_>, run_id: i64) -> Result<Earlier> {
    let mut earlier = Earlier::default();
    for row in transaction
        .query(
            // The four arrays list one group's rows in the same order; sorted below.
            "SELECT model, array_agg(source_id), array_agg(target_id), array_agg(how), array_agg(run_id) \
             FROM odoo_migrate.id_plan WHERE run_id <> $1 GROUP BY model",
            &[&run_id],
        )
        .await
        .context("cannot read the id plans of the earlier runs")?
    {
        let model: String = row.get(0);
        let (sources, targets, hows, runs): (Vec<i32>, Vec<i32>, Vec<String>, Vec<i64>) =
            (row.get(1), row.get(2), row.get(3), row.get(4));
        let mut records: Vec<(i32, i32, How, i64)> = sources
            .into_iter()
            .zip(targets)
            .zip(hows.iter().zip(runs))
            .filter_map(|((source, target), (how, run))| {
                Some((source, target, How::parse(how)?, run))
            })
            .collect();
        records.sort_unstable_by_key(|&(id, ..)| id);
        earlier.records.insert(model, records);
    }
    Ok(earlier)
}

/// Puts the earlier mappings of records the source still has into `planning` (their target
/// records taken), and returns the others, vanished from the source.
pub(super) fn seed(planning: &mut Planning, earlier: &Earlier) -> Vec<Vanished> {
    let mut vanished = Vec::new();
    for (model, records) in &earlier.records {
        let Some(ids) = planning.source_ids.get(model) else {
            continue;
        };
        let taken: &mut HashSet<i32> = planning.taken.entry(model.clone()).or_default();
        let map = planning.mappings.entry(model);
        for &(source_id, target_id, how, run_id) in records {
            if ids.binary_search(&source_id).is_ok() {
                map.insert(source_id, target_id, how);
                taken.insert(target_id);
            } else {
                vanished.push(Vanished {
                    model: model.clone(),
                    source_id,
                    target_id,
                    how,
                    run_id,
                });
            }
        }
    }
    vanished
}
