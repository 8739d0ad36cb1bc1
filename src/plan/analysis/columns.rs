//! Analysis findings about the columns of each paired table: removed (and what carries their
//! data), renamed, retyped, added, newly required, company-dependent, selection values gone. Reads
//! the catalogs and the rules only.

use std::collections::{BTreeMap, BTreeSet};

use super::{Finding, automatic_conversion, category};
use crate::catalog::{Catalog, Column, Field, Model, Table};
use crate::rules::pairing::{TableKind, TablePair};
use crate::rules::{ColumnRule, Rules};

/// Findings about the columns of one paired table: removed, renamed, retyped, added, required,
/// company-dependent, selection values gone.
pub(super) fn column_findings(
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

    /// Selection values of a model's stored fields that the target's stored field no longer
    /// allows, covered when the rule's `value_map` maps them all.
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
            // A field 19 no longer stores here (related to another record, such as an
            // employee's marital status on its version) has no column to refuse values: where its
            // 16 values go is the column findings' business (`carried_by`).
            if field.ttype != "selection"
                || target_field.ttype != "selection"
                || !target_field.store
            {
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

/// A company-dependent field of the target that no source column fills, and where its values
/// were in the source.
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
