//! The comparison of the Odoo 16 catalog with the Odoo 19 catalog under the rules: which source
//! table goes to which target table, and every difference a migration must handle (modules, models,
//! columns, types, required columns, company-dependent storage, many2many tables, selections), each
//! marked as covered by a rule or not, and as blocking or not. `analyze` is this module's command.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use serde::Serialize;
use tokio_postgres::Row;

use crate::catalog::session::Session;
use crate::catalog::{Catalog, Column, Field, Model, Table, quote_ident};
use crate::rules::pairing::{TableKind, TablePair, pair_tables};
use crate::rules::{ColumnRule, Policy, Rules};
use crate::side_schema;

/// One difference between the databases.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub category: &'static str,
    pub subject: String,
    pub detail: String,
    pub blocking: bool,
    /// The rule, or the automatic conversion, that handles the difference; `None` when nothing does.
    pub covered_by: Option<String>,
}

/// The whole analysis, as reported and stored.
#[derive(Debug, Serialize)]
pub struct Analysis {
    pub source_database: String,
    pub target_database: String,
    pub source_version: String,
    pub target_version: String,
    pub findings: Vec<Finding>,
    /// Rows per source table that will be migrated, with its model.
    pub rows_per_model: Vec<ModelRows>,
    pub xmlids_per_module: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize)]
pub struct ModelRows {
    pub model: String,
    pub table: String,
    pub rows: i64,
    pub policy: Policy,
}

impl Analysis {
    pub fn blocking(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.blocking)
    }
}

/// Category names, also the keys of the report's sections.
pub mod category {
    pub const MODULE_MISSING: &str = "module_missing_in_target";
    pub const MODULE_NEW: &str = "module_only_in_target";
    pub const MODEL_RENAMED: &str = "model_renamed";
    pub const MODEL_REMOVED: &str = "model_only_in_source";
    pub const MODEL_NEW: &str = "model_only_in_target";
    pub const RELATION_CHANGED: &str = "many2many_table_changed";
    pub const COLUMN_REMOVED: &str = "column_removed";
    pub const COLUMN_ADDED: &str = "column_added";
    pub const COLUMN_RENAMED: &str = "column_renamed";
    pub const TYPE_CHANGED: &str = "type_changed";
    pub const REQUIRED_NEW: &str = "new_required_column";
    pub const COMPANY_DEPENDENT: &str = "company_dependent_storage";
    pub const SELECTION_CHANGED: &str = "selection_values_removed";
    pub const SELECTION_UNKNOWN: &str = "selection_value_unknown";
}

/// Compares the catalogs under the rules.
pub fn analyze(source: &Catalog, target: &Catalog, rules: &Rules) -> Analysis {
    let mut findings = Vec::new();
    module_findings(source, target, rules, &mut findings);
    let pairs = pair_tables(source, target, rules);
    model_findings(source, target, rules, &pairs, &mut findings);
    for pair in &pairs {
        if pair.policy == Policy::Skip {
            continue;
        }
        let Some(target_table_name) = &pair.target_table else {
            continue;
        };
        let (Some(source_table), Some(target_table)) = (
            source.tables.get(&pair.source_table),
            target.tables.get(target_table_name),
        ) else {
            continue;
        };
        column_findings(
            source,
            target,
            rules,
            pair,
            source_table,
            target_table,
            &mut findings,
        );
    }
    findings.sort_by(|a, b| {
        (b.blocking, a.category, &a.subject).cmp(&(a.blocking, b.category, &b.subject))
    });
    let rows_per_model = pairs
        .iter()
        .filter(|p| p.kind == TableKind::Model && !p.transient)
        .map(|p| ModelRows {
            model: p.source_model.clone().unwrap_or_default(),
            table: p.source_table.clone(),
            rows: p.rows,
            policy: p.policy,
        })
        .collect();
    Analysis {
        source_database: source.database.clone(),
        target_database: target.database.clone(),
        source_version: source.base_version.clone(),
        target_version: target.base_version.clone(),
        findings,
        rows_per_model,
        xmlids_per_module: source.xmlids_per_module.clone(),
    }
}

