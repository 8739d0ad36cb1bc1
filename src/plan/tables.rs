//! The copy plan of each table: which target columns are written, the SQL that reads their values
//! from the source (cast to the target's types, so that binary COPY needs no conversion), and how
//! each value is rewritten on the way (ids through the mappings, polymorphic pairs, `model,id`
//! references, company-keyed jsonb). Built from the catalogs and the rules, checked against the
//! source before anything is written.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::catalog::{Catalog, Column, Field, Model, Table, quote_ident, quote_literal};
use crate::rules::pairing::{TableKind, TablePair};
use crate::rules::{ColumnRule, OnMatch, Policy, Rules};

/// How one output value is produced from the fields read from the source.
#[derive(Debug, Clone, Serialize)]
pub enum Output {
    /// The field as read.
    Copy { field: usize },
    /// The row's own id, replaced by its planned target id.
    OwnId { field: usize },
    /// An id of `model`, replaced by its mapped id; NULL (and reported) when unmapped.
    Remap { field: usize, model: String },
    /// An id whose model is named by another field of the row (`res_model`/`res_id`).
    Polymorphic { field: usize, model_field: usize },
    /// A `model,id` string.
    Reference { field: usize },
    /// A jsonb object keyed by ids of `key_model` (a company, for company-dependent values),
    /// values optionally ids of `value_model`.
    KeyedJson {
        field: usize,
        key_model: String,
        value_model: Option<String>,
    },
    /// The target id of the external id (`module.name` text) read, or of `fallback` when the
    /// value is NULL or the target has no such external id.
    Xmlid { field: usize, fallback: String },
}

impl Output {
    pub fn field(&self) -> usize {
        match self {
            Output::Copy { field }
            | Output::OwnId { field }
            | Output::Remap { field, .. }
            | Output::Polymorphic { field, .. }
            | Output::Reference { field }
            | Output::KeyedJson { field, .. }
            | Output::Xmlid { field, .. } => *field,
        }
    }
}

/// One target column and how it is filled.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnPlan {
    pub target_column: String,
    pub target_type: String,
    pub not_null: bool,
    pub output: Output,
}

/// Everything needed to copy one table.
#[derive(Debug, Clone, Serialize)]
pub struct TablePlan {
    /// What the run's checkpoints call this copy: the source table, or `from → to` for a derived
    /// relation.
    pub key: String,
    pub kind: TableKind,
    pub source_table: String,
    pub target_table: String,
    /// The Odoo 16 model of a model table; the owner model of a relation table.
    pub model: String,
    pub target_model: String,
    /// Expressions over the source row `s` (and the `joins`), in field order.
    pub select: Vec<String>,
    /// Joins that the expressions read from (company-dependent values from `ir_property`).
    pub joins: Vec<String>,
    pub columns: Vec<ColumnPlan>,
    pub on_match: OnMatch,
    pub post_sql: Vec<String>,
    pub rows: i64,
    /// An extra condition on the source rows (`rehearse` samples), built by the tool from ids.
    pub filter: Option<String>,
    /// `run --update`: write into records already migrated, never create.
    pub update_only: bool,
    /// Models (16 and 19 names) whose matched records take the source's values (`on_match =
    /// "update"`): a matched row of this table that belongs to one of them (`res_model`/`res_id`,
    /// such as the attachment of a company's logo) is updated too, whatever this table's own
    /// `on_match`.
    pub update_owners: Vec<String>,
}

impl TablePlan {
    /// Whether a matched row is written over its target record.
    pub fn updates_match(&self, owner_model: Option<&[u8]>) -> bool {
        self.on_match == OnMatch::Update
            || owner_model
                .is_some_and(|owner| self.update_owners.iter().any(|m| m.as_bytes() == owner))
    }

    /// The field holding the model of the record the row belongs to, when it has one.
    pub fn owner_model_field(&self) -> Option<usize> {
        self.columns.iter().find_map(|c| match c.output {
            Output::Polymorphic { model_field, .. } => Some(model_field),
            _ => None,
        })
    }
}

impl TablePlan {
    /// The statement that reads the table from the source, ordered by id for model tables.
    pub fn copy_out_sql(&self, after_id: Option<i64>, limit: Option<i64>) -> String {
        let mut sql = format!(
            "COPY (SELECT {} FROM {}",
            self.select.join(", "),
            self.source_from()
        );
        let mut conditions: Vec<String> = self.filter.iter().cloned().collect();
        if self.kind == TableKind::Model
            && let Some(after) = after_id
        {
            conditions.push(format!("s.id > {after}"));
        }
        if !conditions.is_empty() {
            sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
        }
        if self.kind == TableKind::Model {
            sql.push_str(" ORDER BY s.id");
            if let Some(limit) = limit {
                sql.push_str(&format!(" LIMIT {limit}"));
            }
        }
        sql.push_str(") TO STDOUT (FORMAT binary)");
        sql
    }

