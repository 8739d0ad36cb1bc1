//! Which source table goes to which target table under the rules: model tables follow the rules'
//! model and table renames, many2many tables follow their owner's. The plan, the analysis and the
//! rules' own checks all start from these pairs. Reads the two catalogs; touches no database.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::{Catalog, Field, Model};
use crate::rules::{ColumnRule, Policy, Rules, TableRule};

/// What kind of rows a table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    /// The table of a stored model: rows have an `id`.
    Model,
    /// A many2many relation table: rows are pairs of ids.
    Relation,
}

/// A source table and where its rows go.
#[derive(Debug, Clone, Serialize)]
pub struct TablePair {
    pub kind: TableKind,
    pub source_table: String,
    pub target_table: Option<String>,
    /// For model tables, the Odoo 16 model; for relation tables, the model owning the many2many.
    pub source_model: Option<String>,
    pub target_model: Option<String>,
    pub policy: Policy,
    pub transient: bool,
    pub rows: i64,
    /// Target columns filled from a source column of another name (rules, or the two columns of a
    /// many2many table whose owner model was renamed): target column → source column.
    pub renamed_columns: BTreeMap<String, String>,
    /// For a derived record set (`[[derived]]`): the condition on the source rows that make a
    /// record (`true` when the rule gives none). `None` for a table's own rows.
    pub derived_filter: Option<String>,
}

impl TablePair {
    /// The column rules of this table: its model's for a model table, its own `[tables]` rule's
    /// for a many2many table.
    pub fn column_rules<'r>(&self, rules: &'r Rules) -> Option<&'r BTreeMap<String, ColumnRule>> {
        match self.kind {
            TableKind::Model => self
                .source_model
                .as_deref()
                .and_then(|m| rules.model(m))
                .map(|r| &r.columns),
            TableKind::Relation => rules.tables.get(&self.source_table).map(|r| &r.columns),
        }
    }
}

/// Pairs every source table with its target table, following the rules' renames. Transient models
/// and tables without model are paired too, with the policy that says they are not copied.
pub fn pair_tables(source: &Catalog, target: &Catalog, rules: &Rules) -> Vec<TablePair> {
    let mut pairs = Vec::new();
    let mut seen = BTreeSet::new();
    for model in source.models.values() {
        let Some(table) = &model.table else { continue };
        if seen.insert(table.clone()) {
            pairs.push(model_pair(source, target, rules, model, table));
        }
    }
    for (table, (model, field)) in source.relation_tables() {
        if seen.insert(table.clone()) {
            pairs.push(relation_pair(source, target, rules, table, model, field));
        }
    }
    pairs.sort_by(|a, b| a.source_table.cmp(&b.source_table));
    pairs
}

/// The pairs of the derived record sets (`[[derived]]`) whose source table and target model both
/// databases have (the pack serves databases with and without an app): each source row that
/// passes the rule's filter becomes a record of the target model, mapped under the rule's name.
pub fn derived_pairs(source: &Catalog, target: &Catalog, rules: &Rules) -> Vec<TablePair> {
    rules
        .derived
        .iter()
        .filter_map(|rule| {
            let source_table = source.tables.get(&rule.from)?;
            let target_table = target
                .models
                .get(&rule.model)?
                .table
                .clone()
                .filter(|t| target.tables.contains_key(t))?;
            Some(TablePair {
                kind: TableKind::Model,
                source_table: rule.from.clone(),
                target_table: Some(target_table),
                source_model: Some(rule.name.clone()),
                target_model: Some(rule.model.clone()),
                policy: Policy::Migrate,
                transient: false,
                rows: source_table.row_count,
                renamed_columns: rule
                    .columns
                    .iter()
                    .filter_map(|(to, c)| c.from.as_ref().map(|from| (to.clone(), from.clone())))
                    .collect(),
                derived_filter: Some(rule.filter.clone().unwrap_or_else(|| "true".to_string())),
            })
        })
        .collect()
}

