//! External ids in the id plan: step 1 of the planning matches source records to target records
//! by external id (through the rules' renames, company-prefixed names following the company's
//! mapping); records Odoo 19 deleted (`not_in_target`) are left out; and the external ids of
//! records created anew are planned in `odoo_migrate.xmlid_plan`. What cannot follow its record is
//! said in `odoo_migrate.problems`. Reads both `ir_model_data` tables; writes the side schema only.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde_json::Value;
use tokio_postgres::{Client, Row, Transaction};

use super::Planning;
use super::allocate::allocate;
use super::map::{How, IdMap, Mappings};
use crate::catalog::Catalog;
use crate::rules::Rules;
use crate::rules::pairing::TablePair;
use crate::side_schema::problems::{Problem, record_problem};

/// The target's external ids: (module, name) → (model, record id).
pub(super) type TargetXmlids = HashMap<(String, String), (String, i32)>;

/// The external ids of both sides, read at once.
pub(super) struct ExternalIds {
    pub(super) target: TargetXmlids,
    /// The source's `ir_model_data` rows, companies first, then by model, modules' own names before
    /// the others.
    pub(super) source: Vec<Row>,
}

/// Reads the external ids of both sides at once.
pub(super) async fn read(source: &Client, transaction: &Transaction<'_>) -> Result<ExternalIds> {
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
    let target: TargetXmlids = target_rows
        .context("cannot read the target's ir_model_data")?
        .iter()
        .map(|row| ((row.get(0), row.get(1)), (row.get(2), row.get(3))))
        .collect();
    let source = source_xmlids.context("cannot read the source's ir_model_data")?;
    Ok(ExternalIds { target, source })
}

/// An external id of the source; one that is recreated with its record carries the module and
/// name it gets in the target.
#[derive(Clone)]
pub(super) struct SourceXmlid {
    pub(super) model: String,
    pub(super) source_id: i32,
    module: String,
    name: String,
    /// The name starts with a company id (`3_pcg_1011`) that follows the company's mapping.
    company_prefixed: bool,
    noupdate: bool,
    create_date: Option<SystemTime>,
    write_date: Option<SystemTime>,
}

impl SourceXmlid {
    /// A row of the source's `ir_model_data` as [`read`] selects it.
    fn from_row(row: &Row) -> SourceXmlid {
        SourceXmlid {
            model: row.get(0),
            source_id: row.get(1),
            module: row.get(2),
            name: row.get(3),
            company_prefixed: false,
            noupdate: row.get(4),
            create_date: row.get(5),
            write_date: row.get(6),
        }
    }
}

/// An external id that could not follow its record, said as a warning.
pub(super) struct ExternalIdProblem {
    pub(super) model: String,
    pub(super) source_id: i32,
    message: String,
    detail: Value,
}

/// What matching by external id leaves beside the mappings it fills.
#[derive(Default)]
pub(super) struct XmlidMatching {
    /// How many records were matched.
    pub(super) found: usize,
    /// External ids of records that no target external id matched: recreated if their record is.
    pub(super) to_create: Vec<SourceXmlid>,
    /// Target records matched by external id: (model, target id) → (source id, the external id).
    claimed: HashMap<(String, i32), (i32, String)>,
    /// External ids that point at different records on the two sides, said instead of dropped.
    pub(super) conflicts: Vec<ExternalIdProblem>,
    /// Every external id the source gives a planned record, as the target names it.
    named: HashSet<String>,
}

/// Step 1 of the planning: maps each planned source record to the target record its external id
/// names there (companies first, so that company-prefixed names find their company's target id).
pub(super) fn match_external_ids(
    rules: &Rules,
    xmlids: &ExternalIds,
    planning: &mut Planning,
) -> XmlidMatching {
    let mut matching = XmlidMatching::default();
    for row in &xmlids.source {
        let xmlid = SourceXmlid::from_row(row);
        let Some(ids) = planning.source_ids.get(&xmlid.model) else {
            continue;
        };
        if ids.binary_search(&xmlid.source_id).is_err() {
            continue;
        }
        matching.match_one(rules, &xmlids.target, planning, xmlid);
    }
    matching
}