fn module_findings(source: &Catalog, target: &Catalog, rules: &Rules, out: &mut Vec<Finding>) {
    for module in source.modules.keys() {
        if target.modules.contains_key(module) {
            continue;
        }
        let origin = rules
            .origin(&format!("modules.{module}"))
            .map(str::to_string);
        let rule = rules.modules.get(module);
        let (detail, blocking, covered_by) = match (rule, rules.module_in_target(module)) {
            (Some(rule), None) => (
                format!(
                    "removed in Odoo 19{}",
                    rule.note
                        .as_deref()
                        .map_or(String::new(), |n| format!(": {n}"))
                ),
                false,
                origin,
            ),
            (Some(_), Some(successor)) if target.modules.contains_key(successor) => (
                format!("became `{successor}`, which is installed in the target"),
                false,
                origin,
            ),
            (Some(_), Some(successor)) => (
                format!(
                    "became `{successor}`, which is NOT installed in the target: install it there first"
                ),
                true,
                origin,
            ),
            (None, _) => (
                "installed in the source, not in the target, and no rule says what became of it: install it in the target or write a module rule".to_string(),
                true,
                None,
            ),
        };
        out.push(Finding {
            category: category::MODULE_MISSING,
            subject: module.clone(),
            detail,
            blocking,
            covered_by,
        });
    }
    let successors: BTreeSet<&str> = source
        .modules
        .keys()
        .filter_map(|m| rules.module_in_target(m))
        .collect();
    for module in target.modules.keys() {
        if !successors.contains(module.as_str()) {
            out.push(Finding {
                category: category::MODULE_NEW,
                subject: module.clone(),
                detail: "installed in the target only; its tables start empty or with its own data"
                    .to_string(),
                blocking: false,
                covered_by: Some("nothing to migrate".to_string()),
            });
        }
    }
}

/// Findings about models and many2many tables: renamed, gone from the target, only in the
/// target, many2many tables or fields changed.
fn model_findings(
    source: &Catalog,
    target: &Catalog,
    rules: &Rules,
    pairs: &[TablePair],
    out: &mut Vec<Finding>,
) {
    for pair in pairs.iter().filter(|p| !p.transient) {
        match pair.kind {
            TableKind::Model => model_pair_findings(source, rules, pair, out),
            TableKind::Relation => relation_pair_findings(rules, pair, out),
        }
    }
    many2many_field_findings(source, target, rules, out);
    new_model_findings(source, target, pairs, out);
}

/// A model table renamed, or with no counterpart in the target.
fn model_pair_findings(source: &Catalog, rules: &Rules, pair: &TablePair, out: &mut Vec<Finding>) {
    let model = pair.source_model.as_deref().unwrap_or("");
    let origin = rules.origin(&format!("models.{model}")).map(str::to_string);
    let target_model = rules.model_in_target(model);
    if target_model != model {
        out.push(Finding {
            category: category::MODEL_RENAMED,
            subject: format!("{model} → {target_model}"),
            detail: format!(
                "table {} → {}, {} rows",
                pair.source_table,
                pair.target_table.as_deref().unwrap_or("(none in target)"),
                pair.rows
            ),
            blocking: false,
            covered_by: origin.clone(),
        });
    }
    if pair.target_table.is_none() {
        out.push(removed_model_finding(source, rules, pair, model, origin));
    }
}

