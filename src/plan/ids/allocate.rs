//! New ids: the source records that neither external id nor natural key matched get consecutive
//! ids past both the largest id of their target table and its sequence, and the sequences are moved
//! past them so that Odoo's next ids stay ahead. Writes only the target's id sequences.

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, Result, bail};
use tokio_postgres::Transaction;

use super::PlanCounts;
use super::map::{How, IdMap, Mappings};
use crate::catalog::{Catalog, quote_ident, quote_literal};
use crate::rules::Policy;
use crate::rules::pairing::TablePair;

/// Step 3 of the planning: new ids for every planned record still unmapped and not left out
/// (`not_in_target`), taken from the target's sequences; `match_only` models only count theirs as
/// unmatched. Takes the left-out records out of `mappings`.
pub(super) async fn give_new_ids(
    transaction: &Transaction<'_>,
    target_catalog: &Catalog,
    planned: &[&TablePair],
    source_ids: &BTreeMap<String, Vec<i32>>,
    mappings: &mut Mappings,
    run_id: i64,
    counts: &mut PlanCounts,
) -> Result<()> {
    // Counted first, the ids given in a second pass: a list of every missing id of every model
    // (tens of megabytes at production size) is never held.
    let mut needs: Vec<(&str, usize)> = Vec::new();
    let mut models: Vec<String> = Vec::new();
    let removed = std::mem::take(&mut mappings.removed);
    let missing = |map: &IdMap, removed: Option<&HashSet<i32>>, id: i32| {
        map.get(id).is_none() && removed.is_none_or(|r| !r.contains(&id))
    };
    for pair in planned {
        let model = pair.source_model.clone().unwrap_or_default();
        let (map, left_out) = (mappings.entry(&model), removed.get(&model));
        let count = source_ids[&model]
            .iter()
            .filter(|&&id| missing(map, left_out, id))
            .count();
        if pair.policy == Policy::MatchOnly {
            counts.unmatched += count;
            continue;
        }
        if count == 0 {
            continue;
        }
        needs.push((pair.target_table.as_deref().unwrap_or_default(), count));
        models.push(model);
    }
    let firsts = allocate(transaction, target_catalog, &needs, run_id).await?;
    for ((model, first), &(_, count)) in models.iter().zip(firsts).zip(&needs) {
        let (map, left_out) = (mappings.entry(model), removed.get(model));
        let mut given = 0;
        for &id in &source_ids[model] {
            if given == count {
                break;
            }
            if missing(map, left_out, id) {
                // Below `first + count`, which `allocate` keeps within the integer range.
                map.insert(id, first + given as i32, How::Created);
                given += 1;
            }
        }
        counts.created += given;
    }
    Ok(())
}

/// Reserves, for each `(table, count)` in order, `count` consecutive new ids past both the table's
/// largest id and its sequence as recorded at the run's start (so that an interrupted planning
/// made again allocates the same ids), and moves the sequences past them. Several needs on one
/// table get consecutive blocks. Returns the first id of each.
pub(super) async fn allocate(
    transaction: &Transaction<'_>,
    catalog: &Catalog,
    needs: &[(&str, usize)],
    run_id: i64,
) -> Result<Vec<i32>> {
    if needs.is_empty() {
        return Ok(Vec::new());
    }
    let mut tables: Vec<&str> = needs.iter().map(|(t, _)| *t).collect();
    tables.sort_unstable();
    tables.dedup();
    let branches: Vec<String> = tables
        .iter()
        .map(|table| {
            format!(
                "SELECT {}::text, (SELECT coalesce(max(id), 0) FROM public.{})",
                quote_literal(table),
                quote_ident(table)
            )
        })
        .collect();
    let max_ids: BTreeMap<String, i32> = transaction
        .query(&branches.join(" UNION ALL "), &[])
        .await
        .context("cannot read the largest ids of the target tables")?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let recorded: BTreeMap<String, i64> = transaction
        .query(
            "SELECT sequence_name, last_value FROM odoo_migrate.sequence_states WHERE run_id = $1",
            &[&run_id],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // Next free id per table, advanced as blocks are handed out.
    let mut next: BTreeMap<&str, i64> = BTreeMap::new();
    let mut firsts = Vec::with_capacity(needs.len());
    for (table, count) in needs {
        let sequence = catalog
            .tables
            .get(*table)
            .and_then(|t| t.sequences.get("id"));
        let free = match next.get(table) {
            Some(free) => *free,
            None => {
                let max_id = i64::from(max_ids.get(*table).copied().unwrap_or(0));
                let last = match sequence {
                    Some(sequence) => match recorded.get(sequence) {
                        Some(last) => *last,
                        None => transaction
                            .query_one(
                                &format!("SELECT last_value FROM public.{}", quote_ident(sequence)),
                                &[],
                            )
                            .await
                            .with_context(|| format!("cannot read sequence {sequence}"))?
                            .get(0),
                    },
                    None => 0,
                };
                max_id.max(last) + 1
            }
        };
        let end = free + *count as i64 - 1;
        if end > i64::from(i32::MAX) {
            bail!("target table {table} would need ids beyond the integer range ({end})");
        }
        next.insert(table, end + 1);
        firsts.push(free as i32);
    }
    move_sequences_past(transaction, catalog, &next).await?;
    Ok(firsts)
}

/// Moves the id sequence of each table past the ids handed out (`next`: the next free id per
/// table), never backwards.
async fn move_sequences_past(
    transaction: &Transaction<'_>,
    catalog: &Catalog,
    next: &BTreeMap<&str, i64>,
) -> Result<()> {
    let moves: Vec<String> = next
        .iter()
        .filter_map(|(table, free)| {
            let sequence = catalog.tables.get(*table)?.sequences.get("id")?;
            let qualified = format!("public.{}", quote_ident(sequence));
            Some(format!(
                "SELECT setval({}::regclass, GREATEST({}, (SELECT last_value FROM {qualified})), true)",
                quote_literal(&qualified),
                free - 1
            ))
        })
        .collect();
    if !moves.is_empty() {
        transaction
            .batch_execute(&moves.join(";\n"))
            .await
            .context("cannot move the target's sequences past the planned ids")?;
    }
    Ok(())
}
