//! Id mapping: for every source record of every migrated model, the target id it gets — the record
//! found by external id, the record found by natural key, or a new id taken from the target's
//! sequence — decided once, before any row moves, and persisted in `odoo_migrate.id_plan`, so that
//! every reference can be rewritten in any order and a resumed run decides nothing twice.
//! Also loads the plan into dense in-memory arrays for the copy's hot path.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{Context, Result, bail};
use futures::{SinkExt, TryStreamExt};
use tokio_postgres::{Client, GenericClient, Transaction};

use crate::catalog::{Catalog, quote_ident, quote_literal};
use crate::plan::tables::{Output, TablePlan};
use crate::rules::pairing::{TableKind, TablePair};
use crate::rules::{Policy, Rules};

/// How a source record found its target record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum How {
    Xmlid = 1,
    NaturalKey = 2,
    Created = 3,
}

impl How {
    pub fn as_str(self) -> &'static str {
        match self {
            How::Xmlid => "xmlid",
            How::NaturalKey => "natural_key",
            How::Created => "created",
        }
    }

    fn parse(text: &str) -> Option<How> {
        match text {
            "xmlid" => Some(How::Xmlid),
            "natural_key" => Some(How::NaturalKey),
            "created" => Some(How::Created),
            _ => None,
        }
    }
}

/// Ids below this are always held densely: 4 Mi ids, 32 MiB at most per model.
const DENSE_FLOOR: usize = 1 << 22;
/// Beyond the floor, a map holds densely ids up to this many times its number of records; ids
/// past that (a record given a huge id by hand or by an import, a negative id) go to a hash map,
/// so that one outlier never costs gigabytes.
const DENSE_PER_RECORD: usize = 16;

/// The mapping of one model, indexed by source id: dense because Odoo ids come from a sequence,
/// with the rare ids far past the others kept aside.
#[derive(Debug, Clone)]
pub struct IdMap {
    entries: Vec<(i32, u8)>,
    /// Source ids at or past this (or negative) live in `outliers`.
    dense_limit: usize,
    outliers: HashMap<i32, (i32, u8)>,
    pub mapped: usize,
}

impl Default for IdMap {
    fn default() -> IdMap {
        IdMap {
            entries: Vec::new(),
            dense_limit: DENSE_FLOOR,
            outliers: HashMap::new(),
            mapped: 0,
        }
    }
}

impl IdMap {
    /// The dense slot of a source id, when it has one.
    #[inline]
    fn dense_index(&self, source_id: i32) -> Option<usize> {
        usize::try_from(source_id)
            .ok()
            .filter(|&index| index < self.dense_limit)
    }

    pub fn insert(&mut self, source_id: i32, target_id: i32, how: How) {
        let slot = match self.dense_index(source_id) {
            Some(index) => {
                if index >= self.entries.len() {
                    self.entries.resize(index + 1, (0, 0));
                }
                &mut self.entries[index]
            }
            None => self.outliers.entry(source_id).or_insert((0, 0)),
        };
        if slot.1 == 0 {
            self.mapped += 1;
        }
        *slot = (target_id, how as u8);
    }

    #[inline]
    fn entry(&self, source_id: i32) -> Option<(i32, u8)> {
        match usize::try_from(source_id) {
            Ok(index) if index < self.entries.len() => Some(self.entries[index]),
            _ if self.outliers.is_empty() => None,
            _ => self.outliers.get(&source_id).copied(),
        }
    }

    /// The target id of a source id, if it is mapped.
    #[inline]
    pub fn get(&self, source_id: i32) -> Option<i32> {
        match self.entry(source_id)? {
            (target, how) if how != 0 => Some(target),
            _ => None,
        }
    }

    /// A jsonb key made of ids of this model — one, or several joined by commas as in analytic
    /// distributions — with each id replaced by its target id; `None` when one is not an id or
    /// not mapped.
    pub fn remap_key(&self, key: &str) -> Option<String> {
        let ids: Option<Vec<String>> = key
            .split(',')
            .map(|id| Some(self.get(id.trim().parse().ok()?)?.to_string()))
            .collect();
        Some(ids?.join(","))
    }

    #[inline]
    pub fn how(&self, source_id: i32) -> Option<How> {
        match self.entry(source_id)?.1 {
            1 => Some(How::Xmlid),
            2 => Some(How::NaturalKey),
            3 => Some(How::Created),
            _ => None,
        }
    }

    /// Sizes the map once for `records` ids up to `max_id`, so that loading it never reallocates;
    /// ids far past what the number of records explains are left to the outliers.
    fn reserve_for(&mut self, max_id: i32, records: usize) {
        self.dense_limit = records
            .saturating_mul(DENSE_PER_RECORD)
            .max(DENSE_FLOOR)
            .max(self.entries.len());
        // With outliers, the largest dense id is unknown: room for the records is a fair guess.
        let wanted = match usize::try_from(max_id).map_or(0, |m| m.saturating_add(1)) {
            wanted if wanted <= self.dense_limit => wanted,
            _ => records.min(self.dense_limit),
        };
        if wanted > self.entries.len() {
            self.entries.reserve_exact(wanted - self.entries.len());
        }
    }