/// A model whose table has no counterpart: its rows become pairs by a relation rule, are skipped
/// by rule, or are left behind (blocking for a custom model with rows: someone must decide).
fn removed_model_finding(
    source: &Catalog,
    rules: &Rules,
    pair: &TablePair,
    model: &str,
    origin: Option<String>,
) -> Finding {
    if let Some(rule) = rules.relations.iter().find(|r| r.from == pair.source_table) {
        return Finding {
            category: category::MODEL_REMOVED,
            subject: model.to_string(),
            detail: format!(
                "table {} ({} rows) has no counterpart; its rows become pairs of {}",
                pair.source_table, pair.rows, rule.to
            ),
            blocking: false,
            covered_by: rules
                .origin(&format!("relations.{}.{}", rule.from, rule.to))
                .map(str::to_string),
        };
    }
    let skipped = pair.policy == Policy::Skip;
    // The company's own records of its own model would be left behind silently:
    // someone must decide.
    let custom_with_rows =
        !skipped && pair.rows > 0 && source.models.get(model).is_some_and(|m| m.custom);
    Finding {
        category: category::MODEL_REMOVED,
        subject: model.to_string(),
        detail: format!(
            "table {} ({} rows) has no counterpart in the target{}",
            pair.source_table,
            pair.rows,
            if skipped {
                "; skipped by rule".to_string()
            } else if custom_with_rows {
                format!(
                    "; it is a custom model: create it in the Odoo 19 database (install its module or \
                     import the Studio customization) or leave its rows behind with a rule \
                     `[models.\"{model}\"] policy = \"skip\"`"
                )
            } else {
                "; its rows are not migrated".to_string()
            }
        ),
        blocking: custom_with_rows,
        covered_by: if skipped { origin } else { None },
    }
}

/// A many2many table with no counterpart in the target, or paired with a table of another name.
fn relation_pair_findings(rules: &Rules, pair: &TablePair, out: &mut Vec<Finding>) {
    let model = pair.source_model.as_deref().unwrap_or("");
    let Some(target_table) = &pair.target_table else {
        let skipped = rules.tables.get(&pair.source_table).is_some_and(|t| t.skip);
        out.push(Finding {
            category: category::MODEL_REMOVED,
            subject: pair.source_table.clone(),
            detail: format!(
                "many2many table of {model} ({} rows) has no counterpart in the target{}",
                pair.rows,
                if skipped { "; skipped by rule" } else { "" }
            ),
            blocking: false,
            covered_by: if skipped {
                rules
                    .origin(&format!("tables.{}", pair.source_table))
                    .map(str::to_string)
            } else {
                None
            },
        });
        return;
    };
    if target_table != &pair.source_table {
        out.push(Finding {
            category: category::RELATION_CHANGED,
            subject: pair.source_table.clone(),
            detail: format!("many2many table of {model} is now {target_table}"),
            blocking: false,
            covered_by: Some("table pairing by model and field".to_string()),
        });
    }
}

/// Many2many fields whose table stayed but whose field name changed, e.g. res.users.groups_id,
/// or whose table or columns changed under the same name.
fn many2many_field_findings(
    source: &Catalog,
    target: &Catalog,
    rules: &Rules,
    out: &mut Vec<Finding>,
) {
    for model in source.models.values().filter(|m| !m.transient) {
        let Some(target_model) = target.models.get(rules.model_in_target(&model.name)) else {
            continue;
        };
        for field in model
            .fields
            .values()
            .filter(|f| f.ttype == "many2many" && f.store)
        {
            out.extend(many2many_field_finding(rules, model, target_model, field));
        }
    }
}

/// The finding of one stored many2many field of the source, if its relation changed.
fn many2many_field_finding(
    rules: &Rules,
    model: &Model,
    target_model: &Model,
    field: &Field,
) -> Option<Finding> {
    if let Some(same) = target_model.fields.get(&field.name) {
        let changed = same.ttype == "many2many"
            && (same.relation_table != field.relation_table
                || same.column1 != field.column1
                || same.column2 != field.column2);
        return changed.then(|| Finding {
            category: category::RELATION_CHANGED,
            subject: format!("{}.{}", model.name, field.name),
            detail: format!("{} → {}", describe_relation(field), describe_relation(same)),
            blocking: false,
            covered_by: Some("table pairing by model and field".to_string()),
        });
    }
    let renamed = target_model.fields.values().find(|f| {
        f.ttype == "many2many"
            && f.relation_table == field.relation_table
            && !model.fields.contains_key(&f.name)
    });
    let detail = match renamed {
        Some(new) => format!(
            "field renamed to {}.{}, relation table kept: {}",
            target_model.name,
            new.name,
            describe_relation(new)
        ),
        None => format!(
            "many2many field removed from the target ({})",
            describe_relation(field)
        ),
    };
    Some(Finding {
        category: category::RELATION_CHANGED,
        subject: format!("{}.{}", model.name, field.name),
        detail,
        blocking: false,
        covered_by: renamed
            .map(|_| "relation table kept".to_string())
            .or_else(|| {
                // The table's own rule says where its rows go (renamed) or that they stay.
                let table = field.relation_table.as_deref()?;
                rules
                    .tables
                    .get(table)
                    .filter(|t| t.skip || t.rename.is_some())
                    .and_then(|_| rules.origin(&format!("tables.{table}")))
                    .map(str::to_string)
            }),
    })
}

