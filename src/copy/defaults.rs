//! Company-wide defaults of company-dependent fields. Odoo 16 keeps them as `ir_property` rows
//! without a record (`res_id` NULL); Odoo 19 keeps them as `ir_default` rows (field, company, JSON
//! value). After the copy, when every mapping is final, the source's defaults are read in one
//! query and written in one set-based statement; the rows written are mapped as created
//! `ir.property` records of a table of the run, so that `rollback` removes them like any other.
//! In a catch-up, the defaults earlier runs wrote are updated or deleted as the source's changed.
//! It writes `ir_default` and the run's own records only.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use tokio_postgres::Client;

use crate::catalog::session::Session;
use crate::rules::Rules;

/// What the run's table list calls this step.
const KEY: &str = "ir_property";

/// How the rules turn the defaults of one Odoo 16 field into defaults of an Odoo 19 field.
#[derive(Debug, PartialEq, Eq)]
struct FieldFate<'a> {
    model: &'a str,
    name: &'a str,
    value_map: Option<&'a BTreeMap<String, String>>,
    /// Why the rules leave this field's defaults out, if they do.
    excluded: Option<String>,
}

/// The Odoo 19 field of an Odoo 16 company-dependent field: the column whose `property` rule reads
/// it (with its value map), else the field of the same name of the (renamed) model.
fn fate<'a>(rules: &'a Rules, model: &'a str, field: &'a str) -> FieldFate<'a> {
    let target_model = rules.model_in_target(model);
    let column = rules.model(model).and_then(|rule| {
        rule.columns
            .iter()
            .find(|(_, c)| c.property.as_deref() == Some(field))
    });
    match column {
        Some((name, rule)) => FieldFate {
            model: target_model,
            name,
            value_map: rule.value_map.as_ref(),
            excluded: (!rule.company_default).then(|| {
                format!("the rule for {target_model}.{name} leaves out the company defaults of {model}.{field}")
            }),
        },
        None => FieldFate {
            model: target_model,
            name: field,
            value_map: None,
            excluded: None,
        },
    }
}

/// Writes the source's company defaults into `ir_default`, once per run. Returns the number of
/// defaults written.
pub async fn carry_over(
    session: &Session,
    control: &mut Client,
    rules: &Rules,
    run_id: i64,
) -> Result<u64> {
    if !applies(session) || already_done(control, run_id).await? {
        return Ok(0);
    }
    let source = session.source.get().await?;
    let rows = source
        .query(
            include_str!("../../sql/run/company_defaults.source.sql"),
            &[],
        )
        .await
        .context(
            "cannot read the company defaults (ir_property rows without a record) of the source",
        )?;
    let defaults = Defaults::read(&rows, rules)?;
    let (read, written, left_out) = write(control, run_id, &defaults).await?;
    tracing::info!(read, written, left_out, "company defaults carried over");
    Ok(written as u64)
}

/// Whether the step has anything to do: the source keeps `ir_property` rows and the target keeps
/// company-dependent fields with `ir_default.json_value`.
fn applies(session: &Session) -> bool {
    let target_has = |table: &str, column: &str| {
        session
            .target_catalog
            .tables
            .get(table)
            .is_some_and(|t| t.has_column(column))
    };
    session.source_catalog.tables.contains_key(KEY)
        && target_has("ir_default", "json_value")
        && target_has("ir_model_fields", "company_dependent")
}

/// Whether this run carried the defaults over already.
async fn already_done(control: &Client, run_id: i64) -> Result<bool> {
    let done: i64 = control
        .query_one(
            "SELECT count(*) FROM odoo_migrate.model_state WHERE run_id = $1 AND source_table = $2 AND status = 'done'",
            &[&run_id, &KEY],
        )
        .await?
        .get(0);
    Ok(done > 0)
}

/// The source's defaults as the target statement's array parameters, one entry per default, with
/// each field renamed and each value mapped by the rules.
#[derive(Default)]
struct Defaults {
    ids: Vec<i32>,
    models: Vec<String>,
    names: Vec<String>,
    companies: Vec<Option<i32>>,
    value_models: Vec<Option<String>>,
    value_ids: Vec<Option<i32>>,
    values: Vec<Option<String>>,
    excluded: Vec<Option<String>>,
    /// The source row's own date, so that the same source always gives the same rows.
    written_at: Vec<Option<String>>,
}