    /// The mapped source ids from `first` to `last`, in order; visits only the ids held, never
    /// every integer of the range (an outlier may make it billions long).
    pub fn mapped_between(&self, first: i32, last: i32) -> Vec<i32> {
        let mut ids: Vec<i32> = self
            .outliers
            .iter()
            .filter(|&(&id, &(_, how))| how != 0 && (first..=last).contains(&id))
            .map(|(&id, _)| id)
            .collect();
        let from = usize::try_from(first.max(0)).unwrap_or(0);
        let to = usize::try_from(last)
            .map_or(0, |l| l.saturating_add(1))
            .min(self.entries.len());
        if from < to {
            ids.extend(
                self.entries[from..to]
                    .iter()
                    .enumerate()
                    .filter(|(_, entry)| entry.1 != 0)
                    .filter_map(|(offset, _)| i32::try_from(from + offset).ok()),
            );
        }
        ids.sort_unstable();
        ids
    }

    /// Bytes held, for the memory figures of the benchmark.
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(i32, u8)>()
            + self.outliers.capacity() * std::mem::size_of::<(i32, (i32, u8))>()
    }
}

/// All mappings of a run, by Odoo 16 model name (and by Odoo 19 name for renamed models, so that
/// model-name columns renamed on the way still find their mapping).
#[derive(Debug, Default)]
pub struct Mappings {
    maps: Vec<IdMap>,
    by_name: HashMap<String, usize>,
    /// Per model, the source records left out because Odoo 19 deleted them (`not_in_target`).
    removed: HashMap<String, HashSet<i32>>,
}

impl Mappings {
    /// Whether a source record was left out on purpose (the rules' `not_in_target`).
    pub fn is_removed(&self, model: &str, source_id: i32) -> bool {
        self.removed
            .get(model)
            .is_some_and(|ids| ids.contains(&source_id))
    }

    pub fn get(&self, model: &str) -> Option<&IdMap> {
        self.by_name.get(model).map(|&i| &self.maps[i])
    }

    pub fn get_bytes(&self, model: &[u8]) -> Option<&IdMap> {
        std::str::from_utf8(model).ok().and_then(|m| self.get(m))
    }

    pub fn index_of(&self, model: &str) -> Option<usize> {
        self.by_name.get(model).copied()
    }

    fn entry(&mut self, model: &str) -> &mut IdMap {
        let index = match self.by_name.get(model) {
            Some(&i) => i,
            None => {
                self.maps.push(IdMap::default());
                self.by_name.insert(model.to_string(), self.maps.len() - 1);
                self.maps.len() - 1
            }
        };
        &mut self.maps[index]
    }

    fn alias(&mut self, alias: &str, model: &str) {
        if alias != model
            && let Some(&index) = self.by_name.get(model)
        {
            self.by_name.entry(alias.to_string()).or_insert(index);
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.maps.iter().map(IdMap::heap_bytes).sum()
    }
}

/// An external id of the source that is recreated with its record.
#[derive(Clone)]
struct XmlidToCreate {
    model: String,
    source_id: i32,
    module: String,
    name: String,
    /// The name starts with a company id (`3_pcg_1011`) that follows the company's mapping.
    company_prefixed: bool,
    noupdate: bool,
    create_date: Option<std::time::SystemTime>,
    write_date: Option<std::time::SystemTime>,
}

/// Counts of a planning, per model and in total.
#[derive(Debug, Default)]
pub struct PlanCounts {
    pub xmlid: usize,
    pub natural_key: usize,
    pub created: usize,
    pub unmatched: usize,
}

/// Models whose ids are planned: model tables copied or matched.
pub fn planned_pairs(pairs: &[TablePair]) -> impl Iterator<Item = &TablePair> {
    pairs.iter().filter(|p| {
        p.kind == TableKind::Model
            && p.target_table.is_some()
            && matches!(p.policy, Policy::Migrate | Policy::MatchOnly)
    })
}

#[allow(clippy::too_many_arguments)]
/// Decides the target id of every source record and persists the decisions in `id_plan` and the
/// external ids to recreate in `xmlid_plan`, inside `transaction`.
pub async fn plan(
    source: &Client,
    transaction: &Transaction<'_>,
    source_catalog: &Catalog,
    target_catalog: &Catalog,
    rules: &Rules,
    pairs: &[TablePair],
    plans: &[TablePlan],
    run_id: i64,
) -> Result<PlanCounts> {
    let planned: Vec<&TablePair> = planned_pairs(pairs).collect();
    let mut mappings = Mappings::default();
    let mut source_ids: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    let mut target_ids: BTreeMap<String, HashSet<i32>> = BTreeMap::new();
    let mut taken: BTreeMap<String, HashSet<i32>> = BTreeMap::new();
    // All ids of both sides in one statement each: a round trip per table would cost more than
    // reading the ids of most tables.
    let source_tables: Vec<&str> = planned.iter().map(|p| p.source_table.as_str()).collect();
    let target_tables: Vec<&str> = planned
        .iter()
        .map(|p| p.target_table.as_deref().unwrap_or_default())
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
        if let Some(&largest) = ids.last() {
            mappings.entry(&model).reserve_for(largest, ids.len());
        }
        source_ids.insert(model.clone(), ids);
        target_ids.insert(
            model,
            std::mem::take(&mut target_id_lists[index])
                .into_iter()
                .collect(),
        );
    }