    pub fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| quote_ident(&c.target_column))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The same SELECT without COPY, to check the plan against the source before running it.
    pub fn probe_sql(&self) -> String {
        format!(
            "SELECT {} FROM {} LIMIT 0",
            self.select.join(", "),
            self.source_from()
        )
    }

    /// What the `select` expressions read from: the source table as `s`, and the joins.
    pub fn source_from(&self) -> String {
        let mut from = format!("public.{} s", quote_ident(&self.source_table));
        for join in &self.joins {
            from.push(' ');
            from.push_str(join);
        }
        from
    }
}

/// The table pairs and the copy plans of a session's two catalogs under the rules.
pub fn for_session(
    session: &crate::catalog::session::Session,
    rules: &Rules,
) -> Result<(Vec<TablePair>, Vec<TablePlan>)> {
    let pairs =
        crate::rules::pairing::pair_tables(&session.source_catalog, &session.target_catalog, rules);
    let plans = build(
        &session.source_catalog,
        &session.target_catalog,
        rules,
        &pairs,
    )?;
    Ok((pairs, plans))
}

/// Builds the plans of every table that is copied.
pub fn build(
    source: &Catalog,
    target: &Catalog,
    rules: &Rules,
    pairs: &[TablePair],
) -> Result<Vec<TablePlan>> {
    let renamed_models = rules.renamed_models();
    let mut plans = Vec::new();
    for pair in pairs {
        if pair.policy != Policy::Migrate || pair.transient {
            continue;
        }
        let Some(target_table_name) = &pair.target_table else {
            continue;
        };
        if pair.source_table == "ir_model_data" {
            continue;
        }
        let (Some(source_table), Some(target_table)) = (
            source.tables.get(&pair.source_table),
            target.tables.get(target_table_name),
        ) else {
            continue;
        };
        plans.push(table_plan(
            source,
            rules,
            pair,
            source_table,
            target_table,
            &renamed_models,
        )?);
    }
    for rule in &rules.relations {
        plans.push(relation_plan(source, target, rule)?);
    }
    Ok(plans)
}

