//! The plan of a model or many2many table's columns: for each target column, the expression that
//! reads it from the source row and how its value is written (own id, ids through a mapping,
//! polymorphic pairs, `model,id` references, company-keyed jsonb, external ids). Reads the
//! catalogs and the rules only.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use super::sql::{convert, is_model_name_column, property_join, value_map_sql};
use super::{ColumnPlan, Output, TablePlan};
use crate::catalog::{Catalog, Column, Field, Model, Table, quote_ident};
use crate::rules::pairing::{TableKind, TablePair};
use crate::rules::{ColumnRule, OnMatch, Rules};

/// The facts and rules that one table's columns are planned from.
struct TableContext<'a> {
    pair: &'a TablePair,
    model_name: &'a str,
    model: Option<&'a Model>,
    column_rules: Option<&'a BTreeMap<String, ColumnRule>>,
    /// For a relation table, the models its two columns point to.
    relation_models: BTreeMap<String, String>,
    renamed_models: &'a BTreeMap<String, String>,
    source_table: &'a Table,
    target_table: &'a Table,
}

/// What planning a table's columns builds up, column by column.
#[derive(Default)]
struct ColumnsBuilt {
    select: Vec<String>,
    joins: Vec<String>,
    columns: Vec<ColumnPlan>,
    /// The field that reads a source column as it is, by source column.
    field_of_source_column: BTreeMap<String, usize>,
}

/// The plan of a model or many2many table the pairing sends to `target_table`.
pub(super) fn table_plan(
    source: &Catalog,
    rules: &Rules,
    pair: &TablePair,
    source_table: &Table,
    target_table: &Table,
    renamed_models: &BTreeMap<String, String>,
) -> Result<TablePlan> {
    let model_name = pair.source_model.clone().unwrap_or_default();
    let model_rule = rules.model(&model_name);
    // A derived record set reads the fields of the model that owns its source table.
    let model = source.models.get(&model_name).or_else(|| {
        pair.derived_filter.as_ref()?;
        source
            .models
            .values()
            .find(|m| m.table.as_deref() == Some(pair.source_table.as_str()))
    });
    let context = TableContext {
        pair,
        model_name: &model_name,
        model,
        column_rules: pair.column_rules(rules),
        relation_models: match pair.kind {
            TableKind::Relation => relation_column_models(source, &pair.source_table),
            TableKind::Model => BTreeMap::new(),
        },
        renamed_models,
        source_table,
        target_table,
    };
    let mut built = ColumnsBuilt::default();
    for target_column in &target_table.columns {
        context.plan_column(target_column, &mut built)?;
    }
    context.link_polymorphic_models(&mut built)?;
    if pair.kind == TableKind::Model
        && !built
            .columns
            .iter()
            .any(|c| matches!(c.output, Output::OwnId { .. }))
    {
        bail!(
            "target table {} has no id column; it cannot receive rows of model {model_name}",
            target_table.name
        );
    }
    let on_match = model_rule.and_then(|r| r.on_match).unwrap_or(OnMatch::Keep);
    let update_owners = update_owners(rules, &built.columns);
    Ok(TablePlan {
        key: match &pair.derived_filter {
            Some(_) => format!("{} → {model_name}", pair.source_table),
            None => pair.source_table.clone(),
        },
        kind: pair.kind,
        source_table: pair.source_table.clone(),
        target_table: target_table.name.clone(),
        model: model_name,
        target_model: pair.target_model.clone().unwrap_or_default(),
        select: built.select,
        joins: built.joins,
        columns: built.columns,
        on_match,
        post_sql: model_rule.map(|r| r.post_sql.clone()).unwrap_or_default(),
        final_sql: model_rule.map(|r| r.final_sql.clone()).unwrap_or_default(),
        rows: pair.rows,
        filter: pair.derived_filter.as_ref().map(|f| format!("({f})")),
        update_only: false,
        catch_up: None,
        update_owners,
        derived: pair.derived_filter.is_some(),
    })
}