    // 1. External ids, both sides read at once.
    // Per model, the external ids of modules come before those of exports, imports or hand-made
    // ones (`__export__`, `__custom__`, …): a module's own name decides a match first.
    let (target_rows, source_xmlids) = tokio::join!(
        transaction.query(
            "SELECT module, name, model, res_id FROM ir_model_data WHERE res_id IS NOT NULL",
            &[],
        ),
        source.query(
            "SELECT model, res_id, module, name, coalesce(noupdate, false), create_date, write_date FROM ir_model_data \
             WHERE res_id IS NOT NULL ORDER BY (model <> 'res.company'), model, (module LIKE '\\_\\_%'), res_id, module, name",
            &[],
        )
    );
    let target_xmlids: HashMap<(String, String), (String, i32)> = target_rows
        .context("cannot read the target's ir_model_data")?
        .iter()
        .map(|row| ((row.get(0), row.get(1)), (row.get(2), row.get(3))))
        .collect();
    let source_xmlids = source_xmlids.context("cannot read the source's ir_model_data")?;
    let mut counts = PlanCounts::default();
    let mut xmlids_to_create: Vec<XmlidToCreate> = Vec::new();
    // Target records matched by external id: (model, target id) → (source id, the external id).
    let mut claimed: HashMap<(String, i32), (i32, String)> = HashMap::new();
    // External ids that point at different records on the two sides, said instead of dropped.
    let mut conflicts: Vec<(String, i32, String, serde_json::Value)> = Vec::new();
    for row in &source_xmlids {
        let model: String = row.get(0);
        let res_id: i32 = row.get(1);
        let module: String = row.get(2);
        let name: String = row.get(3);
        let noupdate: bool = row.get(4);
        let dates: (Option<std::time::SystemTime>, Option<std::time::SystemTime>) =
            (row.get(5), row.get(6));
        let Some(ids) = source_ids.get(&model) else {
            continue;
        };
        if ids.binary_search(&res_id).is_err() {
            continue;
        }
        let target_model = rules.model_in_target(&model);
        // Companies come first (see the ORDER BY): a name that starts with a company id is looked
        // up with the target id of that company; a company still to be created has no such
        // records in the target yet.
        let (candidate, company_prefixed) = match rules.xmlid_rule_in_target(&model, &module, &name)
        {
            Some((module, name, prefixed)) => (Some((module, name)), prefixed),
            None => (None, false),
        };
        let lookup = match (&candidate, company_prefixed) {
            (Some((module, name)), true) => {
                with_company_prefix(name, mappings.get("res.company")).map(|n| (module.clone(), n))
            }
            (candidate, _) => candidate.clone(),
        };
        let found = lookup
            .as_ref()
            .and_then(|key| target_xmlids.get(key))
            .filter(|(m, id)| {
                m == target_model && target_ids.get(&model).is_some_and(|ids| ids.contains(id))
            })
            .map(|(_, id)| *id);
        let map = mappings.entry(&model);
        let xmlid = lookup
            .as_ref()
            .map_or_else(|| format!("{module}.{name}"), |(m, n)| format!("{m}.{n}"));
        match found {
            Some(target_id) if map.get(res_id).is_none() => {
                if taken.entry(model.clone()).or_default().insert(target_id) {
                    map.insert(res_id, target_id, How::Xmlid);
                    counts.xmlid += 1;
                    claimed.insert((model.clone(), target_id), (res_id, xmlid));
                } else if let Some((other, by)) = claimed.get(&(model.clone(), target_id)) {
                    conflicts.push((
                        model.clone(),
                        res_id,
                        format!(
                            "external id {xmlid} of {model} id {res_id} names {target_model} id {target_id} in the target, \
                             which is already the counterpart of source id {other} (by {by}); id {res_id} is not matched \
                             through it (a new record is made unless another key matches it): if both are one record, \
                             merge them in the source, else give one of them another external id"
                        ),
                        serde_json::json!({
                            "external_id": xmlid, "source_id": res_id, "target_id": target_id,
                            "matched_source_id": other, "matched_by": by,
                        }),
                    ));
                }
            }
            Some(target_id) => {
                let matched = map.get(res_id).unwrap_or(target_id);
                if matched != target_id {
                    let by = claimed
                        .get(&(model.clone(), matched))
                        .map_or_else(String::new, |(_, by)| format!(" by {by}"));
                    conflicts.push((
                        model.clone(),
                        res_id,
                        format!(
                            "external id {xmlid} of {model} id {res_id} names {target_model} id {target_id} in the target, \
                             but id {res_id} is already matched to {target_model} id {matched}{by}; the target's {xmlid} \
                             is left on id {target_id}: remove one of the two external ids in the source if they are \
                             not meant for one record"
                        ),
                        serde_json::json!({
                            "external_id": xmlid, "source_id": res_id, "target_id": target_id,
                            "matched_target_id": matched,
                        }),
                    ));
                }
            }
            None => {
                let (module, name) = candidate.unwrap_or((module, name));
                xmlids_to_create.push(XmlidToCreate {
                    model: model.clone(),
                    source_id: res_id,
                    module,
                    name,
                    company_prefixed,
                    noupdate,
                    create_date: dates.0,
                    write_date: dates.1,
                });
            }
        }
    }

