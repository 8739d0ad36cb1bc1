//! Id mapping: for every source record of every migrated model, the target id it gets — the record
//! found by external id, the record found by natural key, or a new id taken from the target's
//! sequence — decided once, before any row moves, and persisted in `odoo_migrate.id_plan`, so that
//! every reference can be rewritten in any order and a resumed run decides nothing twice.
//! Also loads the plan into dense in-memory arrays for the copy's hot path.
//!
//! This module runs the planning as its list of steps; each step lives in its own file. The
//! planning reads both databases and writes, in the caller's transaction, only the side schema
//! (`id_plan`, `xmlid_plan`, `problems`) and the target's id sequences, never a table of Odoo's.

mod allocate;
mod derived;
mod earlier;
mod map;
mod natural_keys;
mod orphans;
mod stored;
mod xmlids;

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, Result};
use tokio_postgres::{Client, Transaction};

use crate::catalog::{Catalog, quote_ident};
use crate::plan::tables::TablePlan;
use crate::rules::pairing::{TableKind, TablePair};
use crate::rules::{Policy, Rules};

pub use earlier::Vanished;
pub use map::{How, IdMap, Mappings};
pub use stored::load;

/// Counts of a planning, per model and in total.
#[derive(Debug, Default)]
pub struct PlanCounts {
    pub xmlid: usize,
    pub natural_key: usize,
    pub created: usize,
    pub unmatched: usize,
    /// A catch-up's planning: the records earlier runs mapped that the source no longer has.
    pub vanished: Vec<Vanished>,
}

/// Models whose ids are planned: model tables copied or matched.
pub fn planned_pairs(pairs: &[TablePair]) -> impl Iterator<Item = &TablePair> {
    pairs.iter().filter(|p| {
        p.kind == TableKind::Model
            && p.target_table.is_some()
            && matches!(p.policy, Policy::Migrate | Policy::MatchOnly)
    })
}

/// What the planning builds up as it goes: the mappings, the ids of both sides, and the target
/// records already someone's counterpart.
struct Planning {
    mappings: Mappings,
    /// Per model, the source ids, in id order.
    source_ids: BTreeMap<String, Vec<i32>>,
    /// Per model, the ids of its target table.
    target_ids: BTreeMap<String, HashSet<i32>>,
    /// Per model, the target ids matched to a source record (one to one, but for `shared_match`).
    taken: BTreeMap<String, HashSet<i32>>,
}

/// How long the id plan has taken so far, at a step's end (debug log).
fn lap(started: std::time::Instant, step: &str) {
    tracing::debug!(step, ms = started.elapsed().as_millis() as u64, "id plan");
}

/// A catch-up's earlier plans, read and seeded into `planning` (the records the source lost
/// counted as vanished); none for a plain run.
async fn earlier_plans(
    transaction: &Transaction<'_>,
    run_id: i64,
    catch_up: bool,
    planning: &mut Planning,
    counts: &mut PlanCounts,
) -> Result<earlier::Earlier> {
    if !catch_up {
        return Ok(earlier::Earlier::default());
    }
    let earlier = earlier::read(transaction, run_id).await?;
    counts.vanished = earlier::seed(planning, &earlier);
    seed_removed(transaction, &mut planning.mappings).await?;
    Ok(earlier)
}

