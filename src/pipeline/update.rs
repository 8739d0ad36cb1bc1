//! `run --update MODEL[:FIELD,…]`: copies again some or all fields of records that a run already
//! migrated, through the mappings, without creating anything — for a first migration that brought
//! only some fields, or a rule fixed afterwards. Records created by the run and records matched
//! under `on_match = update` are written; only those whose values differ are changed and counted,
//! and their former values are kept for `rollback`.

use anyhow::{Context, Result};

use super::Inputs;
use crate::copy::rows;
use crate::io::exit::{Status, refuse};
use crate::io::report;
use crate::plan::ids;
use crate::plan::tables::{self, Output, Span, TablePlan};
use crate::rules::pairing::TableKind;

/// One `--update` request: a model and the target columns to copy (all when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRequest {
    pub model: String,
    pub fields: Vec<String>,
}

/// Reads `MODEL`, `MODEL:FIELD,FIELD` or `MODEL.FIELD` (when `MODEL.FIELD` is not itself a model).
pub fn parse_request(text: &str, is_model: impl Fn(&str) -> bool) -> Option<UpdateRequest> {
    if let Some((model, fields)) = text.split_once(':') {
        return Some(UpdateRequest {
            model: model.to_string(),
            fields: fields
                .split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect(),
        });
    }
    if is_model(text) {
        return Some(UpdateRequest {
            model: text.to_string(),
            fields: Vec::new(),
        });
    }
    let (model, field) = text.rsplit_once('.')?;
    is_model(model).then(|| UpdateRequest {
        model: model.to_string(),
        fields: vec![field.to_string()],
    })
}

/// `run --update`: copies again the requested fields of records already migrated, creating
/// nothing, and reports how many records changed.
pub async fn update(inputs: &Inputs, wanted: &[String]) -> Result<Status> {
    let (session, rules) = inputs.open(2).await?;
    let (pairs, plans) = tables::for_session(&session, &rules)?;
    let mut requests = Vec::new();
    for text in wanted {
        let request = parse_request(text, |m| session.source_catalog.models.contains_key(m))
            .ok_or_else(|| {
                refuse(
                    Status::Usage,
                    format!("--update {text}: no such model in the source; write MODEL, MODEL:FIELD,FIELD or MODEL.FIELD"),
                )
            })?;
        let plan = plans
            .iter()
            .find(|p| p.kind == TableKind::Model && p.model == request.model)
            .ok_or_else(|| {
                refuse(
                    Status::Usage,
                    format!(
                        "--update {text}: model {} is not copied by the migration",
                        request.model
                    ),
                )
            })?;
        for field in &request.fields {
            if !plan.columns.iter().any(|c| &c.target_column == field) {
                return Err(refuse(
                    Status::Usage,
                    format!(
                        "--update {text}: {field} is not a column the migration writes in {}",
                        plan.target_table
                    ),
                ));
            }
        }
        requests.push((request, plan.clone()));
    }

    let mut target = session.target_endpoint.connect().await?;
    crate::side_schema::ensure(&mut target).await?;
    crate::side_schema::ensure_id_map_keys(&target).await?;
    crate::side_schema::lock_run(
        &target,
        "another odoo-migrate run is working on this target right now; wait for it to end",
    )
    .await?;
    let run = target
        .query_opt(
            "SELECT id FROM odoo_migrate.runs WHERE command = 'run' AND status <> 'rolled_back' ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .ok()
        .flatten()
        .ok_or_else(|| {
            refuse(
                Status::Usage,
                "--update needs a migration run on this target: run `odoo-migrate run` first",
            )
        })?;
    let run_id: i64 = run.get(0);
    let mappings = ids::load(&target, &rules, &pairs).await?;
    let renamed = rules.renamed_models();
    let source = session.source.get().await?;
    let mut lines = Vec::new();
    let updated: Vec<TablePlan> = requests.iter().map(|(_, plan)| plan.clone()).collect();
    for (request, plan) in requests {
        let narrowed = narrow(&plan, &request.fields);
        let transaction = target.transaction().await?;
        let outcome = rows::copy_rows(
            &narrowed,
            &source,
            &transaction,
            &mappings,
            &renamed,
            Span::ALL,
            run_id,
        )
        .await?;
        transaction
            .commit()
            .await
            .with_context(|| format!("cannot commit the update of {}", request.model))?;
        lines.push(format!(
            "{}: {} record(s) compared, {} changed{}",
            request.model,
            outcome.rows_read,
            outcome.updated,
            if request.fields.is_empty() {
                String::new()
            } else {
                format!(" ({})", request.fields.join(", "))
            }
        ));
    }
    // Values derived from the updated rows follow them.
    let final_sql = crate::pipeline::final_statements(&updated);
    crate::pipeline::finish::run_final_sql(&mut target, &final_sql, run_id).await?;
    report::emit(&(lines.join("\n") + "\n"))?;
    Ok(Status::Success)
}

/// The plan restricted to the id and the requested columns (all when none is named).
fn narrow(plan: &TablePlan, fields: &[String]) -> TablePlan {
    let mut narrowed = plan.clone();
    narrowed.update_only = true;
    narrowed.post_sql.clear();
    if !fields.is_empty() {
        narrowed.columns.retain(|c| {
            matches!(c.output, Output::OwnId { .. }) || fields.contains(&c.target_column)
        });
    }
    narrowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_requests_name_a_model_and_fields() {
        let models = ["res.partner", "account.move.line"];
        let is_model = |m: &str| models.contains(&m);
        assert_eq!(
            parse_request("res.partner", is_model),
            Some(UpdateRequest {
                model: "res.partner".into(),
                fields: vec![]
            })
        );
        assert_eq!(
            parse_request("res.partner.email", is_model),
            Some(UpdateRequest {
                model: "res.partner".into(),
                fields: vec!["email".into()]
            })
        );
        assert_eq!(
            parse_request("account.move.line:debit,credit", is_model),
            Some(UpdateRequest {
                model: "account.move.line".into(),
                fields: vec!["debit".into(), "credit".into()]
            })
        );
        assert_eq!(parse_request("no.such", is_model), None);
    }
}
