//! One source row rewritten for the target: where it goes (inserted, updated or skipped) and each
//! of its columns with its ids translated through the mappings. Works on one decoded tuple at a
//! time, in memory; it never talks to a database.

use std::collections::BTreeMap;

use super::values::{XmlidTargets, id_list, keyed_json, polymorphic, reference};
use super::{CopyOutcome, ProblemLog};
use crate::io::codec::{Tuple, Writer};
use crate::plan::ids::{How, IdMap, Mappings};
use crate::plan::tables::{ColumnPlan, Output, TablePlan};
use crate::rules::pairing::TableKind;

/// Where a row goes.
pub(super) enum Destination {
    Insert,
    Update,
    Skip,
}

/// A row given up: one of its references could not be kept and its column may not be NULL (or its
/// record belongs to a model that is not migrated).
pub(super) struct Rejected;

/// One row being written: the tuple read, its source id, and where its values and problems go.
pub(super) struct Row<'r, 't> {
    pub tuple: &'r Tuple<'t>,
    pub source_id: i32,
    pub out: &'r mut Writer,
    pub problems: &'r mut ProblemLog,
    /// Room for a rewritten value, reused from row to row.
    pub scratch: &'r mut Vec<u8>,
}

/// What rewriting the rows of one plan needs, looked up once per copy rather than per row.
pub(super) struct Rewriter<'a> {
    pub(super) plan: &'a TablePlan,
    mappings: &'a Mappings,
    renamed_models: &'a BTreeMap<String, String>,
    /// The map of the table's own ids (model tables only).
    own_map: Option<&'a IdMap>,
    /// Per column, the map of the ids it holds: a many2one's model, or the model whose ids key a
    /// jsonb object.
    column_maps: Vec<Option<&'a IdMap>>,
    /// Per column, for a jsonb object keyed by ids, the map of its values when they are ids too.
    value_maps: Vec<Option<&'a IdMap>>,
    /// The field naming the model of the record the row belongs to (`res_model`), if any.
    owner_field: Option<usize>,
    /// Per column, the external ids of the target for an [`Output::Xmlid`] column.
    xmlid_targets: Vec<Option<XmlidTargets>>,
}