    record_external_id_problems(transaction, run_id, "external_id_conflict", &conflicts).await?;

    // 2. Natural keys, models whose keys reference no other keyed model first.
    let mut keyed: Vec<&&TablePair> = planned
        .iter()
        .filter(|p| {
            p.source_model
                .as_deref()
                .and_then(|m| rules.model(m))
                .and_then(|r| r.natural_key.as_ref())
                .is_some()
        })
        .collect();
    keyed.sort_by_key(|p| {
        let model = p.source_model.as_deref().unwrap_or_default();
        let keys = rules
            .model(model)
            .and_then(|r| r.natural_key.clone())
            .unwrap_or_default();
        keys.iter()
            .filter(|k| {
                source_catalog
                    .models
                    .get(model)
                    .and_then(|m| m.fields.get(*k))
                    .is_some_and(|f| f.ttype == "many2one")
            })
            .count()
    });
    for pair in keyed {
        let found = match_natural_keys(
            source,
            transaction,
            source_catalog,
            target_catalog,
            rules,
            pair,
            plans.iter().find(|p| {
                Some(&p.model) == pair.source_model.as_ref() && p.kind == TableKind::Model
            }),
            &mut mappings,
            &mut taken,
        )
        .await?;
        counts.natural_key += found;
    }

    // 2b. The files of binary fields of matched records: the target's record has its own.
    if planned
        .iter()
        .any(|p| p.source_model.as_deref() == Some("ir.attachment") && p.policy == Policy::Migrate)
    {
        counts.natural_key +=
            match_field_attachments(source, transaction, rules, &mut mappings, &mut taken).await?;
    }