/// The plan of a `[[relations]]` rule: source rows become pairs of a target many2many table.
fn relation_plan(
    source: &Catalog,
    target: &Catalog,
    rule: &crate::rules::RelationRule,
) -> Result<TablePlan> {
    let origin = format!("relation rule {} → {}", rule.from, rule.to);
    let Some(source_table) = source.tables.get(&rule.from) else {
        bail!("{origin}: the source has no table {}", rule.from);
    };
    let Some(target_table) = target.tables.get(&rule.to) else {
        bail!("{origin}: the target has no table {}", rule.to);
    };
    let mut select = Vec::new();
    let mut columns = Vec::new();
    for (name, column) in &rule.columns {
        let Some(target_column) = target_table.column(name) else {
            bail!("{origin}: the target table has no column {name}");
        };
        let Some(sql) = &column.sql else {
            bail!("{origin}: column {name} needs `sql`");
        };
        let field = select.len();
        select.push(format!("({sql})::{}", target_column.data_type));
        columns.push(ColumnPlan {
            target_column: name.clone(),
            target_type: target_column.data_type.clone(),
            not_null: target_column.not_null,
            output: match &column.references {
                Some(model) => Output::Remap {
                    field,
                    model: model.clone(),
                },
                None => Output::Copy { field },
            },
        });
    }
    if columns.is_empty() {
        bail!("{origin}: no columns");
    }
    Ok(TablePlan {
        key: format!("{} → {}", rule.from, rule.to),
        kind: TableKind::Relation,
        source_table: rule.from.clone(),
        target_table: rule.to.clone(),
        model: rule.to.clone(),
        target_model: String::new(),
        select,
        joins: Vec::new(),
        columns,
        on_match: OnMatch::Keep,
        post_sql: Vec::new(),
        rows: source_table.row_count,
        filter: rule.filter.as_ref().map(|f| format!("({f})")),
        update_only: false,
        update_owners: Vec::new(),
    })
}

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
fn table_plan(
    source: &Catalog,
    rules: &Rules,
    pair: &TablePair,
    source_table: &Table,
    target_table: &Table,
    renamed_models: &BTreeMap<String, String>,
) -> Result<TablePlan> {
    let model_name = pair.source_model.clone().unwrap_or_default();
    let model_rule = rules.model(&model_name);
    let context = TableContext {
        pair,
        model_name: &model_name,
        model: source.models.get(&model_name),
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
        key: pair.source_table.clone(),
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
        rows: pair.rows,
        filter: None,
        update_only: false,
        update_owners,
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
                },
                _ => Output::Copy { field: field_index },
            }
        }
    }

    /// Polymorphic ids need the model column of the same row, read as it is in the source: each
    /// gets the field that reads it, added to the select when no field does yet.
    fn link_polymorphic_models(&self, built: &mut ColumnsBuilt) -> Result<()> {
        for column in &mut built.columns {
            if let Output::Polymorphic { model_field, .. } = &mut column.output {
                let model_column = ["res_model", "model"]
                    .into_iter()
                    .find(|c| self.source_table.has_column(c));
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
        .any(|c| matches!(c.output, Output::Polymorphic { .. }))
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

/// The join that turns the `ir_property` rows of `model`.`field` into one jsonb object per record,
/// keyed by company id: for each company, the record's row of that company, else its company-less
/// row; NULL values are left out and a record with none gets no row (so NULL).
fn property_join(
    model: &str,
    field: &str,
    alias: &str,
    value_map: Option<&BTreeMap<String, String>>,
) -> String {
    let text = match value_map {
        Some(map) if !map.is_empty() => value_map_sql("q.value_text", map),
        _ => "q.value_text".to_string(),
    };
    let value = format!(
        "CASE q.type \
         WHEN 'many2one' THEN to_jsonb(NULLIF(split_part(q.value_reference, ',', 2), '')::int) \
         WHEN 'float' THEN to_jsonb(q.value_float) WHEN 'monetary' THEN to_jsonb(q.value_float) \
         WHEN 'integer' THEN to_jsonb(q.value_integer) WHEN 'boolean' THEN to_jsonb(q.value_integer <> 0) \
         WHEN 'date' THEN to_jsonb(q.value_datetime::date) WHEN 'datetime' THEN to_jsonb(q.value_datetime) \
         ELSE to_jsonb({text}) END"
    );
    let prefix = format!("{model},");
    format!(
        "LEFT JOIN (SELECT x.record_id, jsonb_object_agg(x.company_id::text, x.value) AS value \
         FROM (SELECT DISTINCT ON (1, 2) split_part(q.res_id, ',', 2)::int AS record_id, c.id AS company_id, {value} AS value \
         FROM public.ir_property q \
         JOIN public.ir_model_fields f ON f.id = q.fields_id AND f.model = {model} AND f.name = {field} \
         JOIN public.res_company c ON c.id = q.company_id OR q.company_id IS NULL \
         WHERE q.res_id LIKE {pattern} AND split_part(q.res_id, ',', 2) ~ '^[0-9]+$' \
         ORDER BY 1, 2, q.company_id NULLS LAST) x \
         WHERE x.value IS NOT NULL AND x.value <> 'null'::jsonb GROUP BY x.record_id) {alias} \
         ON {alias}.record_id = s.id",
        model = quote_literal(model),
        field = quote_literal(field),
        pattern = quote_literal(&format!(
            "{}%",
            prefix.replace('%', "\\%").replace('_', "\\_")
        )),
    )
}

/// Columns that hold a model name and so follow model renames.
fn is_model_name_column(name: &str, data_type: &str) -> bool {
    (data_type.starts_with("character varying") || data_type == "text")
        && (name == "model" || name == "res_model" || name.ends_with("_model"))
}

/// The SQL that converts a source value to the target's type where a plain cast would be wrong.
fn convert(expression: &str, from: &str, to: &str) -> String {
    let text = |t: &str| t == "text" || t.starts_with("character varying");
    if text(from) && to == "jsonb" {
        format!(
            "CASE WHEN {expression} IS NULL THEN NULL ELSE jsonb_build_object('en_US', {expression}) END"
        )
    } else if from == "jsonb" && text(to) {
        format!("coalesce({expression} ->> 'en_US', {expression} #>> '{{}}')")
    } else {
        expression.to_string()
    }
}

/// `CASE expr WHEN 'a' THEN 'b' … ELSE expr END` over the text of the value.
fn value_map_sql(expression: &str, map: &BTreeMap<String, String>) -> String {
    let mut sql = format!("CASE ({expression})::text");
    for (from, to) in map {
        sql.push_str(&format!(
            " WHEN {} THEN {}",
            quote_literal(from),
            quote_literal(to)
        ));
    }
    sql.push_str(&format!(" ELSE ({expression})::text END"));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_a_translation_and_back() {
        assert_eq!(
            convert("s.name", "character varying", "jsonb"),
            "CASE WHEN s.name IS NULL THEN NULL ELSE jsonb_build_object('en_US', s.name) END"
        );
        assert!(convert("s.name", "jsonb", "character varying").contains("->> 'en_US'"));
        assert_eq!(convert("s.qty", "double precision", "numeric"), "s.qty");
    }

    #[test]
    fn value_maps_quote_their_values() {
        let map = BTreeMap::from([("it's".to_string(), "b".to_string())]);
        assert_eq!(
            value_map_sql("s.x", &map),
            "CASE (s.x)::text WHEN 'it''s' THEN 'b' ELSE (s.x)::text END"
        );
    }
}
