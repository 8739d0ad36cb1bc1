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

#[cfg(test)]
mod tests {
    //! One source row at a time through a [`Rewriter`], on hand-made mappings: where it goes, what
    //! each column becomes, and what is reported.

    use super::*;
    use crate::io::codec::Reader;
    use crate::rules::OnMatch;

    /// res.partner 1 and 2 matched (external id, natural key), 3 created by this copy, 4 left out
    /// on purpose; res.company 1 → 1 and 2 → 7; product.product 3 → 30, 7 → 8; account.invoice
    /// (account.move in 19) 3 → 40.
    fn mappings() -> Mappings {
        Mappings::of(
            &[
                ("res.partner", 1, 11, How::Xmlid),
                ("res.partner", 2, 12, How::NaturalKey),
                ("res.partner", 3, 13, How::Created),
                ("res.company", 1, 1, How::Xmlid),
                ("res.company", 2, 7, How::Created),
                ("product.product", 3, 30, How::Created),
                ("product.product", 7, 8, How::Created),
                ("account.invoice", 3, 40, How::Created),
            ],
            &[("res.partner", 4)],
        )
    }

    fn column(name: &str, not_null: bool, output: Output) -> ColumnPlan {
        ColumnPlan::for_tests(name, not_null, output)
    }

    fn plan(kind: TableKind, model: &str, columns: Vec<ColumnPlan>) -> TablePlan {
        TablePlan::for_tests(kind, model, columns)
    }

    /// A partner row: its id, a many2one to a partner, and the `res_model`/`res_id` pair.
    fn partner_plan(parent_not_null: bool) -> TablePlan {
        plan(
            TableKind::Model,
            "res.partner",
            vec![
                column("id", true, Output::OwnId { field: 0 }),
                column(
                    "parent_id",
                    parent_not_null,
                    Output::Remap {
                        field: 1,
                        model: "res.partner".to_string(),
                    },
                ),
                column(
                    "res_id",
                    false,
                    Output::Polymorphic {
                        field: 2,
                        model_field: 3,
                        owner: true,
                    },
                ),
                column("res_model", false, Output::Copy { field: 3 }),
            ],
        )
    }

    fn int(value: i32) -> Option<Vec<u8>> {
        Some(value.to_be_bytes().to_vec())
    }

    fn text(value: &str) -> Option<Vec<u8>> {
        Some(value.as_bytes().to_vec())
    }

    /// Decodes a binary COPY stream into its tuples' fields.
    fn decode(stream: &[u8]) -> Vec<Vec<Option<Vec<u8>>>> {
        let mut reader = Reader::new();
        reader.feed(stream);
        let mut tuples = Vec::new();
        while let Some(tuple) = reader.next_tuple().expect("a valid COPY stream") {
            let fields = (0..tuple.len())
                .map(|i| tuple.field(i).map(<[u8]>::to_vec))
                .collect();
            tuples.push(fields);
        }
        tuples
    }

    /// What one row became.
    struct Rewritten {
        destination: Destination,
        /// The written fields, or `None` when the row was rejected.
        fields: Option<Vec<Option<Vec<u8>>>>,
        outcome: CopyOutcome,
        problems: Vec<(&'static str, String, String, Vec<i32>)>,
    }