    // 2c. Records Odoo 19 deleted, unless the target has a counterpart: never created.
    for row in &source_xmlids {
        let (model, res_id, module, name): (String, i32, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let xmlid = format!("{module}.{name}");
        if rules
            .model(&model)
            .is_none_or(|r| !r.not_in_target.contains(&xmlid))
            || mappings.get(&model).and_then(|m| m.get(res_id)).is_some()
            || !mappings
                .removed
                .entry(model.clone())
                .or_default()
                .insert(res_id)
        {
            continue;
        }
        let table = planned
            .iter()
            .find(|p| p.source_model.as_deref() == Some(model.as_str()))
            .and_then(|p| p.target_table.clone());
        PlanProblem {
            severity: "info",
            kind: "removed_in_target",
            model: &model,
            table: table.as_deref(),
            source_id: Some(res_id),
            message: &format!(
                "{model} id {res_id} ({xmlid}) is not migrated: Odoo 19 deleted this record (rules: not_in_target)"
            ),
            detail: None,
        }
        .record(transaction, run_id)
        .await?;
    }

    // 3. New ids for the rest, taken from the target's sequence so that Odoo's next ids stay ahead.
    let mut needs: Vec<(&str, usize)> = Vec::new();
    let mut missing_of: Vec<(String, Vec<i32>)> = Vec::new();
    let mappings_removed = std::mem::take(&mut mappings.removed);
    for pair in &planned {
        let model = pair.source_model.clone().unwrap_or_default();
        let ids = &source_ids[&model];
        let map = mappings.entry(&model);
        let removed = mappings_removed.get(&model);
        let missing: Vec<i32> = ids
            .iter()
            .copied()
            .filter(|id| map.get(*id).is_none() && removed.is_none_or(|r| !r.contains(id)))
            .collect();
        if pair.policy == Policy::MatchOnly {
            counts.unmatched += missing.len();
            continue;
        }
        if missing.is_empty() {
            continue;
        }
        needs.push((
            pair.target_table.as_deref().unwrap_or_default(),
            missing.len(),
        ));
        missing_of.push((model, missing));
    }
    let firsts = allocate(transaction, target_catalog, &needs, run_id).await?;
    for ((model, missing), first) in missing_of.into_iter().zip(firsts) {
        let map = mappings.entry(&model);
        for (offset, source_id) in missing.iter().enumerate() {
            map.insert(*source_id, first + offset as i32, How::Created);
        }
        counts.created += missing.len();
    }

    // Persisted with one binary COPY, streamed from the maps.
    store_id_plan(transaction, &planned, &source_ids, &mut mappings, run_id)
        .await
        .context("cannot store the id plan")?;
    let created: Vec<&XmlidToCreate> = xmlids_to_create
        .iter()
        .filter(|x| {
            mappings
                .get(&x.model)
                .and_then(|m| m.how(x.source_id))
                .is_some_and(|h| h == How::Created)
        })
        .collect();
    // Names that start with a company id take the company's target id, now that created
    // companies have theirs; external ids the target already has are not created again.
    let company_map = mappings.get("res.company");
    let (taken_names, mut created): (Vec<XmlidToCreate>, Vec<XmlidToCreate>) = created
        .into_iter()
        .map(|x| {
            let mut x = x.clone();
            if x.company_prefixed
                && let Some(name) = with_company_prefix(&x.name, company_map)
            {
                x.name = name;
            }
            x
        })
        .partition(|x| target_xmlids.contains_key(&(x.module.clone(), x.name.clone())));
    // An external id the target gives to another record cannot follow this one: said, not dropped.
    for x in &taken_names {
        let Some((model, id)) = target_xmlids.get(&(x.module.clone(), x.name.clone())) else {
            continue;
        };
        PlanProblem {
            severity: "warning",
            kind: "external_id_taken",
            model: &x.model,
            table: None,
            source_id: Some(x.source_id),
            message: &format!(
                "external id {}.{} of {} id {} is not given to its new record: the target's {}.{} already names {model} id {id}",
                x.module, x.name, x.model, x.source_id, x.module, x.name
            ),
            detail: Some(&serde_json::json!({
                "module": x.module, "name": x.name, "source_id": x.source_id,
                "target_model": model, "target_res_id": id,
            })),
        }
        .record(transaction, run_id)
        .await?;
    }
    // Deduplicated by external id, in a stable order, before their rows get ids.
    created.sort_by(|a, b| {
        (&a.module, &a.name, &a.model, a.source_id).cmp(&(
            &b.module,
            &b.name,
            &b.model,
            b.source_id,
        ))
    });
    // One external id on several source records (a source whose unique index on module and name
    // was lost, or two names that the rules make one): it follows the first only, and says so.
    let mut duplicates: Vec<(String, i32, String, serde_json::Value)> = Vec::new();
    for pair in created.windows(2) {
        let (kept, other) = (&pair[0], &pair[1]);
        if kept.module == other.module
            && kept.name == other.name
            && (kept.model != other.model || kept.source_id != other.source_id)
        {
            let xmlid = format!("{}.{}", other.module, other.name);
            let kept_at = created
                .iter()
                .find(|x| x.module == other.module && x.name == other.name)
                .map_or_else(String::new, |x| format!("{} id {}", x.model, x.source_id));
            duplicates.push((
                other.model.clone(),
                other.source_id,
                format!(
                    "external id {xmlid} names more than one record in the source; it is given to {kept_at} only, \
                     not to {} id {}: remove or rename the other external ids in the source",
                    other.model, other.source_id
                ),
                serde_json::json!({ "external_id": xmlid, "source_id": other.source_id, "kept": kept_at }),
            ));
        }
    }
    record_external_id_problems(transaction, run_id, "external_id_duplicate", &duplicates).await?;
    created.dedup_by(|a, b| a.module == b.module && a.name == b.name);
    let first_row_id = if created.is_empty() {
        0
    } else {
        allocate(
            transaction,
            target_catalog,
            &[("ir_model_data", created.len())],
            run_id,
        )
        .await?[0]
    };
    let row_ids: Vec<i32> = (0..created.len() as i32)
        .map(|i| first_row_id + i)
        .collect();
    let models: Vec<&str> = created.iter().map(|x| x.model.as_str()).collect();
    let ids: Vec<i32> = created.iter().map(|x| x.source_id).collect();
    let modules: Vec<&str> = created.iter().map(|x| x.module.as_str()).collect();
    let names: Vec<&str> = created.iter().map(|x| x.name.as_str()).collect();
    let noupdates: Vec<bool> = created.iter().map(|x| x.noupdate).collect();
    let create_dates: Vec<Option<std::time::SystemTime>> =
        created.iter().map(|x| x.create_date).collect();
    let write_dates: Vec<Option<std::time::SystemTime>> =
        created.iter().map(|x| x.write_date).collect();
    transaction
        .execute(
            "INSERT INTO odoo_migrate.xmlid_plan (model, source_id, module, name, noupdate, create_date, write_date, target_id, run_id) \
             SELECT *, $9 FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::boolean[], $6::timestamp[], $7::timestamp[], $8::int[])",
            &[&models, &ids, &modules, &names, &noupdates, &create_dates, &write_dates, &row_ids, &run_id],
        )
        .await
        .context("cannot store the external ids to create")?;
    Ok(counts)
}

/// Writes the plan of every planned model into `odoo_migrate.id_plan` with a binary COPY, a
/// megabyte at a time: no array of the whole plan is built.
async fn store_id_plan(
    transaction: &Transaction<'_>,
    planned: &[&TablePair],
    source_ids: &BTreeMap<String, Vec<i32>>,
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
            if let (Some(target), Some(how)) = (map.get(id), map.how(id)) {
                writer.begin_tuple();
                writer.bytes(model.as_bytes());
                writer.int4(id);
                writer.int4(target);
                writer.bytes(how.as_str().as_bytes());
                writer.bytes(&run_id);
                writer.end_tuple();
            }
        }
        if writer.buffer.len() >= 1 << 20 {
            sink.send(writer.take()).await?;
        }
    }
    writer.finish();
    sink.send(writer.take()).await?;
    sink.finish().await?;
    Ok(())
}

/// `<company id>_<rest>` with the company id replaced by its target id; `None` when the name has
/// no such prefix or the company is not mapped.
fn with_company_prefix(name: &str, companies: Option<&IdMap>) -> Option<String> {
    let (digits, rest) = name.split_once('_')?;
    let company: i32 = digits.parse().ok()?;
    let target = companies?.get(company)?;
    Some(format!("{target}_{rest}"))
}