#[allow(clippy::too_many_arguments)]
/// Decides the target id of every source record and persists the decisions in `id_plan` and the
/// external ids to recreate in `xmlid_plan`, inside `transaction`. With `catch_up`, the records
/// that earlier runs mapped keep their mappings: only the others are planned and stored, and
/// those the source lost are returned as vanished.
pub async fn plan(
    source: &Client,
    transaction: &Transaction<'_>,
    source_catalog: &Catalog,
    target_catalog: &Catalog,
    rules: &Rules,
    pairs: &[TablePair],
    plans: &[TablePlan],
    run_id: i64,
    catch_up: bool,
) -> Result<PlanCounts> {
    let planned: Vec<&TablePair> = planned_pairs(pairs).collect();
    let started = std::time::Instant::now();
    let lap = |name: &str| lap(started, name);
    let mut planning = read_all_ids(source, transaction, &planned).await?;
    lap("ids of both sides read");
    let mut counts = PlanCounts::default();
    let earlier = earlier_plans(transaction, run_id, catch_up, &mut planning, &mut counts).await?;
    lap("earlier plans read and seeded");

    // 1. External ids, both sides read at once.
    let (external_ids, matching) = match_by_external_ids(
        source,
        transaction,
        rules,
        &mut planning,
        &earlier,
        run_id,
        &mut counts,
    )
    .await?;
    lap("external ids");

    // 2. Natural keys, models whose keys reference no other keyed model first.
    counts.natural_key += natural_keys::match_keyed_models(
        source,
        transaction,
        source_catalog,
        target_catalog,
        rules,
        &planned,
        plans,
        &mut planning.mappings,
        &mut planning.taken,
    )
    .await?;
    lap("natural keys");

    // 2b. The files of binary fields of matched records: the target's record has its own.
    counts.natural_key +=
        match_field_files(source, transaction, rules, &planned, &mut planning).await?;

    // 2c. Rows of records of a model not migrated: left out, with what needs them.
    orphans::leave_out_rows_of_unmigrated_models(
        source,
        transaction,
        source_catalog,
        &planned,
        plans,
        &planning.source_ids,
        &mut planning.mappings,
        run_id,
    )
    .await?;

    // 2d. Derived records of source rows whose own record was matched: the target's own.
    counts.natural_key += derived::match_through_owners(
        transaction,
        target_catalog,
        rules,
        &planned,
        &planning.source_ids,
        &mut planning.mappings,
    )
    .await?;

    // 2e. Records Odoo 19 deleted, unless the target has a counterpart: never created.
    xmlids::leave_out_removed(
        transaction,
        run_id,
        rules,
        &external_ids.source,
        &planned,
        &mut planning.mappings,
    )
    .await?;

    // 3. New ids for the rest, taken from the target's sequence so that Odoo's next ids stay ahead.
    allocate::give_new_ids(
        transaction,
        target_catalog,
        &planned,
        &planning.source_ids,
        &mut planning.mappings,
        run_id,
        &mut counts,
    )
    .await?;

    lap("left out, derived, new ids");
    // Persisted with one binary COPY, streamed from the maps.
    store(
        transaction,
        target_catalog,
        &planned,
        &mut planning,
        &earlier,
        &external_ids,
        &matching,
        run_id,
    )
    .await?;
    lap("stored");
    Ok(counts)
}