/// Models with a table only in the target, that no source model migrates into.
fn new_model_findings(
    source: &Catalog,
    target: &Catalog,
    pairs: &[TablePair],
    out: &mut Vec<Finding>,
) {
    let migrated_targets: BTreeSet<&str> = pairs
        .iter()
        .filter_map(|p| p.target_model.as_deref())
        .collect();
    for model in target.models.values() {
        if model.transient
            || model.table.is_none()
            || migrated_targets.contains(model.name.as_str())
        {
            continue;
        }
        if source.models.contains_key(&model.name) {
            continue;
        }
        out.push(Finding {
            category: category::MODEL_NEW,
            subject: model.name.clone(),
            detail: format!(
                "table {} exists only in the target",
                model.table.as_deref().unwrap_or("")
            ),
            blocking: false,
            covered_by: Some("nothing to migrate".to_string()),
        });
    }
}

/// Whether an SQL expression of a rule reads `s.<column>` (quoted or not) of the source row.
fn sql_reads_source_column(sql: &str, column: &str) -> bool {
    let quoted = format!("s.\"{column}\"");
    if sql.contains(&quoted) {
        return true;
    }
    let plain = format!("s.{column}");
    sql.match_indices(&plain).any(|(at, _)| {
        let before_ok = at == 0
            || !sql[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        let after_ok = !sql[at + plain.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        before_ok && after_ok
    })
}

fn describe_relation(field: &Field) -> String {
    format!(
        "({}, {}, {})",
        field.relation_table.as_deref().unwrap_or("?"),
        field.column1.as_deref().unwrap_or("?"),
        field.column2.as_deref().unwrap_or("?")
    )
}

/// Findings about the columns of one paired table: removed, renamed, retyped, added, required,
/// company-dependent, selection values gone.
fn column_findings(
    source: &Catalog,
    target: &Catalog,
    rules: &Rules,
    pair: &TablePair,
    source_table: &Table,
    target_table: &Table,
    out: &mut Vec<Finding>,
) {
    let model_name = pair.source_model.as_deref().unwrap_or("");
    let owner_key = match pair.kind {
        TableKind::Model => format!("models.{model_name}"),
        TableKind::Relation => format!("tables.{}", pair.source_table),
    };
    let context = ColumnContext {
        source,
        rules,
        pair,
        source_table,
        target_table,
        column_rules: pair.column_rules(rules),
        rule_origin: rules.origin(&owner_key).map(str::to_string),
        owner_key,
        source_model: source.models.get(model_name),
        target_model: pair
            .target_model
            .as_deref()
            .and_then(|m| target.models.get(m)),
        consumed: pair.renamed_columns.values().map(String::as_str).collect(),
    };
    for column in &source_table.columns {
        if target_table.has_column(&column.name) || context.consumed.contains(column.name.as_str())
        {
            continue;
        }
        out.push(context.removed_column(column));
    }
    for column in &target_table.columns {
        context.target_column_findings(column, out);
    }
    context.selection_findings(out);
}

/// What the findings of one paired table's columns are judged from.
struct ColumnContext<'a> {
    source: &'a Catalog,
    rules: &'a Rules,
    pair: &'a TablePair,
    source_table: &'a Table,
    target_table: &'a Table,
    column_rules: Option<&'a BTreeMap<String, ColumnRule>>,
    /// `models.<model>` or `tables.<table>`: where the table's rule sits.
    owner_key: String,
    /// The file and place of that rule, when there is one.
    rule_origin: Option<String>,
    source_model: Option<&'a Model>,
    target_model: Option<&'a Model>,
    /// Source columns that fill a target column of another name.
    consumed: BTreeSet<&'a str>,
}

impl ColumnContext<'_> {
    /// A source column with no column in the target, and what (if anything) carries its data.
    fn removed_column(&self, column: &Column) -> Finding {
        let (rules, pair, table) = (self.rules, self.pair, &self.target_table.name);
        // A rule that reads the column carries its data into another one.
        let read_by: Vec<&str> = self
            .column_rules
            .map(|rules| {
                rules
                    .iter()
                    .filter(|(_, rule)| {
                        rule.from.as_deref() == Some(column.name.as_str())
                            || rule
                                .sql
                                .as_deref()
                                .is_some_and(|sql| sql_reads_source_column(sql, &column.name))
                    })
                    .map(|(target_column, _)| target_column.as_str())
                    .collect()
            })
            .unwrap_or_default();
        // A relation rule that reads it carries its data into a many2many table.
        let read_by_relation = rules.relations.iter().find(|relation| {
            relation.from == pair.source_table
                && relation
                    .filter
                    .iter()
                    .chain(relation.columns.values().filter_map(|c| c.sql.as_ref()))
                    .any(|sql| sql_reads_source_column(sql, &column.name))
        });
        let lost = format!(
            "{} ({} rows in the table) has no column in {table}",
            column.data_type, pair.rows
        );
        let (detail, covered_by) = if !read_by.is_empty() {
            (
                format!("{lost}; read by the rule for {}", read_by.join(", ")),
                self.rule_origin.clone(),
            )
        } else if let Some(relation) = read_by_relation {
            (
                format!("{lost}; read by the relation rule into {}", relation.to),
                rules
                    .origin(&format!("relations.{}.{}", relation.from, relation.to))
                    .map(str::to_string),
            )
        } else if let Some((by, origin)) = rules.carried_column(&self.owner_key, &column.name) {
            (
                format!("{lost}; carried by the rule for {by}"),
                Some(origin.to_string()),
            )
        } else if let Some((reason, origin)) = rules.dropped_column(&self.owner_key, &column.name) {
            (
                format!("{lost}; dropped: {reason}"),
                Some(origin.to_string()),
            )
        } else {
            (lost, None)
        };
        Finding {
            category: category::COLUMN_REMOVED,
            subject: format!("{}.{}", pair.source_table, column.name),
            detail,
            blocking: false,
            covered_by,
        }
    }

    /// A target column filled from a source column of another name, of another type, or from
    /// none at all.
    fn target_column_findings(&self, column: &Column, out: &mut Vec<Finding>) {
        let (pair, table) = (self.pair, &self.target_table.name);
        let rule = self.column_rules.and_then(|r| r.get(&column.name));
        let renamed_from = pair.renamed_columns.get(&column.name);
        if let Some(from) = renamed_from {
            out.push(Finding {
                category: category::COLUMN_RENAMED,
                subject: format!("{table}.{}", column.name),
                detail: format!("filled from {}.{from}", pair.source_table),
                blocking: false,
                covered_by: Some(
                    self.rule_origin
                        .clone()
                        .unwrap_or_else(|| "many2many columns of the renamed model".to_string()),
                ),
            });
        }
        let source_column = self
            .source_table
            .column(renamed_from.map_or(column.name.as_str(), String::as_str));
        match source_column {
            Some(source_column) if source_column.data_type != column.data_type => {
                let covered = rule
                    .filter(|r| r.sql.is_some())
                    .map(|_| self.rule_origin.clone().unwrap_or_default())
                    .or_else(|| {
                        automatic_conversion(&source_column.data_type, &column.data_type)
                            .map(str::to_string)
                    });
                out.push(Finding {
                    category: category::TYPE_CHANGED,
                    subject: format!("{table}.{}", column.name),
                    detail: format!("{} → {}", source_column.data_type, column.data_type),
                    blocking: covered.is_none() && pair.rows > 0,
                    covered_by: covered,
                });
            }
            Some(_) => {}
            None => out.push(self.new_column(column, rule)),
        }
    }

    /// A target column that no source column fills: company-dependent, required or merely added.
    fn new_column(&self, column: &Column, rule: Option<&ColumnRule>) -> Finding {
        let (pair, table) = (self.pair, &self.target_table.name);
        let target_field = self.target_model.and_then(|m| m.fields.get(&column.name));
        if let Some(field) = target_field.filter(|f| f.company_dependent) {
            return company_dependent_finding(
                self.source,
                self.source_model,
                pair,
                field,
                rule.map(|_| self.rule_origin.clone().unwrap_or_default()),
            );
        }
        let covered_by = rule
            .filter(|r| r.sql.is_some() || r.from.is_some() || r.skip)
            .map(|_| self.rule_origin.clone().unwrap_or_default());
        let required = column.not_null && column.default_expr.is_none();
        if required {
            Finding {
                category: category::REQUIRED_NEW,
                subject: format!("{table}.{}", column.name),
                detail: format!(
                    "{} NOT NULL without default; {} source rows need a value",
                    column.data_type, pair.rows
                ),
                blocking: covered_by.is_none() && pair.rows > 0,
                covered_by,
            }
        } else {
            Finding {
                category: category::COLUMN_ADDED,
                subject: format!("{table}.{}", column.name),
                detail: column.data_type.clone(),
                blocking: false,
                covered_by: covered_by.or(Some("left NULL or to its default".to_string())),
            }
        }
    }

    /// Selection values of a model's stored fields that the target's field no longer allows,
    /// covered when the rule's `value_map` maps them all.
    fn selection_findings(&self, out: &mut Vec<Finding>) {
        let (Some(source_model), Some(target_model)) = (self.source_model, self.target_model)
        else {
            return;
        };
        if self.pair.kind != TableKind::Model {
            return;
        }
        for field in source_model.fields.values().filter(|f| f.store) {
            let Some(target_field) = target_model.fields.get(&field.name) else {
                continue;
            };
            if field.ttype != "selection" || target_field.ttype != "selection" {
                continue;
            }
            let gone: Vec<&str> = field
                .selection
                .iter()
                .filter(|v| !target_field.selection.contains(v))
                .map(String::as_str)
                .collect();
            if gone.is_empty() {
                continue;
            }
            let mapped = self
                .column_rules
                .and_then(|r| r.get(&field.name))
                .and_then(|r| r.value_map.as_ref());
            let uncovered: Vec<&str> = gone
                .iter()
                .copied()
                .filter(|v| !mapped.is_some_and(|m| m.contains_key(*v)))
                .collect();
            out.push(Finding {
                category: category::SELECTION_CHANGED,
                subject: format!("{}.{}", source_model.name, field.name),
                detail: format!(
                    "values no longer allowed in the target: {}",
                    gone.join(", ")
                ),
                blocking: false,
                covered_by: uncovered
                    .is_empty()
                    .then(|| self.rule_origin.clone().unwrap_or_default()),
            });
        }
    }
}

