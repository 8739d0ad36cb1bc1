//! The id plan as persisted in `odoo_migrate.id_plan`: written once by the planning with a binary
//! COPY, loaded back into [`Mappings`] by every command that rewrites ids. Reads and writes the
//! side schema only.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use futures::{SinkExt, TryStreamExt};
use tokio_postgres::{GenericClient, Transaction};

use super::map::{How, Mappings};
use super::planned_pairs;
use crate::rules::Rules;
use crate::rules::pairing::TablePair;

/// Writes the plan of every planned model into `odoo_migrate.id_plan` with a binary COPY, a
/// megabyte at a time: no array of the whole plan is built. Only the source ids that `new` keeps
/// are written.
pub(super) async fn store_id_plan(
    transaction: &Transaction<'_>,
    planned: &[&TablePair],
    source_ids: &BTreeMap<String, Vec<i32>>,
    new: impl Fn(&str, i32) -> bool,
    mappings: &mut Mappings,
    run_id: i64,
) -> Result<()> {
    let sink = transaction
        .copy_in::<_, bytes::Bytes>(
            "COPY odoo_migrate.id_plan (model, source_id, target_id, how, run_id) FROM STDIN (FORMAT binary)",
        )
        .await?;
    futures::pin_mut!(sink);
    let mut writer = crate::io::codec::Writer::new();
    let run_id = run_id.to_be_bytes();
    for pair in planned {
        let model = pair.source_model.as_deref().unwrap_or_default();
        let map = mappings.entry(model);
        for &id in source_ids.get(model).map(Vec::as_slice).unwrap_or_default() {
            if !new(model, id) {
                continue;
            }
            if let (Some(target), Some(how)) = (map.get(id), map.how(id)) {
                writer.begin_tuple();
                writer.bytes(model.as_bytes());
                writer.int4(id);
                writer.int4(target);
                writer.bytes(how.as_str().as_bytes());
                writer.bytes(&run_id);
                writer.end_tuple();
                // Sent a megabyte at a time, within a model too: a model of millions of records
                // would otherwise be held whole (hundreds of megabytes).
                if writer.buffer.len() >= 1 << 20 {
                    sink.send(writer.take()).await?;
                }
            }
        }
    }
    writer.finish();
    sink.send(writer.take()).await?;
    sink.finish().await?;
    Ok(())
}

/// Loads a run's id plan into memory.
pub async fn load(
    client: &impl GenericClient,
    rules: &Rules,
    pairs: &[TablePair],
) -> Result<Mappings> {
    let mut mappings = Mappings::default();
    for row in client
        .query(
            "SELECT model, max(source_id), count(*) FROM odoo_migrate.id_plan GROUP BY model",
            &[],
        )
        .await
        .context("cannot size the id plan in odoo_migrate.id_plan")?
    {
        let records = usize::try_from(row.get::<_, i64>(2)).unwrap_or(0);
        mappings.entry(row.get(0)).reserve_for(row.get(1), records);
    }
    // Streamed: the plan is held in memory only as the dense maps, never as rows.
    let rows = client
        .query_raw(
            "SELECT model, source_id, target_id, how FROM odoo_migrate.id_plan ORDER BY model, source_id",
            std::iter::empty::<i32>(),
        )
        .await
        .context("cannot load the id plan from odoo_migrate.id_plan")?;
    futures::pin_mut!(rows);
    let mut current: Option<(String, usize)> = None;
    while let Some(row) = rows
        .try_next()
        .await
        .context("lost the target while loading the id plan")?
    {
        let model: &str = row.get(0);
        let index = match &current {
            Some((name, index)) if name == model => *index,
            _ => {
                mappings.entry(model);
                let index = mappings.index_of(model).unwrap_or_default();
                current = Some((model.to_string(), index));
                index
            }
        };
        let how: &str = row.get(3);
        let Some(how) = How::parse(how) else { continue };
        mappings.maps[index].insert(row.get(1), row.get(2), how);
    }
    for pair in planned_pairs(pairs) {
        let model = pair.source_model.as_deref().unwrap_or_default();
        mappings.entry(model);
        mappings.alias(rules.model_in_target(model), model);
    }
    for row in client
        .query(
            "SELECT model, source_id::int FROM odoo_migrate.problems WHERE kind = 'removed_in_target' \
             AND run_id IN (SELECT DISTINCT run_id FROM odoo_migrate.id_plan) \
             UNION ALL SELECT p.model, x.id::int FROM odoo_migrate.problems p, \
             jsonb_array_elements_text(p.detail -> 'left_out') AS x(id) \
             WHERE p.kind = 'record_of_unmigrated_model' AND p.detail ? 'left_out' \
             AND p.run_id IN (SELECT DISTINCT run_id FROM odoo_migrate.id_plan)",
            &[],
        )
        .await
        .context("cannot read the records left out (deleted by Odoo 19, or of models not migrated)")?
    {
        mappings
            .removed
            .entry(row.get(0))
            .or_default()
            .insert(row.get(1));
    }
    Ok(mappings)
}
