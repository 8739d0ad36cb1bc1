//! Selection values of the source's data that Odoo 19 does not know: one query per migrated
//! model table on the source, read-only.

use anyhow::{Context, Result};
use tokio_postgres::Row;

use super::{Finding, category};
use crate::catalog::session::Session;
use crate::catalog::{Catalog, Field, Table, quote_ident};
use crate::rules::pairing::{TableKind, TablePair, pair_tables};
use crate::rules::{Policy, Rules};

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