impl<'a> Rewriter<'a> {
    pub(super) fn new(
        plan: &'a TablePlan,
        mappings: &'a Mappings,
        renamed_models: &'a BTreeMap<String, String>,
        xmlid_targets: Vec<Option<XmlidTargets>>,
    ) -> Rewriter<'a> {
        let own_map = if plan.kind == TableKind::Model {
            mappings.get(&plan.model)
        } else {
            None
        };
        let column_maps = plan
            .columns
            .iter()
            .map(|c| match &c.output {
                Output::Remap { model, .. } => mappings.get(model),
                Output::KeyedJson { key_model, .. } => mappings.get(key_model),
                Output::IdList { model, .. } => mappings.get(model),
                _ => None,
            })
            .collect();
        let value_maps = plan
            .columns
            .iter()
            .map(|c| match &c.output {
                Output::KeyedJson {
                    value_model: Some(model),
                    ..
                } => mappings.get(model),
                _ => None,
            })
            .collect();
        Rewriter {
            plan,
            mappings,
            renamed_models,
            own_map,
            column_maps,
            value_maps,
            owner_field: plan.owner_model_field(),
            xmlid_targets,
        }
    }

    /// The row's own source id; 0 for a relation row, which has none.
    pub(super) fn source_id(&self, tuple: &Tuple<'_>) -> i32 {
        self.plan
            .columns
            .iter()
            .find_map(|c| match c.output {
                Output::OwnId { field } => tuple.int4(field),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// Where the row goes. Matched rows kept as they are, and rows given up, are accounted for in
    /// `outcome` here; a model row that the id plan does not know is reported.
    pub(super) fn destination(
        &self,
        tuple: &Tuple<'_>,
        source_id: i32,
        outcome: &mut CopyOutcome,
        problems: &mut ProblemLog,
    ) -> Destination {
        let plan = self.plan;
        let map = match (plan.kind, self.own_map) {
            (TableKind::Relation, _) => return Destination::Insert,
            (TableKind::Model, None) => return Destination::Skip,
            (TableKind::Model, Some(map)) => map,
        };
        let owner_model = self.owner_field.and_then(|f| tuple.field(f));
        let mapped = (map.get(source_id), map.how(source_id));
        if plan.update_only {
            return match mapped {
                (Some(_), Some(How::Created)) => Destination::Update,
                (Some(_), Some(_)) if plan.updates_match(owner_model) => Destination::Update,
                _ => Destination::Skip,
            };
        }
        match mapped {
            (Some(_), Some(How::Created)) if self.mappings.is_fresh(&plan.model, source_id) => {
                Destination::Insert
            }
            // A catch-up: a record an earlier run created, written over where it differs.
            (Some(_), Some(How::Created)) => Destination::Update,
            (Some(_), Some(_)) => {
                outcome.matched += 1;
                if plan.updates_match(owner_model) {
                    Destination::Update
                } else {
                    outcome.mapped_ids.push(source_id);
                    Destination::Skip
                }
            }
            _ if self.mappings.is_removed(&plan.model, source_id) => {
                outcome.rejected += 1;
                outcome.rejected_ids.push(source_id);
                Destination::Skip
            }
            _ => {
                problems.add("row_not_planned", "id", &plan.model, source_id);
                outcome.rejected += 1;
                outcome.rejected_ids.push(source_id);
                Destination::Skip
            }
        }
    }

    /// Writes every column of the row into `row.out`, in the plan's order; stops at the first
    /// column that rejects the row (the caller takes back what was written of it).
    pub(super) fn write(&self, row: &mut Row<'_, '_>) -> Result<(), Rejected> {
        for (index, column) in self.plan.columns.iter().enumerate() {
            self.write_column(index, column, row)?;
        }
        Ok(())
    }

    /// Writes one column's value.
    fn write_column(
        &self,
        index: usize,
        column: &ColumnPlan,
        row: &mut Row<'_, '_>,
    ) -> Result<(), Rejected> {
        let tuple = row.tuple;
        match &column.output {
            Output::Copy { field } => row.out.field(tuple.field(*field)),
            Output::OwnId { field } => {
                match self
                    .own_map
                    .and_then(|m| m.get(tuple.int4(*field).unwrap_or(0)))
                {
                    Some(target) => row.out.int4(target),
                    None => row.out.null(),
                }
            }
            Output::Remap { field, model } => {
                self.write_remap(index, column, *field, model, row)?;
            }
            Output::Polymorphic {
                field,
                model_field,
                owner,
            } => {
                self.write_polymorphic(column, *field, *model_field, *owner, row)?;
            }
            Output::Reference { field } => self.write_reference(column, *field, row),
            Output::Xmlid { field, .. } => match &self.xmlid_targets[index] {
                Some(targets) => row.out.int4(targets.id_of(tuple.field(*field))),
                None => row.out.null(),
            },
            Output::KeyedJson {
                field,
                key_model,
                value_model,
            } => {
                let model = value_model.as_deref().unwrap_or(key_model);
                self.write_keyed_json(index, column, *field, model, row);
            }
            Output::IdList { field, model } => {
                self.write_id_list(index, column, *field, model, row);
            }
        }
        Ok(())
    }

    /// A many2one: the mapped id, else NULL and reported (the row is rejected if the column may
    /// not be NULL).
    fn write_remap(
        &self,
        index: usize,
        column: &ColumnPlan,
        field: usize,
        model: &str,
        row: &mut Row<'_, '_>,
    ) -> Result<(), Rejected> {
        let Some(value) = row.tuple.int4(field) else {
            row.out.null();
            return Ok(());
        };
        if let Some(target) = self.column_maps[index].and_then(|m| m.get(value)) {
            row.out.int4(target);
            return Ok(());
        }
        // A relation row has no id of its own: its example is the missing record.
        let example = if self.plan.kind == TableKind::Relation {
            value
        } else {
            row.source_id
        };
        row.problems
            .add("unmapped_reference", &column.target_column, model, example);
        unmapped(column, row)
    }

    /// A `res_model`/`res_id` pair's id: the mapped id, else NULL and reported; a record of a model
    /// that is not migrated at all rejects the row when it is the row's owner (`res_id`), and is
    /// NULL and reported for another polymorphic id (a rule's `model_in`).
    fn write_polymorphic(
        &self,
        column: &ColumnPlan,
        field: usize,
        model_field: usize,
        owner: bool,
        row: &mut Row<'_, '_>,
    ) -> Result<(), Rejected> {
        match polymorphic(row.tuple, field, model_field, self.mappings) {
            Ok(Some(target)) => row.out.int4(target),
            Ok(None) => row.out.null(),
            Err(model) if owner && self.mappings.get(&model).is_none() => {
                // The record's model is not migrated at all: the row has nothing to belong to in
                // the target.
                row.problems.add(
                    "record_of_unmigrated_model",
                    &column.target_column,
                    &model,
                    row.source_id,
                );
                return Err(Rejected);
            }
            Err(model) => {
                row.problems.add(
                    "unmapped_reference",
                    &column.target_column,
                    &model,
                    row.source_id,
                );
                return unmapped(column, row);
            }
        }
        Ok(())
    }

    /// A `model,id` reference: rewritten, else NULL and reported.
    fn write_reference(&self, column: &ColumnPlan, field: usize, row: &mut Row<'_, '_>) {
        let Some(text) = row.tuple.field(field) else {
            row.out.null();
            return;
        };
        match reference(text, self.mappings, self.renamed_models, row.scratch) {
            Ok(()) => row.out.bytes(row.scratch),
            Err(model) => {
                row.problems.add(
                    "unmapped_reference",
                    &column.target_column,
                    &model,
                    row.source_id,
                );
                row.out.null();
            }
        }
    }

    /// A jsonb object keyed by ids: rewritten without the entries that could not be mapped (the
    /// drop reported against `model`); NULL and reported when it is not valid jsonb.
    fn write_keyed_json(
        &self,
        index: usize,
        column: &ColumnPlan,
        field: usize,
        model: &str,
        row: &mut Row<'_, '_>,
    ) {
        let Some(bytes) = row.tuple.field(field) else {
            row.out.null();
            return;
        };
        match keyed_json(
            bytes,
            self.column_maps[index],
            self.value_maps[index],
            row.scratch,
        ) {
            Ok(dropped) => {
                if dropped > 0 {
                    row.problems.add(
                        "unmapped_reference",
                        &column.target_column,
                        model,
                        row.source_id,
                    );
                }
                row.out.bytes(row.scratch)
            }
            Err(reason) => {
                row.problems
                    .add(reason, &column.target_column, "jsonb", row.source_id);
                row.out.null();
            }
        }
    }
}

impl Rewriter<'_> {
    /// A text list of ids: each remapped, sorted by target id; the ids that could not be mapped
    /// are left out and reported against `model`.
    fn write_id_list(
        &self,
        index: usize,
        column: &ColumnPlan,
        field: usize,
        model: &str,
        row: &mut Row<'_, '_>,
    ) {
        let Some(bytes) = row.tuple.field(field) else {
            row.out.null();
            return;
        };
        let dropped = id_list(bytes, self.column_maps[index], row.scratch);
        if dropped > 0 {
            row.problems.add(
                "unmapped_reference",
                &column.target_column,
                model,
                row.source_id,
            );
        }
        row.out.bytes(row.scratch);
    }
}

/// A reference that could not be kept (already reported): NULL, or the row rejected when the
/// column may not be NULL.
fn unmapped(column: &ColumnPlan, row: &mut Row<'_, '_>) -> Result<(), Rejected> {
    if column.not_null {
        return Err(Rejected);
    }
    row.out.null();
    Ok(())
}