impl Defaults {
    /// From the rows of `company_defaults.source.sql`.
    fn read(rows: &[tokio_postgres::Row], rules: &Rules) -> Result<Defaults> {
        let mut defaults = Defaults::default();
        for row in rows {
            let model: String = row.get(1);
            let field: String = row.get(2);
            let fate = fate(rules, &model, &field);
            let text: Option<String> = row.get(7);
            let json: Option<String> = match text {
                Some(text) => {
                    let text = fate
                        .value_map
                        .and_then(|map| map.get(&text).cloned())
                        .unwrap_or(text);
                    Some(serde_json::to_string(&text)?)
                }
                None => row.get(8),
            };
            defaults.ids.push(row.get(0));
            defaults.models.push(fate.model.to_string());
            defaults.names.push(fate.name.to_string());
            defaults.companies.push(row.get(3));
            defaults.value_models.push(row.get(5));
            defaults.value_ids.push(row.get(6));
            defaults.values.push(json);
            defaults.excluded.push(fate.excluded);
            defaults.written_at.push(row.get("written_at"));
        }
        Ok(defaults)
    }
}

/// Writes the defaults into `ir_default` and records the step as done, in one transaction.
/// Returns the defaults read, written, and left out by the rules.
async fn write(control: &mut Client, run_id: i64, defaults: &Defaults) -> Result<(i64, i64, i64)> {
    let transaction = control.transaction().await?;
    let counts = transaction
        .query_one(
            include_str!("../../sql/run/company_defaults.target.sql"),
            &[
                &run_id,
                &defaults.ids,
                &defaults.models,
                &defaults.names,
                &defaults.companies,
                &defaults.value_models,
                &defaults.value_ids,
                &defaults.values,
                &defaults.excluded,
                &defaults.written_at,
            ],
        )
        .await
        .context("cannot write the company defaults of the source into ir_default")?;
    let (read, written, left_out): (i64, i64, i64) = (counts.get(0), counts.get(1), counts.get(2));
    // A catch-up: the defaults earlier runs wrote follow the source's (changed, or gone).
    let catch_up: bool = transaction
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM odoo_migrate.syncs WHERE run_id = $1)",
            &[&run_id],
        )
        .await
        .context("cannot read whether the run is a catch-up")?
        .get(0);
    if catch_up {
        let followed = transaction
            .query_one(
                include_str!("../../sql/run/company_defaults.catch_up.sql"),
                &[
                    &run_id,
                    &defaults.ids,
                    &defaults.models,
                    &defaults.names,
                    &defaults.companies,
                    &defaults.value_models,
                    &defaults.value_ids,
                    &defaults.values,
                    &defaults.excluded,
                    &defaults.written_at,
                ],
            )
            .await
            .context("cannot bring the company defaults earlier runs wrote up to date")?;
        tracing::info!(
            updated = followed.get::<_, i64>(0),
            deleted = followed.get::<_, i64>(1),
            "company defaults of earlier runs followed the source"
        );
    }
    transaction
        .execute(
            "INSERT INTO odoo_migrate.model_state (run_id, source_table, target_table, model, kind, rows_total, rows_done, rows_created, rows_rejected, status, finished_at) \
             VALUES ($1, $2, 'ir_default', 'ir.property', 'model', $3, $3, $4, $5, 'done', now()) \
             ON CONFLICT (run_id, source_table) DO UPDATE SET status = 'done', rows_done = EXCLUDED.rows_done, \
             rows_created = EXCLUDED.rows_created, rows_rejected = EXCLUDED.rows_rejected, finished_at = now()",
            &[&run_id, &KEY, &read, &written, &left_out],
        )
        .await
        .context("cannot record the company defaults in the run's tables")?;
    transaction
        .commit()
        .await
        .context("cannot commit the company defaults")?;
    Ok((read, written, left_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_read_by_a_property_rule_takes_the_rule_column_and_map() {
        let rules = Rules::load(&[]).expect("default pack");
        let valuation = fate(&rules, "product.category", "property_valuation");
        assert_eq!(valuation.name, "property_valuation");
        assert_eq!(
            valuation
                .value_map
                .and_then(|m| m.get("manual_periodic"))
                .map(String::as_str),
            Some("periodic")
        );
        let pricelist = fate(&rules, "res.partner", "property_product_pricelist");
        assert_eq!(pricelist.name, "specific_property_product_pricelist");
        assert!(pricelist.excluded.is_some(), "{pricelist:?}");
        let other = fate(&rules, "res.partner", "some_field");
        assert_eq!((other.model, other.name), ("res.partner", "some_field"));
    }
}