/// The ids of each table, in id order where `ordered`, read in one statement.
async fn read_ids(
    client: &impl tokio_postgres::GenericClient,
    tables: &[&str],
    ordered: bool,
) -> Result<Vec<Vec<i32>>> {
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let order = if ordered { " ORDER BY id" } else { "" };
    let branches: Vec<String> = tables
        .iter()
        .enumerate()
        .map(|(index, table)| {
            format!(
                "SELECT {index}, ARRAY(SELECT id FROM public.{}{order})",
                quote_ident(table)
            )
        })
        .collect();
    let mut lists = vec![Vec::new(); tables.len()];
    for row in client.query(&branches.join(" UNION ALL "), &[]).await? {
        let index: i32 = row.get(0);
        lists[index as usize] = row.get(1);
    }
    Ok(lists)
}

/// Reserves, for each `(table, count)` in order, `count` consecutive new ids past both the table's
/// largest id and its sequence as recorded at the run's start (so that an interrupted planning
/// made again allocates the same ids), and moves the sequences past them. Several needs on one
/// table get consecutive blocks. Returns the first id of each.
async fn allocate(
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
    Ok(firsts)
}

/// Matches the still-unmapped source records of a model to target records with the same natural
/// key. Many2one key columns are compared through the mapping of their model.
#[allow(clippy::too_many_arguments)]
async fn match_natural_keys(
    source: &Client,
    transaction: &Transaction<'_>,
    source_catalog: &Catalog,
    target_catalog: &Catalog,
    rules: &Rules,
    pair: &TablePair,
    plan: Option<&TablePlan>,
    mappings: &mut Mappings,
    taken: &mut BTreeMap<String, HashSet<i32>>,
) -> Result<usize> {
    let model = pair.source_model.clone().unwrap_or_default();
    let keys = rules
        .model(&model)
        .and_then(|r| r.natural_key.clone())
        .unwrap_or_default();
    let source_table = &pair.source_table;
    let target_table = pair.target_table.as_deref().unwrap_or_default();
    let (Some(source_def), Some(target_def)) = (
        source_catalog.tables.get(source_table),
        target_catalog.tables.get(target_table),
    ) else {
        return Ok(0);
    };
    let mut source_exprs = Vec::new();
    let mut target_exprs = Vec::new();
    let mut key_models = Vec::new();
    for key in &keys {
        // With a copy plan, the key is read as the copy would write it (rules applied), so that a
        // key column the rules compute still meets its value in the target.
        let planned = plan.and_then(|p| {
            p.columns
                .iter()
                .find(|c| &c.target_column == key)
                .map(|c| (c, &p.select[c.output.field()]))
        });
        if let (Some((column, expression)), Some(target_column_def)) =
            (planned, target_def.column(key))
        {
            let company_json = matches!(
                &column.output,
                Output::KeyedJson {
                    key_model,
                    value_model: None,
                    ..
                } if key_model == "res.company"
            );
            source_exprs.push(if company_json {
                // Compared whole, once its company keys are remapped (an account's code per company).
                format!("({expression})::text")
            } else if column.target_type == "jsonb" {
                format!("(({expression}) ->> 'en_US')")
            } else if column.target_type.starts_with("numeric") {
                // 100 and 100.000000 are the same key.
                format!("trim_scale(({expression})::numeric)::text")
            } else {
                format!("({expression})::text")
            });
            target_exprs.push(if company_json {
                format!("(t.{})::text", quote_ident(&target_column_def.name))
            } else {
                text_expr("t", &target_column_def.name, &target_column_def.data_type)
            });
            key_models.push(match &column.output {
                Output::Remap { model, .. } => KeyValue::Id(model.clone()),
                _ if company_json => KeyValue::CompanyJson,
                _ => KeyValue::Plain,
            });
            continue;
        }
        let source_column = pair.renamed_columns.get(key).unwrap_or(key);
        let (Some(source_column_def), Some(target_column_def)) =
            (source_def.column(source_column), target_def.column(key))
        else {
            bail!(
                "natural key of {model} names column `{key}`, which is missing in source table {source_table} or target table {target_table}; correct the rule"
            );
        };
        source_exprs.push(text_expr(
            "s",
            &source_column_def.name,
            &source_column_def.data_type,
        ));
        target_exprs.push(text_expr(
            "t",
            &target_column_def.name,
            &target_column_def.data_type,
        ));
        key_models.push(
            source_catalog
                .models
                .get(&model)
                .and_then(|m| m.fields.get(source_column))
                .filter(|f| f.ttype == "many2one")
                .and_then(|f| f.relation.clone())
                .map_or(KeyValue::Plain, KeyValue::Id),
        );
    }
    let source_rows = source
        .query(
            &format!(
                "SELECT s.id, {} FROM {}",
                source_exprs.join(", "),
                plan.map_or_else(
                    || format!("public.{} s", quote_ident(source_table)),
                    TablePlan::source_from
                )
            ),
            &[],
        )
        .await
        .with_context(|| format!("cannot read the natural keys of source table {source_table}"))?;
    let target_rows = transaction
        .query(
            &format!(
                "SELECT t.id, {} FROM public.{} t",
                target_exprs.join(", "),
                quote_ident(target_table)
            ),
            &[],
        )
        .await
        .with_context(|| format!("cannot read the natural keys of target table {target_table}"))?;
    let mut by_key: HashMap<Vec<Option<String>>, i32> = HashMap::new();
    for row in &target_rows {
        let key: Vec<Option<String>> = (1..=keys.len())
            .map(|i| {
                let value: Option<String> = row.get(i);
                match key_models[i - 1] {
                    KeyValue::CompanyJson => value.and_then(|v| canonical_company_json(&v, None)),
                    _ => value,
                }
            })
            .collect();
        by_key.entry(key).or_insert(row.get(0));
    }
    let mut found = 0;
    let shared = rules.model(&model).is_some_and(|r| r.shared_match);
    let mut left_over: Vec<(i32, i32)> = Vec::new();
    // Copied out: the loop below adds this model's matches to the mappings.
    let companies = key_models
        .iter()
        .any(|k| matches!(k, KeyValue::CompanyJson))
        .then(|| mappings.get("res.company").cloned())
        .flatten();
    for row in &source_rows {
        let source_id: i32 = row.get(0);
        if mappings
            .get(&model)
            .and_then(|m| m.get(source_id))
            .is_some()
        {
            continue;
        }
        let mut key = Vec::with_capacity(keys.len());
        let mut complete = true;
        for (i, key_model) in key_models.iter().enumerate() {
            let value: Option<String> = row.get(i + 1);
            let translated = match (key_model, value) {
                (KeyValue::CompanyJson, Some(value)) => {
                    let remapped = companies
                        .as_ref()
                        .and_then(|c| canonical_company_json(&value, Some(c)));
                    if remapped.is_none() {
                        complete = false;
                    }
                    remapped
                }
                (KeyValue::Id(key_model), Some(value)) => {
                    let mapped = value
                        .parse::<i32>()
                        .ok()
                        .and_then(|id| mappings.get(key_model).and_then(|m| m.get(id)));
                    match mapped {
                        Some(id) => Some(id.to_string()),
                        None => {
                            complete = false;
                            None
                        }
                    }
                }
                (_, value) => value,
            };
            key.push(translated);
        }
        if !complete || key.iter().all(Option::is_none) {
            continue;
        }
        if let Some(&target_id) = by_key.get(&key) {
            if taken.entry(model.clone()).or_default().insert(target_id) {
                mappings
                    .entry(&model)
                    .insert(source_id, target_id, How::NaturalKey);
                found += 1;
            } else if shared {
                left_over.push((source_id, target_id));
            }
        }
    }
    // After every one-to-one match, so that a key both sides have twice still pairs up.
    for (source_id, target_id) in left_over {
        mappings
            .entry(&model)
            .insert(source_id, target_id, How::NaturalKey);
        found += 1;
    }
    Ok(found)
}