/// The pair of a model's table: to its renamed model's table (or the rule's `table`), skipped
/// when transient or by rule.
fn model_pair(
    source: &Catalog,
    target: &Catalog,
    rules: &Rules,
    model: &Model,
    table: &String,
) -> TablePair {
    let rule = rules.model(&model.name);
    let target_model_name = rules.model_in_target(&model.name);
    let target_model = target.models.get(target_model_name);
    let target_table = rule
        .and_then(|r| r.table.clone())
        .or_else(|| target_model.and_then(|m| m.table.clone()))
        .filter(|t| target.tables.contains_key(t));
    let policy = if model.transient {
        Policy::Skip
    } else {
        rule.and_then(|r| r.policy).unwrap_or(Policy::Migrate)
    };
    TablePair {
        kind: TableKind::Model,
        source_table: table.clone(),
        target_table,
        source_model: Some(model.name.clone()),
        target_model: target_model.map(|m| m.name.clone()),
        policy,
        transient: model.transient,
        rows: source.tables.get(table).map_or(0, |t| t.row_count),
        renamed_columns: rule
            .map(|r| {
                r.columns
                    .iter()
                    .filter_map(|(to, c)| c.from.as_ref().map(|from| (to.clone(), from.clone())))
                    .collect()
            })
            .unwrap_or_default(),
        derived_filter: None,
    }
}

/// The pair of a many2many table owned by `model`.`field`: to the table of the same field of the
/// renamed model (or the table rule's `rename`, or its own name), skipped when it links transient
/// records, only module metadata, or by rule.
fn relation_pair(
    source: &Catalog,
    target: &Catalog,
    rules: &Rules,
    table: String,
    model: &Model,
    field: &Field,
) -> TablePair {
    let table_rule = rules.tables.get(&table);
    let target_field = target
        .models
        .get(rules.model_in_target(&model.name))
        .and_then(|m| m.fields.get(&field.name))
        .filter(|f| f.ttype == "many2many");
    let target_table = table_rule
        .and_then(|r| r.rename.clone())
        .or_else(|| target_field.and_then(|f| f.relation_table.clone()))
        .or_else(|| Some(table.clone()))
        .filter(|t| target.tables.contains_key(t));
    let owner_transient = model.transient
        || field
            .relation
            .as_ref()
            .and_then(|r| source.models.get(r))
            .is_some_and(|m| m.transient);
    // Links between two kinds of module metadata (groups of menus, rules of groups) belong to
    // the modules that Odoo 19 installed; only links that touch migrated data are copied.
    let migrated = |name: &str| {
        rules
            .model(name)
            .and_then(|r| r.policy)
            .unwrap_or(Policy::Migrate)
            == Policy::Migrate
    };
    let metadata_only =
        !migrated(&model.name) && field.relation.as_deref().is_none_or(|r| !migrated(r));
    let policy = if owner_transient || metadata_only || table_rule.is_some_and(|r| r.skip) {
        Policy::Skip
    } else {
        Policy::Migrate
    };
    TablePair {
        kind: TableKind::Relation,
        source_table: table.clone(),
        target_table,
        source_model: Some(model.name.clone()),
        target_model: target_field.map(|_| rules.model_in_target(&model.name).to_string()),
        policy,
        transient: owner_transient,
        rows: source.tables.get(&table).map_or(0, |t| t.row_count),
        renamed_columns: renamed_relation_columns(field, target_field, table_rule),
        derived_filter: None,
    }
}

/// The columns of a many2many table filled from a source column of another name: those the
/// target's field names differently, then the table rule's `from`.
fn renamed_relation_columns(
    field: &Field,
    target_field: Option<&Field>,
    table_rule: Option<&TableRule>,
) -> BTreeMap<String, String> {
    let mut renamed_columns = BTreeMap::new();
    if let Some(target_field) = target_field {
        for (target_column, source_column) in [
            (&target_field.column1, &field.column1),
            (&target_field.column2, &field.column2),
        ] {
            if let (Some(to), Some(from)) = (target_column, source_column)
                && to != from
            {
                renamed_columns.insert(to.clone(), from.clone());
            }
        }
    }
    if let Some(rule) = table_rule {
        for (to, column) in &rule.columns {
            if let Some(from) = &column.from {
                renamed_columns.insert(to.clone(), from.clone());
            }
        }
    }
    renamed_columns
}