impl XmlidMatching {
    /// Matches one planned source record by its external id `x`, or keeps `x` to create.
    fn match_one(
        &mut self,
        rules: &Rules,
        target_xmlids: &TargetXmlids,
        planning: &mut Planning,
        x: SourceXmlid,
    ) {
        let (model, res_id) = (&x.model, x.source_id);
        let target_model = rules.model_in_target(model);
        // Companies come first (see the ORDER BY): a name that starts with a company id is looked
        // up with the target id of that company; a company still to be created has no such
        // records in the target yet.
        let (candidate, company_prefixed) =
            match rules.xmlid_rule_in_target(model, &x.module, &x.name) {
                Some((module, name, prefixed)) => (Some((module, name)), prefixed),
                None => (None, false),
            };
        let lookup = match (&candidate, company_prefixed) {
            (Some((module, name)), true) => {
                with_company_prefix(name, planning.mappings.get("res.company"))
                    .map(|n| (module.clone(), n))
            }
            (candidate, _) => candidate.clone(),
        };
        let found = lookup
            .as_ref()
            .and_then(|key| target_xmlids.get(key))
            .filter(|(m, id)| {
                m == target_model
                    && planning
                        .target_ids
                        .get(model)
                        .is_some_and(|ids| ids.contains(id))
            })
            .map(|(_, id)| *id);
        let xmlid = lookup.as_ref().map_or_else(
            || format!("{}.{}", x.module, x.name),
            |(m, n)| format!("{m}.{n}"),
        );
        self.named.insert(xmlid.clone());
        if let Some((module, name)) = &candidate {
            self.named.insert(format!("{module}.{name}"));
        }
        let matched = planning.mappings.entry(model).get(res_id);
        match (found, matched) {
            (Some(target_id), None) => {
                self.claim(planning, &x, target_model, target_id, xmlid);
            }
            (Some(target_id), Some(matched)) if matched != target_id => {
                let by = self
                    .claimed
                    .get(&(model.clone(), matched))
                    .map_or_else(String::new, |(_, by)| format!(" by {by}"));
                self.conflicts.push(already_matched(
                    &x,
                    target_model,
                    target_id,
                    &xmlid,
                    matched,
                    &by,
                ));
            }
            (Some(_), Some(_)) => {}
            (None, _) => {
                let (module, name) = candidate.unwrap_or((x.module.clone(), x.name.clone()));
                self.to_create.push(SourceXmlid {
                    module,
                    name,
                    company_prefixed,
                    ..x
                });
            }
        }
    }

    /// Maps source record `x` to `target_id` unless another source record took that target
    /// record first, which is then said as a conflict.
    fn claim(
        &mut self,
        planning: &mut Planning,
        x: &SourceXmlid,
        target_model: &str,
        target_id: i32,
        xmlid: String,
    ) {
        let (model, res_id) = (&x.model, x.source_id);
        if planning
            .taken
            .entry(model.clone())
            .or_default()
            .insert(target_id)
        {
            planning
                .mappings
                .entry(model)
                .insert(res_id, target_id, How::Xmlid);
            self.found += 1;
            self.claimed
                .insert((model.clone(), target_id), (res_id, xmlid));
        } else if let Some((other, by)) = self.claimed.get(&(model.clone(), target_id)) {
            self.conflicts.push(ExternalIdProblem {
                model: model.clone(),
                source_id: res_id,
                message: format!(
                    "external id {xmlid} of {model} id {res_id} names {target_model} id {target_id} in the target, \
                     which is already the counterpart of source id {other} (by {by}); id {res_id} is not matched \
                     through it (a new record is made unless another key matches it): if both are one record, \
                     merge them in the source, else give one of them another external id"
                ),
                detail: serde_json::json!({
                    "external_id": xmlid, "source_id": res_id, "target_id": target_id,
                    "matched_source_id": other, "matched_by": by,
                }),
            });
        }
    }
}