    fn rewrite(plan: &TablePlan, mappings: &Mappings, fields: &[Option<Vec<u8>>]) -> Rewritten {
        let renamed = BTreeMap::from([("account.invoice".to_string(), "account.move".to_string())]);
        let xmlids = plan.columns.iter().map(|_| None).collect();
        let rewriter = Rewriter::new(plan, mappings, &renamed, xmlids);
        let mut source = Writer::new();
        source.begin_tuple();
        for field in fields {
            source.field(field.as_deref());
        }
        source.end_tuple();
        source.finish();
        let mut reader = Reader::new();
        reader.feed(&source.take());
        let tuple = reader
            .next_tuple()
            .expect("a valid COPY stream")
            .expect("one tuple");
        let (mut outcome, mut problems) = (CopyOutcome::default(), ProblemLog::default());
        let source_id = rewriter.source_id(&tuple);
        let destination = rewriter.destination(&tuple, source_id, &mut outcome, &mut problems);
        let (mut out, mut scratch) = (Writer::new(), Vec::new());
        out.begin_tuple();
        let mut row = Row {
            tuple: &tuple,
            source_id,
            out: &mut out,
            problems: &mut problems,
            scratch: &mut scratch,
        };
        let written = rewriter.write(&mut row).is_ok();
        out.end_tuple();
        out.finish();
        let fields = written.then(|| decode(&out.take()).remove(0));
        let problems = problems
            .into_problems()
            .into_iter()
            .map(|p| (p.kind, p.column, p.model, p.samples))
            .collect();
        Rewritten {
            destination,
            fields,
            outcome,
            problems,
        }
    }

    fn kind(destination: &Destination) -> &'static str {
        match destination {
            Destination::Insert => "insert",
            Destination::Update => "update",
            Destination::Skip => "skip",
        }
    }

    #[test]
    fn a_created_record_is_inserted_with_its_ids_translated() {
        let plan = partner_plan(false);
        let row = rewrite(
            &plan,
            &mappings(),
            &[int(3), int(2), int(2), text("res.company")],
        );
        assert_eq!(kind(&row.destination), "insert");
        assert_eq!(
            row.fields,
            Some(vec![int(13), int(12), int(7), text("res.company")])
        );
        assert!(row.problems.is_empty());
        assert_eq!(
            (row.outcome.matched, row.outcome.rejected),
            (0, 0),
            "an inserted row is neither matched nor rejected"
        );
    }

    #[test]
    fn a_matched_record_is_kept_unless_its_rule_or_its_owner_says_update() {
        let mappings = mappings();
        let mut plan = partner_plan(false);
        for id in [1, 2] {
            let row = rewrite(&plan, &mappings, &[int(id), None, None, None]);
            assert_eq!(kind(&row.destination), "skip", "partner {id}");
            assert_eq!(row.outcome.matched, 1);
            assert_eq!(row.outcome.mapped_ids, vec![id]);
        }
        // The row belongs to a record of a model whose matches take the source's values.
        plan.update_owners = vec!["res.company".to_string()];
        let owned = rewrite(
            &plan,
            &mappings,
            &[int(1), None, int(1), text("res.company")],
        );
        assert_eq!(kind(&owned.destination), "update");
        assert_eq!(owned.outcome.matched, 1);
        assert!(owned.outcome.mapped_ids.is_empty());
        let other = rewrite(
            &plan,
            &mappings,
            &[int(1), None, int(1), text("res.partner")],
        );
        assert_eq!(kind(&other.destination), "skip");
        plan.on_match = OnMatch::Update;
        let row = rewrite(&plan, &mappings, &[int(2), None, None, None]);
        assert_eq!(kind(&row.destination), "update");
        assert_eq!(row.outcome.matched, 1);
    }

    #[test]
    fn a_record_left_out_is_rejected_silently_and_one_never_planned_is_reported() {
        let plan = partner_plan(false);
        let removed = rewrite(&plan, &mappings(), &[int(4), None, None, None]);
        assert_eq!(kind(&removed.destination), "skip");
        assert_eq!(removed.outcome.rejected, 1);
        assert_eq!(removed.outcome.rejected_ids, vec![4]);
        assert!(removed.problems.is_empty());
        let unplanned = rewrite(&plan, &mappings(), &[int(9), None, None, None]);
        assert_eq!(kind(&unplanned.destination), "skip");
        assert_eq!(unplanned.outcome.rejected, 1);
        assert_eq!(unplanned.outcome.rejected_ids, vec![9]);
        assert_eq!(
            unplanned.problems,
            vec![(
                "row_not_planned",
                "id".to_string(),
                "res.partner".to_string(),
                vec![9]
            )]
        );
    }