/// Step 2b of the plan: when attachments migrate, the files of binary fields of matched records
/// are matched to the target record's own.
async fn match_field_files(
    source: &Client,
    transaction: &Transaction<'_>,
    rules: &Rules,
    planned: &[&TablePair],
    planning: &mut Planning,
) -> Result<usize> {
    if !planned
        .iter()
        .any(|p| p.source_model.as_deref() == Some("ir.attachment") && p.policy == Policy::Migrate)
    {
        return Ok(0);
    }
    natural_keys::match_field_attachments(
        source,
        transaction,
        rules,
        &mut planning.mappings,
        &mut planning.taken,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
/// The plan's last step: the new decisions into `id_plan` (a catch-up's earlier ones are there
/// already) and the external ids to create into `xmlid_plan`.
async fn store(
    transaction: &Transaction<'_>,
    target_catalog: &Catalog,
    planned: &[&TablePair],
    planning: &mut Planning,
    earlier: &earlier::Earlier,
    external_ids: &xmlids::ExternalIds,
    matching: &xmlids::XmlidMatching,
    run_id: i64,
) -> Result<()> {
    // Only the new decisions: a catch-up's earlier ones are in `id_plan` already.
    stored::store_id_plan(
        transaction,
        planned,
        &planning.source_ids,
        |model, id| !earlier.knows(model, id),
        &mut planning.mappings,
        run_id,
    )
    .await
    .context("cannot store the id plan")?;
    xmlids::store_to_create(
        transaction,
        target_catalog,
        &external_ids.target,
        &matching.to_create,
        &planning.mappings,
        run_id,
    )
    .await
}

/// Step 1 of the plan: records matched by external id; the conflicts are recorded (a catch-up says
/// again nothing of the records earlier runs planned), the external ids to create are returned.
async fn match_by_external_ids(
    source: &Client,
    transaction: &Transaction<'_>,
    rules: &Rules,
    planning: &mut Planning,
    earlier: &earlier::Earlier,
    run_id: i64,
    counts: &mut PlanCounts,
) -> Result<(xmlids::ExternalIds, xmlids::XmlidMatching)> {
    let external_ids = xmlids::read(source, transaction).await?;
    let mut matching = xmlids::match_external_ids(rules, &external_ids, planning);
    counts.xmlid += matching.found;
    matching
        .conflicts
        .retain(|c| !earlier.knows(&c.model, c.source_id));
    if catch_up_run(earlier) {
        xmlids::store_lost(transaction, &matching, run_id).await?;
    }
    // A record an earlier run created takes the external ids the source gave it since.
    matching.to_create.retain(|x| {
        !earlier.knows(&x.model, x.source_id)
            || !xmlids::already_given(x, &planning.mappings, &external_ids.target)
    });
    xmlids::record_problems(
        transaction,
        run_id,
        "external_id_conflict",
        &matching.conflicts,
    )
    .await?;
    Ok((external_ids, matching))
}

/// Whether the planning is a catch-up's (earlier plans were read).
fn catch_up_run(earlier: &earlier::Earlier) -> bool {
    earlier.is_some()
}

/// The records left out as deleted by Odoo 19 in earlier runs stay left out, unsaid.
async fn seed_removed(transaction: &Transaction<'_>, mappings: &mut Mappings) -> Result<()> {
    for row in transaction
        .query(
            "SELECT model, source_id::int FROM odoo_migrate.problems WHERE kind = 'removed_in_target' \
             AND run_id IN (SELECT DISTINCT run_id FROM odoo_migrate.id_plan)",
            &[],
        )
        .await
        .context("cannot read the records left out as deleted by Odoo 19")?
    {
        mappings
            .removed
            .entry(row.get(0))
            .or_default()
            .insert(row.get(1));
    }
    Ok(())
}

/// Reads the ids of every planned table on both sides, and sizes each model's map for its ids.
async fn read_all_ids(
    source: &Client,
    transaction: &Transaction<'_>,
    planned: &[&TablePair],
) -> Result<Planning> {
    let mut mappings = Mappings::default();
    let mut source_ids: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    let mut target_ids: BTreeMap<String, HashSet<i32>> = BTreeMap::new();
    // All ids of both sides in one statement each: a round trip per table would cost more than
    // reading the ids of most tables.
    let source_tables: Vec<(&str, Option<&str>)> = planned
        .iter()
        .map(|p| (p.source_table.as_str(), p.derived_filter.as_deref()))
        .collect();
    let target_tables: Vec<(&str, Option<&str>)> = planned
        .iter()
        .map(|p| (p.target_table.as_deref().unwrap_or_default(), None))
        .collect();
    let (source_id_lists, target_id_lists) = tokio::join!(
        read_ids(source, &source_tables, true),
        read_ids(transaction, &target_tables, false)
    );
    let mut source_id_lists =
        source_id_lists.context("cannot read the ids of the source tables")?;
    let mut target_id_lists =
        target_id_lists.context("cannot read the ids of the target tables")?;
    for (index, pair) in planned.iter().enumerate() {
        let model = pair.source_model.clone().unwrap_or_default();
        let ids = std::mem::take(&mut source_id_lists[index]);
        // Sized once from the largest id (the list is in id order): no doubling while it fills.
        // Every source id gets its slot now, in id order: the matching fills them in any order.
        if let Some(&largest) = ids.last() {
            let map = mappings.entry(&model);
            map.reserve_for(largest, ids.len());
            map.frame(&ids);
        }
        source_ids.insert(model.clone(), ids);
        target_ids.insert(
            model,
            std::mem::take(&mut target_id_lists[index])
                .into_iter()
                .collect(),
        );
    }
    Ok(Planning {
        mappings,
        source_ids,
        target_ids,
        taken: BTreeMap::new(),
    })
}

/// The ids of each table (of its rows that pass the condition given with it, as `s`), in id
/// order where `ordered`, read in one statement.
async fn read_ids(
    client: &impl tokio_postgres::GenericClient,
    tables: &[(&str, Option<&str>)],
    ordered: bool,
) -> Result<Vec<Vec<i32>>> {
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let order = if ordered { " ORDER BY id" } else { "" };
    let branches: Vec<String> = tables
        .iter()
        .enumerate()
        .map(|(index, (table, filter))| {
            let filter = filter.map(|f| format!(" WHERE ({f})")).unwrap_or_default();
            format!(
                "SELECT {index}, ARRAY(SELECT s.id FROM public.{} s{filter}{order})",
                quote_ident(table)
            )
        })
        .collect();
    let mut lists = vec![Vec::new(); tables.len()];
    // Streamed: one table's array at a time in memory as bytes, not every table's.
    let rows = client
        .query_raw(&branches.join(" UNION ALL "), std::iter::empty::<i32>())
        .await?;
    futures::pin_mut!(rows);
    while let Some(row) = futures::TryStreamExt::try_next(&mut rows).await? {
        let index: i32 = row.get(0);
        if let Some(list) = usize::try_from(index).ok().and_then(|i| lists.get_mut(i)) {
            *list = row.get(1);
        }
    }
    Ok(lists)
}