impl TableContext<'_> {
    /// Plans one target column into `built`: the expression that reads it and how its value is
    /// written. A column skipped by a rule, or with nothing to read it from, is left out.
    fn plan_column(&self, target_column: &Column, built: &mut ColumnsBuilt) -> Result<()> {
        let name = &target_column.name;
        let rule = self.column_rules.and_then(|r| r.get(name));
        if rule.is_some_and(|r| r.skip) {
            return Ok(());
        }
        // A derived record takes only what its rule gives, its id, and who made the source row
        // and when: the source row's other columns belong to its own model's record.
        const OWN_COLUMNS: [&str; 5] =
            ["id", "create_uid", "create_date", "write_uid", "write_date"];
        if self.pair.derived_filter.is_some()
            && rule.is_none()
            && !OWN_COLUMNS.contains(&name.as_str())
        {
            return Ok(());
        }
        let source_column_name = self
            .pair
            .renamed_columns
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.clone());
        if let Some(fallback) = rule.and_then(|r| r.xmlid.clone()) {
            let column = self.xmlid_column(target_column, rule, fallback, &mut built.select)?;
            built.columns.push(column);
            return Ok(());
        }
        let Some(expression) =
            self.column_expression(target_column, rule, &source_column_name, &mut built.joins)?
        else {
            return Ok(());
        };
        let cast = &target_column.data_type;
        let field_index = built.select.len();
        built.select.push(format!("({expression})::{cast}"));
        if rule.is_none_or(|r| r.sql.is_none() && r.property.is_none()) {
            built
                .field_of_source_column
                .insert(source_column_name.clone(), field_index);
        }
        let output = self.column_output(name, rule, &source_column_name, field_index);
        if matches!(
            output,
            Output::Remap { .. } | Output::OwnId { .. } | Output::Polymorphic { .. }
        ) && target_column.data_type != "integer"
        {
            bail!(
                "column {}.{} holds ids but is {} in the target; ids are rewritten as integers only — add a rule for it",
                self.target_table.name,
                name,
                target_column.data_type
            );
        }
        built.columns.push(ColumnPlan {
            target_column: name.clone(),
            target_type: target_column.data_type.clone(),
            not_null: target_column.not_null,
            output,
            set_by_post_sql: rule.is_some_and(|r| r.set_by_post_sql),
        });
        Ok(())
    }

    /// A many2one column filled from an external id (the rule's `xmlid`, with `fallback`).
    fn xmlid_column(
        &self,
        target_column: &Column,
        rule: Option<&ColumnRule>,
        fallback: String,
        select: &mut Vec<String>,
    ) -> Result<ColumnPlan> {
        let name = &target_column.name;
        if target_column.data_type != "integer" {
            bail!(
                "the rule for {}.{name} gives `xmlid`, but the column is {} in the target, not a many2one",
                self.target_table.name,
                target_column.data_type
            );
        }
        let expression = rule.and_then(|r| r.sql.as_deref()).unwrap_or("NULL");
        select.push(format!("({expression})::text"));
        Ok(ColumnPlan {
            target_column: name.clone(),
            target_type: target_column.data_type.clone(),
            not_null: target_column.not_null,
            output: Output::Xmlid {
                field: select.len() - 1,
                fallback,
            },
            set_by_post_sql: rule.is_some_and(|r| r.set_by_post_sql),
        })
    }

    /// The expression over the source row that gives a target column its value, before the cast:
    /// the rule's `sql`, a company-dependent `property` (through a join added to `joins`), or the
    /// source column converted; then the rule's `value_map` and the model renames. `None` when
    /// there is nothing to read it from.
    fn column_expression(
        &self,
        target_column: &Column,
        rule: Option<&ColumnRule>,
        source_column_name: &str,
        joins: &mut Vec<String>,
    ) -> Result<Option<String>> {
        let name = &target_column.name;
        let source_column = self.source_table.column(source_column_name);
        let cast = &target_column.data_type;
        let property = rule.and_then(|r| r.property.as_ref());
        let expression = match (rule.and_then(|r| r.sql.as_ref()), property, source_column) {
            (Some(_), Some(_), _) => bail!(
                "the rule for {}.{name} gives both `sql` and `property`; keep one",
                self.target_table.name
            ),
            (Some(sql), None, _) => format!("({sql})"),
            (None, Some(field), _) => {
                let alias = format!("property_{}", joins.len());
                joins.push(property_join(
                    self.model_name,
                    field,
                    &alias,
                    rule.and_then(|r| r.value_map.as_ref()),
                ));
                format!("{alias}.value")
            }
            (None, None, Some(column)) => convert(
                &format!("s.{}", quote_ident(&column.name)),
                &column.data_type,
                cast,
            ),
            (None, None, None) => return Ok(None),
        };
        let expression = match rule.and_then(|r| r.value_map.as_ref()) {
            Some(map) if !map.is_empty() && property.is_none() => value_map_sql(&expression, map),
            _ => expression,
        };
        let expression = if is_model_name_column(name, &target_column.data_type)
            && !self.renamed_models.is_empty()
        {
            value_map_sql(&expression, self.renamed_models)
        } else {
            expression
        };
        Ok(Some(expression))
    }

    /// How the value read into `field_index` is written: the row's own id, a company-keyed
    /// value, an id through a mapping (by rule, by the many2many's models or by the field), a
    /// `model,id` reference, a polymorphic id, or as read.
    fn column_output(
        &self,
        name: &str,
        rule: Option<&ColumnRule>,
        source_column_name: &str,
        field_index: usize,
    ) -> Output {
        let source_field: Option<&Field> =
            self.model.and_then(|m| m.fields.get(source_column_name));
        if self.pair.kind == TableKind::Model && name == "id" {
            Output::OwnId { field: field_index }
        } else if rule
            .is_some_and(|r| r.company_json || r.property.is_some() || r.keyed_by.is_some())
        {
            Output::KeyedJson {
                field: field_index,
                key_model: rule
                    .and_then(|r| r.keyed_by.clone())
                    .unwrap_or_else(|| "res.company".to_string()),
                value_model: rule.and_then(|r| r.references.clone()),
            }
        } else if let Some(model) = rule.and_then(|r| r.id_list.clone()) {
            Output::IdList {
                field: field_index,
                model,
            }
        } else if rule.is_some_and(|r| r.model_in.is_some()) {
            Output::Polymorphic {
                field: field_index,
                model_field: usize::MAX,
                owner: false,
            }
        } else if let Some(referenced) = rule.and_then(|r| r.references.clone()) {
            Output::Remap {
                field: field_index,
                model: referenced,
            }
        } else if let Some(referenced) = self.relation_models.get(source_column_name) {
            Output::Remap {
                field: field_index,
                model: referenced.clone(),
            }
        } else {
            match source_field.map(|f| f.ttype.as_str()) {
                Some("many2one") if rule.is_none_or(|r| r.sql.is_none()) => {
                    match &source_field.and_then(|f| f.relation.clone()) {
                        Some(relation) => Output::Remap {
                            field: field_index,
                            model: relation.clone(),
                        },
                        None => Output::Copy { field: field_index },
                    }
                }
                Some("reference") => Output::Reference { field: field_index },
                Some("many2one_reference") => Output::Polymorphic {
                    field: field_index,
                    model_field: usize::MAX,
                    owner: true,
                },
                _ => Output::Copy { field: field_index },
            }
        }
    }

    /// Polymorphic ids need the model column of the same row, read as it is in the source: each
    /// gets the field that reads it, added to the select when no field does yet. The column is
    /// the rule's `model_in`, else `res_model` or `model`.
    fn link_polymorphic_models(&self, built: &mut ColumnsBuilt) -> Result<()> {
        for column in &mut built.columns {
            if let Output::Polymorphic { model_field, .. } = &mut column.output {
                let named = self
                    .column_rules
                    .and_then(|rules| rules.get(&column.target_column))
                    .and_then(|rule| rule.model_in.as_deref());
                let model_column = match named {
                    Some(named) => Some(named).filter(|c| self.source_table.has_column(c)),
                    None => ["res_model", "model"]
                        .into_iter()
                        .find(|c| self.source_table.has_column(c)),
                };
                let Some(model_column) = model_column else {
                    bail!(
                        "{}.{} is a many2one_reference but the table has no res_model or model column; add a rule for it",
                        self.source_table.name,
                        column.target_column
                    );
                };
                *model_field = match built.field_of_source_column.get(model_column) {
                    Some(&index) => index,
                    None => {
                        built
                            .select
                            .push(format!("s.{}::text", quote_ident(model_column)));
                        built.select.len() - 1
                    }
                };
            }
        }
        Ok(())
    }
}

/// The models (16 and 19 names) whose matched records take the source's values, when the table
/// has a polymorphic column whose rows may belong to them; else none.
fn update_owners(rules: &Rules, columns: &[ColumnPlan]) -> Vec<String> {
    if columns
        .iter()
        .any(|c| matches!(c.output, Output::Polymorphic { owner: true, .. }))
    {
        rules
            .models
            .iter()
            .filter(|(_, rule)| rule.on_match == Some(OnMatch::Update))
            .flat_map(|(model, rule)| std::iter::once(model.clone()).chain(rule.rename.clone()))
            .collect()
    } else {
        Vec::new()
    }
}

/// The models that the two columns of a many2many table point to, from the field that owns it.
fn relation_column_models(source: &Catalog, table: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for model in source.models.values() {
        for field in model.fields.values() {
            if field.ttype != "many2many" || field.relation_table.as_deref() != Some(table) {
                continue;
            }
            if let (Some(column1), Some(column2), Some(relation)) =
                (&field.column1, &field.column2, &field.relation)
            {
                out.entry(column1.clone())
                    .or_insert_with(|| model.name.clone());
                out.entry(column2.clone())
                    .or_insert_with(|| relation.clone());
            }
        }
    }
    out
}