    #[test]
    fn update_mode_writes_created_and_updating_matches_only() {
        let mappings = mappings();
        let mut plan = partner_plan(false);
        plan.update_only = true;
        let destinations = |plan: &TablePlan| -> Vec<&'static str> {
            [1, 3, 9]
                .iter()
                .map(|&id| {
                    kind(&rewrite(plan, &mappings, &[int(id), None, None, None]).destination)
                })
                .collect()
        };
        assert_eq!(destinations(&plan), ["skip", "update", "skip"]);
        plan.on_match = OnMatch::Update;
        assert_eq!(destinations(&plan), ["update", "update", "skip"]);
    }

    #[test]
    fn a_catch_up_inserts_its_own_new_records_and_updates_those_of_earlier_runs() {
        let mut mappings = mappings();
        let plan = partner_plan(false);
        mappings.fresh = Some(std::collections::HashMap::from([(
            "res.partner".to_string(),
            std::collections::HashSet::from([3]),
        )]));
        let row = rewrite(&plan, &mappings, &[int(3), None, None, None]);
        assert_eq!(kind(&row.destination), "insert");
        mappings.fresh = Some(std::collections::HashMap::new());
        let row = rewrite(&plan, &mappings, &[int(3), None, None, None]);
        assert_eq!(kind(&row.destination), "update");
        assert_eq!(
            row.outcome.matched, 0,
            "a record of an earlier run is not a match"
        );
    }

    #[test]
    fn relation_rows_are_inserted_and_a_model_without_mappings_is_skipped() {
        let mappings = mappings();
        let relation = plan(
            TableKind::Relation,
            "res.partner",
            vec![
                column(
                    "partner_id",
                    true,
                    Output::Remap {
                        field: 0,
                        model: "res.partner".to_string(),
                    },
                ),
                column(
                    "company_id",
                    true,
                    Output::Remap {
                        field: 1,
                        model: "res.company".to_string(),
                    },
                ),
            ],
        );
        let row = rewrite(&relation, &mappings, &[int(2), int(2)]);
        assert_eq!(kind(&row.destination), "insert");
        assert_eq!(row.fields, Some(vec![int(12), int(7)]));
        // A pair whose record is not mapped is given up; its example is the missing record.
        let row = rewrite(&relation, &mappings, &[int(2), int(5)]);
        assert!(row.fields.is_none());
        assert_eq!(
            row.problems,
            vec![(
                "unmapped_reference",
                "company_id".to_string(),
                "res.company".to_string(),
                vec![5]
            )]
        );
        let unknown = plan(
            TableKind::Model,
            "x.unknown",
            vec![column("id", true, Output::OwnId { field: 0 })],
        );
        let row = rewrite(&unknown, &mappings, &[int(1)]);
        assert_eq!(kind(&row.destination), "skip");
        assert_eq!(row.fields, Some(vec![None]), "no map: no id of its own");
    }

    #[test]
    fn an_unmapped_reference_is_nulled_and_reported_or_rejects_a_required_column() {
        let mappings = mappings();
        let row = rewrite(
            &partner_plan(false),
            &mappings,
            &[int(3), int(9), None, None],
        );
        assert_eq!(row.fields, Some(vec![int(13), None, None, None]));
        assert_eq!(
            row.problems,
            vec![(
                "unmapped_reference",
                "parent_id".to_string(),
                "res.partner".to_string(),
                vec![3]
            )],
            "a model row's example is the row itself"
        );
        let row = rewrite(
            &partner_plan(true),
            &mappings,
            &[int(3), int(9), None, None],
        );
        assert!(row.fields.is_none(), "a required column rejects the row");
        let row = rewrite(&partner_plan(true), &mappings, &[int(3), None, None, None]);
        assert_eq!(
            row.fields,
            Some(vec![int(13), None, None, None]),
            "NULL stays NULL"
        );
    }

    #[test]
    fn a_record_pair_is_translated_by_the_model_it_names() {
        let mappings = mappings();
        let plan = partner_plan(false);
        let row = rewrite(
            &plan,
            &mappings,
            &[int(3), None, int(7), text("product.product")],
        );
        assert_eq!(row.fields.expect("written")[2], int(8));
        // 0 is Odoo's "no record"; no model: the id as it is.
        let row = rewrite(
            &plan,
            &mappings,
            &[int(3), None, int(0), text("res.partner")],
        );
        assert_eq!(row.fields.expect("written")[2], int(0));
        let row = rewrite(&plan, &mappings, &[int(3), None, int(5), None]);
        assert_eq!(row.fields.expect("written")[2], int(5));
        // A record of a migrated model that is not mapped: NULL, reported.
        let row = rewrite(
            &plan,
            &mappings,
            &[int(3), None, int(9), text("res.company")],
        );
        assert_eq!(row.fields.expect("written")[2], None);
        assert_eq!(row.problems[0].0, "unmapped_reference");
        assert_eq!(row.problems[0].2, "res.company");
        // A record of a model not migrated at all: the row has nothing to belong to.
        let row = rewrite(&plan, &mappings, &[int(3), None, int(1), text("x.gone")]);
        assert!(row.fields.is_none());
        // Unless the pair only points at that record (a `model_in` column, not the row's owner):
        // NULL and reported, the row kept.
        let mut pointing = plan.clone();
        pointing.columns[2].output = Output::Polymorphic {
            field: 2,
            model_field: 3,
            owner: false,
        };
        let kept = rewrite(
            &pointing,
            &mappings,
            &[int(3), None, int(1), text("x.gone")],
        );
        assert_eq!(kept.fields.expect("written")[2], None);
        assert_eq!(kept.problems[0].0, "unmapped_reference");
        assert_eq!(
            row.problems,
            vec![(
                "record_of_unmigrated_model",
                "res_id".to_string(),
                "x.gone".to_string(),
                vec![3]
            )]
        );
    }

    #[test]
    fn references_id_lists_and_keyed_json_are_translated_entry_by_entry() {
        let mappings = mappings();
        let plan = plan(
            TableKind::Model,
            "res.partner",
            vec![
                column("id", true, Output::OwnId { field: 0 }),
                column("ref", false, Output::Reference { field: 1 }),
                column(
                    "indices",
                    false,
                    Output::IdList {
                        field: 2,
                        model: "product.product".to_string(),
                    },
                ),
                column(
                    "per_company",
                    false,
                    Output::KeyedJson {
                        field: 3,
                        key_model: "res.company".to_string(),
                        value_model: Some("res.partner".to_string()),
                    },
                ),
            ],
        );
        let jsonb = |text: &str| Some([&[1u8][..], text.as_bytes()].concat());
        let row = rewrite(
            &plan,
            &mappings,
            &[
                int(3),
                text("account.invoice,3"),
                text("7,3"),
                jsonb(r#"{"2": 1}"#),
            ],
        );
        assert!(row.problems.is_empty(), "{:?}", row.problems);
        assert_eq!(
            row.fields,
            Some(vec![
                int(13),
                text("account.move,40"),
                text("8,30"),
                jsonb(r#"{"7":11}"#)
            ])
        );
        // Entries that cannot be mapped are dropped (a reference is nulled), each column reported.
        let row = rewrite(
            &plan,
            &mappings,
            &[
                int(3),
                text("res.partner,9"),
                text("7,5"),
                jsonb(r#"{"2": 9, "1": 2}"#),
            ],
        );
        assert_eq!(
            row.fields,
            Some(vec![int(13), None, text("8"), jsonb(r#"{"1":12}"#)])
        );
        let columns: Vec<&str> = row.problems.iter().map(|p| p.1.as_str()).collect();
        assert_eq!(columns, ["indices", "per_company", "ref"]);
        // Not jsonb at all: NULL, reported as such; NULLs stay NULL.
        let row = rewrite(&plan, &mappings, &[int(3), None, None, text("{}")]);
        assert_eq!(row.fields, Some(vec![int(13), None, None, None]));
        assert_eq!(row.problems[0].0, "invalid_jsonb");
    }
}
