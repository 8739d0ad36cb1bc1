//! Step 2d of the planning: the derived records (`[[derived]]` rules with `matched_through`) of
//! source rows whose own record was matched to a target record are that record's counterpart
//! already (the alias of a maintenance team Odoo 19 installed): they are matched to it, never
//! created beside it. Reads the target; fills the mappings only.

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, Result};
use tokio_postgres::Transaction;

use super::map::{How, Mappings};
use crate::catalog::{Catalog, quote_ident};
use crate::rules::Rules;
use crate::rules::pairing::TablePair;

/// Matches the derived records whose owner was matched. Returns how many.
pub(super) async fn match_through_owners(
    transaction: &Transaction<'_>,
    target_catalog: &Catalog,
    rules: &Rules,
    planned: &[&TablePair],
    source_ids: &BTreeMap<String, Vec<i32>>,
    mappings: &mut Mappings,
) -> Result<usize> {
    let mut found = 0;
    for pair in planned.iter().filter(|p| p.derived_filter.is_some()) {
        let name = pair.source_model.as_deref().unwrap_or_default();
        let Some([owner, column]) = rules.derived(name).and_then(|r| r.matched_through.clone())
        else {
            continue;
        };
        let Some(owner_table) = target_catalog
            .models
            .get(rules.model_in_target(&owner))
            .and_then(|m| m.table.clone())
        else {
            continue;
        };
        // Source id → the target record its owner was matched to.
        let matched: Vec<(i32, i32)> = source_ids
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|&id| {
                let map = mappings.get(&owner)?;
                match map.how(id)? {
                    How::Created => None,
                    _ => Some((id, map.get(id)?)),
                }
            })
            .collect();
        if matched.is_empty() {
            continue;
        }
        let owners: Vec<i32> = matched.iter().map(|(_, t)| *t).collect();
        let rows = transaction
            .query(
                &format!(
                    "SELECT id, {}::integer FROM public.{} WHERE id = ANY($1)",
                    quote_ident(&column),
                    quote_ident(&owner_table)
                ),
                &[&owners],
            )
            .await
            .with_context(|| {
                format!("cannot read {owner_table}.{column} of the records matched for {name}")
            })?;
        let of_owner: BTreeMap<i32, i32> = rows
            .iter()
            .filter_map(|r| Some((r.get(0), r.get::<_, Option<i32>>(1)?)))
            .collect();
        let mut taken = HashSet::new();
        let map = mappings.entry(name);
        for (source_id, owner_target) in matched {
            if let Some(&target) = of_owner.get(&owner_target)
                && taken.insert(target)
            {
                map.insert(source_id, target, How::NaturalKey);
                found += 1;
            }
        }
    }
    Ok(found)
}