fn company_dependent_finding(
    source: &Catalog,
    source_model: Option<&Model>,
    pair: &TablePair,
    field: &Field,
    covered_by: Option<String>,
) -> Finding {
    let in_source = source_model.and_then(|m| m.fields.get(&field.name));
    let was = match in_source {
        Some(f) if !f.store => "an ir_property value per company (no column)".to_string(),
        Some(f) => format!("a plain {} column", f.ttype),
        None => "not in the source".to_string(),
    };
    let has_property_table = source.tables.contains_key("ir_property");
    Finding {
        category: category::COMPANY_DEPENDENT,
        subject: format!(
            "{}.{}",
            pair.target_model.as_deref().unwrap_or(""),
            field.name
        ),
        detail: format!(
            "was {was}; now a jsonb column keyed by company id{}",
            if has_property_table && in_source.is_some_and(|f| !f.store) {
                " (values come from ir_property)"
            } else {
                ""
            }
        ),
        blocking: false,
        covered_by,
    }
}

/// The conversions the copy makes by itself when a column's type changed.
pub fn automatic_conversion(from: &str, to: &str) -> Option<&'static str> {
    let text = |t: &str| t == "text" || t.starts_with("character varying");
    let number = |t: &str| {
        matches!(
            t,
            "integer" | "bigint" | "smallint" | "numeric" | "double precision" | "real"
        ) || t.starts_with("numeric")
    };
    if text(from) && to == "jsonb" {
        Some("automatic: text becomes a translation {\"en_US\": value}")
    } else if from == "jsonb" && text(to) {
        Some("automatic: the en_US translation becomes the text")
    } else if text(from) && text(to) {
        Some("automatic: text to text")
    } else if number(from) && number(to) {
        Some("automatic: numeric cast")
    } else if from == "integer" && text(to) {
        Some("automatic: integer written as text")
    } else if from == "boolean" && text(to) {
        Some("automatic: boolean written as text")
    } else {
        None
    }
}