/// The conflict of an external id naming `target_id` when its record is already matched to
/// `matched` (`by` says how, or is empty).
fn already_matched(
    x: &SourceXmlid,
    target_model: &str,
    target_id: i32,
    xmlid: &str,
    matched: i32,
    by: &str,
) -> ExternalIdProblem {
    let (model, res_id) = (&x.model, x.source_id);
    ExternalIdProblem {
        model: model.clone(),
        source_id: res_id,
        message: format!(
            "external id {xmlid} of {model} id {res_id} names {target_model} id {target_id} in the target, \
             but id {res_id} is already matched to {target_model} id {matched}{by}; the target's {xmlid} \
             is left on id {target_id}: remove one of the two external ids in the source if they are \
             not meant for one record"
        ),
        detail: serde_json::json!({
            "external_id": xmlid, "source_id": res_id, "target_id": target_id,
            "matched_target_id": matched,
        }),
    }
}

/// Records external ids that could not follow their record, each as a warning of `kind`.
pub(super) async fn record_problems(
    transaction: &Transaction<'_>,
    run_id: i64,
    kind: &str,
    found: &[ExternalIdProblem],
) -> Result<()> {
    for problem in found {
        record_problem(
            transaction,
            run_id,
            &Problem {
                severity: "warning",
                kind,
                model: Some(&problem.model),
                table: None,
                column: None,
                source_id: Some(i64::from(problem.source_id)),
                message: &problem.message,
                detail: Some(&problem.detail),
            },
        )
        .await?;
    }
    Ok(())
}