/// How a natural key column's value is compared with the target's.
enum KeyValue {
    /// As text.
    Plain,
    /// An id of this model, compared through its mapping.
    Id(String),
    /// A jsonb object keyed by company id, compared whole with its keys remapped.
    CompanyJson,
}

/// A jsonb object keyed by company id as one comparable text: keys through `companies` when
/// given (a source value), in a fixed order. `None` when it is no object or a company is not
/// mapped.
fn canonical_company_json(text: &str, companies: Option<&IdMap>) -> Option<String> {
    let serde_json::Value::Object(object) = serde_json::from_str(text).ok()? else {
        return None;
    };
    let mut keyed = BTreeMap::new();
    for (company, value) in object {
        let company = match companies {
            Some(map) => map.remap_key(&company)?,
            None => company,
        };
        keyed.insert(company, value);
    }
    serde_json::to_string(&keyed).ok()
}

/// A finding of the id plan, recorded in `odoo_migrate.problems` in the plan's transaction.
struct PlanProblem<'a> {
    severity: &'a str,
    kind: &'a str,
    model: &'a str,
    table: Option<&'a str>,
    source_id: Option<i32>,
    message: &'a str,
    detail: Option<&'a serde_json::Value>,
}

impl PlanProblem<'_> {
    async fn record(&self, transaction: &Transaction<'_>, run_id: i64) -> Result<()> {
        transaction
            .execute(
                "INSERT INTO odoo_migrate.problems (run_id, severity, kind, model, table_name, source_id, message, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &run_id,
                    &self.severity,
                    &self.kind,
                    &self.model,
                    &self.table,
                    &self.source_id.map(i64::from),
                    &self.message,
                    &self.detail,
                ],
            )
            .await
            .with_context(|| format!("cannot record a problem of kind {} for {}", self.kind, self.model))?;
        Ok(())
    }
}

/// Records external ids that could not follow their record, each as a warning of `kind`.
async fn record_external_id_problems(
    transaction: &Transaction<'_>,
    run_id: i64,
    kind: &str,
    found: &[(String, i32, String, serde_json::Value)],
) -> Result<()> {
    for (model, source_id, message, detail) in found {
        PlanProblem {
            severity: "warning",
            kind,
            model,
            table: None,
            source_id: Some(*source_id),
            message,
            detail: Some(detail),
        }
        .record(transaction, run_id)
        .await?;
    }
    Ok(())
}