/// Values of the source's selection columns that the Odoo 19 field does not know and no `value_map`
/// maps (written by hand, by an import or by a module of the company's own): each with its rows'
/// source ids and the rule that would map it. One query per table, read from the source's data,
/// so that they are known before the run rather than found by `verify` after it; models only
/// matched (module metadata) keep the target's values and are left out. Not blocking: the
/// value is copied as it is.
pub async fn unknown_selection_values(session: &Session, rules: &Rules) -> Result<Vec<Finding>> {
    let (source, target) = (&session.source_catalog, &session.target_catalog);
    let client = session.source.get().await?;
    let mut findings = Vec::new();
    for pair in pair_tables(source, target, rules) {
        let Some(checks) = SelectionChecks::of(source, target, rules, &pair) else {
            continue;
        };
        let rows = client
            .query(checks.sql().as_str(), &checks.params())
            .await
            .with_context(|| {
                format!(
                    "cannot read the selection values of {} in the source",
                    pair.source_table
                )
            })?;
        findings.extend(rows.iter().filter_map(|row| checks.finding(row)));
    }
    Ok(findings)
}

/// The selection columns of one migrated model table to check against the values Odoo 19 knows.
struct SelectionChecks<'a> {
    pair: &'a TablePair,
    model: &'a str,
    target_model: &'a str,
    /// (target field, source column, values that need no rule)
    checks: Vec<(&'a Field, String, Vec<String>)>,
}