/// Step 2c of the planning: records Odoo 19 deleted (the rules' `not_in_target`) are never
/// created, unless the target has a counterpart; each left out is said as `info`.
pub(super) async fn leave_out_removed(
    transaction: &Transaction<'_>,
    run_id: i64,
    rules: &Rules,
    source_xmlids: &[Row],
    planned: &[&TablePair],
    mappings: &mut Mappings,
) -> Result<()> {
    for row in source_xmlids {
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
        record_problem(
            transaction,
            run_id,
            &Problem {
                severity: "info",
                kind: "removed_in_target",
                model: Some(&model),
                table: table.as_deref(),
                column: None,
                source_id: Some(i64::from(res_id)),
                message: &format!(
                    "{model} id {res_id} ({xmlid}) is not migrated: Odoo 19 deleted this record (rules: not_in_target)"
                ),
                detail: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// The last step of the planning: the external ids of the records created anew, in
/// `odoo_migrate.xmlid_plan` with the ids of their `ir_model_data` rows; those the target already
/// gives to another record, or that name several source records, are said instead.
pub(super) async fn store_to_create(
    transaction: &Transaction<'_>,
    target_catalog: &Catalog,
    target_xmlids: &TargetXmlids,
    to_create: &[SourceXmlid],
    mappings: &Mappings,
    run_id: i64,
) -> Result<()> {
    let (taken_names, mut created) = of_created_records(to_create, mappings, target_xmlids);
    let taken = taken_problems(target_xmlids, &taken_names);
    record_problems(transaction, run_id, "external_id_taken", &taken).await?;
    // Deduplicated by external id, in a stable order, before their rows get ids.
    created.sort_by(|a, b| {
        (&a.module, &a.name, &a.model, a.source_id).cmp(&(
            &b.module,
            &b.name,
            &b.model,
            b.source_id,
        ))
    });
    let duplicates = duplicates(&created);
    record_problems(transaction, run_id, "external_id_duplicate", &duplicates).await?;
    created.dedup_by(|a, b| a.module == b.module && a.name == b.name);
    insert_xmlid_plan(transaction, target_catalog, &created, run_id).await
}

/// The external ids whose record is created, with company-prefixed names following the company's
/// mapping: (those the target already has, the others).
fn of_created_records(
    to_create: &[SourceXmlid],
    mappings: &Mappings,
    target_xmlids: &TargetXmlids,
) -> (Vec<SourceXmlid>, Vec<SourceXmlid>) {
    let created: Vec<&SourceXmlid> = to_create
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
    created
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
        .partition(|x| target_xmlids.contains_key(&(x.module.clone(), x.name.clone())))
}

/// A catch-up: the external ids earlier runs created that the source no longer gives their
/// record (removed or renamed since), listed for the catch-up to delete.
pub(super) async fn store_lost(
    transaction: &Transaction<'_>,
    matching: &XmlidMatching,
    run_id: i64,
) -> Result<()> {
    let named: Vec<&str> = matching.named.iter().map(String::as_str).collect();
    transaction
        .execute(
            "INSERT INTO odoo_migrate.catch_up_lost_xmlids (run_id, module, name) \
             SELECT $1, x.module, x.name FROM odoo_migrate.xmlid_plan x \
             JOIN odoo_migrate.runs r ON r.id = x.run_id AND r.status <> 'rolled_back' \
             WHERE x.run_id <> $1 AND NOT (x.module || '.' || x.name = ANY($2::text[])) \
             ON CONFLICT DO NOTHING",
            &[&run_id, &named],
        )
        .await
        .context("cannot list the external ids the source no longer gives")?;
    Ok(())
}

/// A catch-up: whether the target already gives this external id to the record its source
/// record became (nothing to create for it).
pub(super) fn already_given(x: &SourceXmlid, mappings: &Mappings, target: &TargetXmlids) -> bool {
    let Some(target_id) = mappings.get(&x.model).and_then(|m| m.get(x.source_id)) else {
        return false;
    };
    let name = if x.company_prefixed {
        with_company_prefix(&x.name, mappings.get("res.company")).unwrap_or_else(|| x.name.clone())
    } else {
        x.name.clone()
    };
    target
        .get(&(x.module.clone(), name))
        .is_some_and(|(_, id)| *id == target_id)
}

/// An external id the target gives to another record cannot follow this one: said, not dropped.
fn taken_problems(
    target_xmlids: &TargetXmlids,
    taken_names: &[SourceXmlid],
) -> Vec<ExternalIdProblem> {
    taken_names
        .iter()
        .filter_map(|x| {
            let (model, id) = target_xmlids.get(&(x.module.clone(), x.name.clone()))?;
            Some(ExternalIdProblem {
                model: x.model.clone(),
                source_id: x.source_id,
                message: format!(
                    "external id {}.{} of {} id {} is not given to its new record: the target's {}.{} already names {model} id {id}",
                    x.module, x.name, x.model, x.source_id, x.module, x.name
                ),
                detail: serde_json::json!({
                    "module": x.module, "name": x.name, "source_id": x.source_id,
                    "target_model": model, "target_res_id": id,
                }),
            })
        })
        .collect()
}

/// One external id on several source records (a source whose unique index on module and name was
/// lost, or two names that the rules make one): it follows the first only, and says so. `created`
/// is sorted by external id.
fn duplicates(created: &[SourceXmlid]) -> Vec<ExternalIdProblem> {
    let mut duplicates = Vec::new();
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
            duplicates.push(ExternalIdProblem {
                model: other.model.clone(),
                source_id: other.source_id,
                message: format!(
                    "external id {xmlid} names more than one record in the source; it is given to {kept_at} only, \
                     not to {} id {}: remove or rename the other external ids in the source",
                    other.model, other.source_id
                ),
                detail: serde_json::json!({ "external_id": xmlid, "source_id": other.source_id, "kept": kept_at }),
            });
        }
    }
    duplicates
}

/// Gives each external id to create the id of its future `ir_model_data` row (from the target's
/// sequence) and stores them all in `odoo_migrate.xmlid_plan`.
async fn insert_xmlid_plan(
    transaction: &Transaction<'_>,
    target_catalog: &Catalog,
    created: &[SourceXmlid],
    run_id: i64,
) -> Result<()> {
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
    let create_dates: Vec<Option<SystemTime>> = created.iter().map(|x| x.create_date).collect();
    let write_dates: Vec<Option<SystemTime>> = created.iter().map(|x| x.write_date).collect();
    transaction
        .execute(
            "INSERT INTO odoo_migrate.xmlid_plan (model, source_id, module, name, noupdate, create_date, write_date, target_id, run_id) \
             SELECT *, $9 FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::boolean[], $6::timestamp[], $7::timestamp[], $8::int[]) \
             ON CONFLICT (module, name) DO NOTHING",
            &[&models, &ids, &modules, &names, &noupdates, &create_dates, &write_dates, &row_ids, &run_id],
        )
        .await
        .context("cannot store the external ids to create")?;
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
}
