//! Analysis findings about modules, models and many2many tables: modules missing or new, models
//! renamed, gone or new, many2many tables and fields changed. Reads the catalogs and the rules only.

use std::collections::BTreeSet;

use super::{Finding, category};
use crate::catalog::{Catalog, Field, Model};
use crate::rules::pairing::{TableKind, TablePair};
use crate::rules::{Policy, Rules};

/// Modules of the source that the target lacks (and what the rules say became of them), and
/// modules installed in the target only.
pub(super) fn module_findings(
    source: &Catalog,
    target: &Catalog,
    rules: &Rules,
    out: &mut Vec<Finding>,
) {
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
pub(super) fn model_findings(
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
    if let Some(rule) = rules.derived.iter().find(|r| r.from == pair.source_table) {
        return Finding {
            category: category::MODEL_REMOVED,
            subject: model.to_string(),
            detail: format!(
                "table {} ({} rows) has no counterpart; its rows{} become {} records ({})",
                pair.source_table,
                pair.rows,
                rule.filter
                    .as_ref()
                    .map(|f| format!(" where {f}"))
                    .unwrap_or_default(),
                rule.model,
                rule.name
            ),
            blocking: false,
            covered_by: rules
                .origin(&format!("derived.{}", rule.name))
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

/// A many2many field's relation as `(table, column1, column2)`.
fn describe_relation(field: &Field) -> String {
    format!(
        "({}, {}, {})",
        field.relation_table.as_deref().unwrap_or("?"),
        field.column1.as_deref().unwrap_or("?"),
        field.column2.as_deref().unwrap_or("?")
    )
}