impl<'a> SelectionChecks<'a> {
    /// The checks of a migrated model table with rows; `None` when it has none.
    fn of(
        source: &'a Catalog,
        target: &'a Catalog,
        rules: &'a Rules,
        pair: &'a TablePair,
    ) -> Option<SelectionChecks<'a>> {
        if pair.kind != TableKind::Model || pair.policy != Policy::Migrate || pair.rows == 0 {
            return None;
        }
        let (Some(model), Some(target_model)) = (&pair.source_model, &pair.target_model) else {
            return None;
        };
        let source_table = source.tables.get(&pair.source_table)?;
        let target_fields = target.models.get(target_model).map(|m| &m.fields)?;
        let target_table = pair
            .target_table
            .as_ref()
            .and_then(|t| target.tables.get(t))?;
        let column_rules = pair.column_rules(rules);
        let mut checks: Vec<(&Field, String, Vec<String>)> = Vec::new();
        for field in target_fields
            .values()
            .filter(|f| f.ttype == "selection" && f.store && !f.selection.is_empty())
        {
            let rule = column_rules.and_then(|c| c.get(&field.name));
            if rule.is_some_and(|r| r.sql.is_some() || r.property.is_some() || r.skip) {
                continue;
            }
            let source_column = rule
                .and_then(|r| r.from.clone())
                .or_else(|| pair.renamed_columns.get(&field.name).cloned())
                .unwrap_or_else(|| field.name.clone());
            // Company-dependent values (jsonb) are checked by `verify`, company by company.
            let plain = |table: &Table, column: &str| {
                table
                    .columns
                    .iter()
                    .any(|c| c.name == column && c.data_type != "jsonb")
            };
            if !plain(source_table, &source_column) || !plain(target_table, &field.name) {
                continue;
            }
            let mut known = field.selection.clone();
            if let Some(map) = rule.and_then(|r| r.value_map.as_ref()) {
                known.extend(map.keys().cloned());
            }
            checks.push((field, source_column, known));
        }
        (!checks.is_empty()).then_some(SelectionChecks {
            pair,
            model,
            target_model,
            checks,
        })
    }

    /// One statement for all the table's checks: per check, each unknown value with its count
    /// and first source ids; check `i` takes its known values as parameter `i + 1`.
    fn sql(&self) -> String {
        let table = quote_ident(&self.pair.source_table);
        let branches: Vec<String> = self.checks
            .iter()
            .enumerate()
            .map(|(index, (_, column, _))| {
                let column = quote_ident(column);
                format!(
                    "SELECT {index}, s.{column}::text, count(*), (array_agg(s.id ORDER BY s.id))[1:5] \
                     FROM public.{table} s WHERE s.{column} IS NOT NULL AND NOT (s.{column}::text = ANY(${}::text[])) \
                     GROUP BY 2",
                    index + 1
                )
            })
            .collect();
        branches.join(" UNION ALL ")
    }

    /// The parameters of [`Self::sql`].
    fn params(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        self.checks
            .iter()
            .map(|(_, _, known)| known as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect()
    }

    /// The finding of one row of [`Self::sql`]: an unknown value and where it stands.
    fn finding(&self, row: &Row) -> Option<Finding> {
        let (model, target_model) = (self.model, self.target_model);
        let (field, column, _) = usize::try_from(row.get::<_, i32>(0))
            .ok()
            .and_then(|i| self.checks.get(i))?;
        let value: String = row.get(1);
        let count: i64 = row.get(2);
        let ids: Vec<i32> = row.get(3);
        Some(Finding {
            category: category::SELECTION_UNKNOWN,
            subject: format!("{model}.{}", field.name),
            detail: format!(
                "'{value}' in {count} row(s) of {}.{column} (source ids {ids:?}) is not a value Odoo 19 knows for {target_model}.{} ({}); \
                 it would be copied as it is: map it with a rule: [models.\"{model}\"] columns.{} = {{ value_map = {{ \"{value}\" = \"…\" }} }}",
                self.pair.source_table,
                field.name,
                field.selection.join(", "),
                field.name
            ),
            blocking: false,
            covered_by: None,
        })
    }
}