/// Matches the attachments that hold a binary field (`res_field`) of a matched record to the
/// target's attachment of the same field of that record: Odoo reads one attachment per field and
/// record, so a second one beside it would be a duplicate. Which content wins is the owner's
/// `on_match` (see [`TablePlan::update_owners`]). Returns how many were matched.
async fn match_field_attachments(
    source: &Client,
    transaction: &Transaction<'_>,
    rules: &Rules,
    mappings: &mut Mappings,
    taken: &mut BTreeMap<String, HashSet<i32>>,
) -> Result<usize> {
    const FIELD_ATTACHMENTS: &str = "SELECT id, res_model, res_field, res_id FROM ir_attachment \
         WHERE res_field IS NOT NULL AND res_model IS NOT NULL AND res_id > 0 ORDER BY id";
    let renamed = rules.renamed_models();
    let target_rows = transaction
        .query(FIELD_ATTACHMENTS, &[])
        .await
        .context("cannot read the target's attachments of binary fields")?;
    let mut by_field: HashMap<(String, String, i32), i32> = HashMap::new();
    for row in &target_rows {
        by_field
            .entry((row.get(1), row.get(2), row.get(3)))
            .or_insert(row.get(0));
    }
    if by_field.is_empty() {
        return Ok(0);
    }
    let source_rows = source
        .query(FIELD_ATTACHMENTS, &[])
        .await
        .context("cannot read the source's attachments of binary fields")?;
    let mut found = 0;
    for row in &source_rows {
        let (id, owner_model, field, owner_id): (i32, String, String, i32) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if mappings
            .get("ir.attachment")
            .and_then(|m| m.get(id))
            .is_some()
        {
            continue;
        }
        let Some(owner_target) = mappings.get(&owner_model).and_then(|m| {
            m.get(owner_id)
                .filter(|_| m.how(owner_id).is_some_and(|h| h != How::Created))
        }) else {
            continue;
        };
        let target_model = renamed.get(&owner_model).cloned().unwrap_or(owner_model);
        if let Some(&target_id) = by_field.get(&(target_model, field, owner_target))
            && taken
                .entry("ir.attachment".to_string())
                .or_default()
                .insert(target_id)
        {
            mappings
                .entry("ir.attachment")
                .insert(id, target_id, How::NaturalKey);
            found += 1;
        }
    }
    Ok(found)
}

/// A key column as text; a translated (jsonb) column by its English value, so that a varchar
/// name in 16 meets its jsonb successor in 19.
fn text_expr(alias: &str, column: &str, data_type: &str) -> String {
    if data_type == "jsonb" {
        format!("({alias}.{} ->> 'en_US')", quote_ident(column))
    } else if data_type.starts_with("numeric") || data_type == "double precision" {
        format!(
            "trim_scale(({alias}.{})::numeric)::text",
            quote_ident(column)
        )
    } else {
        format!("({alias}.{})::text", quote_ident(column))
    }
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
    Ok(mappings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_prefixes_follow_the_company_mapping() {
        let mut companies = IdMap::default();
        companies.insert(3, 2, How::Created);
        assert_eq!(
            with_company_prefix("3_pcg_1011", Some(&companies)).as_deref(),
            Some("2_pcg_1011")
        );
        assert_eq!(with_company_prefix("4_pcg_1011", Some(&companies)), None);
        assert_eq!(with_company_prefix("pcg_1011", Some(&companies)), None);
        assert_eq!(with_company_prefix("3_pcg", None), None);
    }

    #[test]
    fn dense_map_answers_only_for_mapped_ids() {
        let mut map = IdMap::default();
        map.insert(5, 126, How::Xmlid);
        map.insert(2, 900, How::Created);
        assert_eq!(map.get(5), Some(126));
        assert_eq!(map.how(2), Some(How::Created));
        assert_eq!(map.get(3), None);
        assert_eq!(map.get(-1), None);
        assert_eq!(map.get(1_000_000), None);
        assert_eq!(map.mapped, 2);
    }

    #[test]
    fn a_huge_or_negative_id_is_kept_aside_without_gigabytes() {
        let mut map = IdMap::default();
        map.reserve_for(i32::MAX, 3);
        for (source, target) in [(1, 10), (i32::MAX, 11), (-7, 12), (2_000_000_000, 13)] {
            map.insert(source, target, How::Created);
        }
        map.insert(i32::MAX, 14, How::Xmlid);
        assert_eq!(map.get(1), Some(10));
        assert_eq!(map.get(i32::MAX), Some(14));
        assert_eq!(map.how(i32::MAX), Some(How::Xmlid));
        assert_eq!(map.get(-7), Some(12));
        assert_eq!(map.get(2_000_000_000), Some(13));
        assert_eq!(map.get(1_999_999_999), None);
        assert_eq!(map.get(2), None);
        assert_eq!(map.mapped, 4);
        assert!(map.heap_bytes() < 1 << 20, "{} bytes", map.heap_bytes());
        assert_eq!(
            map.mapped_between(-10, i32::MAX),
            vec![-7, 1, 2_000_000_000, i32::MAX]
        );
        assert_eq!(map.mapped_between(2, 2_000_000_000), vec![2_000_000_000]);
    }
}