/// Stores the analysis in the target's side schema, as an `analyze` run with its findings.
pub async fn store(session: &Session, analysis: &Analysis) -> Result<()> {
    let mut client = session.target.get().await?;
    side_schema::ensure(&mut client).await?;
    let transaction = client.transaction().await?;
    let options = serde_json::json!({ "blocking": analysis.blocking().count() });
    let run_id = side_schema::start_run(
        &*transaction,
        "analyze",
        &analysis.source_database,
        &analysis.target_database,
        &options,
    )
    .await?;
    let mut categories = Vec::new();
    let mut subjects = Vec::new();
    let mut details = Vec::new();
    let mut blocking = Vec::new();
    let mut covered = Vec::new();
    for finding in &analysis.findings {
        categories.push(finding.category);
        subjects.push(finding.subject.as_str());
        details.push(finding.detail.as_str());
        blocking.push(finding.blocking);
        covered.push(finding.covered_by.as_deref());
    }
    transaction
        .execute(
            "INSERT INTO odoo_migrate.analysis_findings (run_id, category, subject, detail, blocking, covered_by) \
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[])",
            &[&run_id, &categories, &subjects, &details, &blocking, &covered],
        )
        .await
        .context("cannot store the findings in odoo_migrate.analysis_findings")?;
    side_schema::finish_run(&*transaction, run_id, "finished", None).await?;
    transaction.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_reading_a_removed_column_is_found_by_its_source_alias() {
        assert!(sql_reads_source_column(
            "COALESCE(s.phone, s.mobile)",
            "mobile"
        ));
        assert!(sql_reads_source_column("s.\"code\" || 'x'", "code"));
        assert!(sql_reads_source_column("s.code", "code"));
        assert!(!sql_reads_source_column("s.mobile_blacklisted", "mobile"));
        assert!(!sql_reads_source_column("ss.mobile", "mobile"));
        assert!(!sql_reads_source_column("x.s.mobile", "mobile"));
    }
}
