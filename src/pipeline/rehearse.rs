//! The `rehearse` command: the migration of a sample of every model — N records each, with the
//! records they reference so the sample holds together — run through the real plan and copy
//! inside one target transaction that is rolled back at the end. It reports per table what would
//! fail (constraint violations, missing values, references to records that are not migrated,
//! foreign keys that would not hold) with the offending source row. The target's sequences, moved
//! by the id plan, are set back; nothing of the rehearsal remains.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use serde::Serialize;
use tokio_postgres::{Client, Transaction};

use super::Inputs;
use crate::catalog::quote_ident;
use crate::catalog::session::Session;
use crate::copy::rows;
use crate::io::exit::Status;
use crate::io::report;
use crate::io::report::Format;
use crate::plan::ids;
use crate::plan::tables::{self, Output, Span, TablePlan};
use crate::rules::Rules;
use crate::rules::pairing::{self, TableKind};
use crate::side_schema;

/// Rounds of "add the records the sample references" before the sample is taken as closed.
const CLOSURE_ROUNDS: usize = 6;

/// What the rehearsal found for one table.
#[derive(Debug, Serialize)]
pub struct TableRehearsal {
    pub source_table: String,
    pub target_table: String,
    pub model: String,
    pub sampled: usize,
    pub written: u64,
    pub failed: bool,
    pub problems: Vec<String>,
}

/// Rehearses the migration of `sample` records of every model and renders what would fail.
pub async fn rehearse(inputs: &Inputs, sample_size: u32, format: Format) -> Result<Status> {
    let (session, rules) = inputs.open(2).await?;
    let (pairs, plans) = tables::for_session(&session, &rules)?;
    crate::pipeline::check_plans(&session, &plans).await?;
    let source = session.source.get().await?;
    let samples = sample(&source, &plans, sample_size.max(1) as i64).await?;

    let mut target = session.target_endpoint.connect().await?;
    let sequences = sequence_states(&target).await?;
    let outcome = rehearse_in_transaction(
        &session,
        &source,
        &mut target,
        &rules,
        &pairs,
        &plans,
        &samples,
    )
    .await;
    // The id plan moved sequences, which no rollback undoes: they go back where they were.
    for (name, (last, called)) in &sequences {
        target
            .execute(
                "SELECT setval($1::text::regclass, $2, $3)",
                &[&format!("public.{}", quote_ident(name)), last, called],
            )
            .await
            .with_context(|| format!("cannot set sequence {name} back after the rehearsal"))?;
    }
    let results = outcome?;
    let failed = results.iter().filter(|r| r.failed).count();
    report::emit(&render(&results, format, sample_size)?)?;
    Ok(if failed > 0 {
        Status::Blocking
    } else {
        Status::Success
    })
}

async fn rehearse_in_transaction(
    session: &Session,
    source: &Client,
    target: &mut Client,
    rules: &Rules,
    pairs: &[pairing::TablePair],
    plans: &[TablePlan],
    samples: &BTreeMap<String, BTreeSet<i32>>,
) -> Result<Vec<TableRehearsal>> {
    let mut transaction = target.transaction().await?;
    side_schema::ensure_in(&transaction).await?;
    let run_id = side_schema::start_run(
        &transaction,
        "rehearse",
        &session.source_catalog.database,
        &session.target_catalog.database,
        &serde_json::json!({}),
    )
    .await?;
    ids::plan(
        source,
        &transaction,
        &session.source_catalog,
        &session.target_catalog,
        rules,
        pairs,
        plans,
        run_id,
        false,
    )
    .await?;
    let mappings = ids::load(&transaction, rules, pairs).await?;
    let renamed = rules.renamed_models();
    let written = crate::pipeline::tables_written(plans, &session.target_catalog);
    let keys = set_keys_aside(&transaction, &written).await?;

    let mut results = Vec::new();
    for plan in plans {
        let Some(filter) = sample_filter(plan, samples) else {
            continue;
        };
        let sampled = Sampled {
            plan,
            filter,
            records: match plan.kind {
                TableKind::Model => samples.get(&plan.model).map_or(0, BTreeSet::len),
                TableKind::Relation => 0,
            },
        };
        results.push(
            rehearse_table(
                &mut transaction,
                source,
                &mappings,
                &renamed,
                &sampled,
                run_id,
            )
            .await?,
        );
    }
    rehearse_final_sql(&mut transaction, plans, &mut results).await?;
    find_broken_keys(&transaction, &keys, &mut results).await?;
    transaction
        .rollback()
        .await
        .context("cannot roll the rehearsal back")?;
    Ok(results)
}

/// The rules' `final_sql`, once every sample is copied, each statement in a savepoint: one that
/// fails fails the rehearsal of its model's table.
async fn rehearse_final_sql(
    transaction: &mut Transaction<'_>,
    plans: &[TablePlan],
    results: &mut Vec<TableRehearsal>,
) -> Result<()> {
    for crate::pipeline::FinalStatement { model, sql, .. } in
        crate::pipeline::final_statements(plans)
    {
        let savepoint = transaction.savepoint("rehearse_final").await?;
        match savepoint.batch_execute(&sql).await {
            Ok(()) => savepoint.commit().await?,
            Err(error) => {
                savepoint.rollback().await?;
                let problem = format!("final SQL fails: {}", db_message(&error));
                match results.iter_mut().find(|r| r.model == model) {
                    Some(result) => {
                        result.failed = true;
                        result.problems.push(problem);
                    }
                    None => {
                        let plan = plans.iter().find(|p| p.model == model);
                        results.push(TableRehearsal {
                            source_table: plan.map(|p| p.source_table.clone()).unwrap_or_default(),
                            target_table: plan.map(|p| p.target_table.clone()).unwrap_or_default(),
                            model,
                            sampled: 0,
                            written: 0,
                            failed: true,
                            problems: vec![problem],
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

/// One table's sample, as the rehearsal copies it.
struct Sampled<'a> {
    plan: &'a TablePlan,
    /// The SQL condition that keeps the sample's rows.
    filter: String,
    /// How many records of the model the sample holds.
    records: usize,
}

/// Copies one table's sample inside a savepoint, kept when it and the table's post-copy SQL
/// succeed, rolled back otherwise; says what failed.
async fn rehearse_table(
    transaction: &mut Transaction<'_>,
    source: &Client,
    mappings: &ids::Mappings,
    renamed: &BTreeMap<String, String>,
    sampled: &Sampled<'_>,
    run_id: i64,
) -> Result<TableRehearsal> {
    let plan = sampled.plan;
    let mut sampled_plan = plan.clone();
    sampled_plan.filter = Some(match &plan.filter {
        Some(own) => format!("{own} AND {}", sampled.filter),
        None => sampled.filter.clone(),
    });
    let savepoint = transaction.savepoint("rehearse_table").await?;
    let outcome = rows::copy_rows(
        &sampled_plan,
        source,
        &savepoint,
        mappings,
        renamed,
        Span::ALL,
        run_id,
    )
    .await;
    let mut result = TableRehearsal {
        source_table: plan.source_table.clone(),
        target_table: plan.target_table.clone(),
        model: plan.model.clone(),
        sampled: sampled.records,
        written: 0,
        failed: false,
        problems: Vec::new(),
    };
    match outcome {
        Ok(outcome) => {
            result.written = outcome.created + outcome.updated;
            let mut post_error = None;
            for sql in &plan.post_sql {
                if let Err(error) = savepoint.batch_execute(sql).await {
                    post_error = Some(format!("post-copy SQL fails: {}", db_message(&error)));
                    break;
                }
            }
            for problem in &outcome.problems {
                let examples: Vec<String> = problem.samples.iter().map(i32::to_string).collect();
                result.problems.push(format!(
                    "{} row(s): {} in column {} ({}; e.g. source id{} {})",
                    problem.count,
                    problem.kind.replace('_', " "),
                    problem.column,
                    problem.model,
                    if examples.len() == 1 { "" } else { "s" },
                    examples.join(", ")
                ));
            }
            match post_error {
                Some(error) => {
                    result.failed = true;
                    result.problems.push(error);
                    savepoint.rollback().await?;
                }
                None => savepoint.commit().await?,
            }
        }
        Err(error) => {
            result.failed = true;
            result.problems.push(format!("{error:#}"));
            savepoint.rollback().await?;
        }
    }
    Ok(result)
}

/// Foreign keys that would not hold once restored: each fails the rehearsal of its table.
async fn find_broken_keys(
    transaction: &Transaction<'_>,
    keys: &[(String, String, String, String, String)],
    results: &mut [TableRehearsal],
) -> Result<()> {
    // Foreign keys that would not hold once restored.
    for (table, name, column, parent, parent_column) in keys {
        let orphans = transaction
            .query_opt(
                &format!(
                    "SELECT count(*), min(c.{col}::text) FROM public.{child} c WHERE c.{col} IS NOT NULL \
                     AND NOT EXISTS (SELECT 1 FROM public.{parent} p WHERE p.{pcol} = c.{col}) HAVING count(*) > 0",
                    col = quote_ident(column),
                    child = quote_ident(table),
                    parent = quote_ident(parent),
                    pcol = quote_ident(parent_column)
                ),
                &[],
            )
            .await?;
        if let Some(row) = orphans {
            let count: i64 = row.get(0);
            let example: Option<String> = row.get(1);
            if let Some(result) = results.iter_mut().find(|r| &r.target_table == table) {
                result.failed = true;
                result.problems.push(format!(
                    "foreign key {name} would not hold: {count} row(s) point at missing {parent} rows (e.g. {column} = {})",
                    example.unwrap_or_default()
                ));
            }
        }
    }
    Ok(())
}

/// Takes the first `size` records of every model, then the records they reference, until the
/// sample holds together.
async fn sample(
    source: &Client,
    plans: &[TablePlan],
    size: i64,
) -> Result<BTreeMap<String, BTreeSet<i32>>> {
    let mut samples: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for plan in plans.iter().filter(|p| p.kind == TableKind::Model) {
        let ids: BTreeSet<i32> = source
            .query(
                &format!(
                    "SELECT id FROM public.{} ORDER BY id LIMIT $1",
                    quote_ident(&plan.source_table)
                ),
                &[&size],
            )
            .await
            .with_context(|| format!("cannot sample source table {}", plan.source_table))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        samples.insert(plan.model.clone(), ids);
    }
    for _ in 0..CLOSURE_ROUNDS {
        let mut grew = false;
        for plan in plans.iter().filter(|p| p.kind == TableKind::Model) {
            let ids: Vec<i32> = samples
                .get(&plan.model)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default();
            if ids.is_empty() {
                continue;
            }
            for column in &plan.columns {
                let Output::Remap { field, model } = &column.output else {
                    continue;
                };
                if !samples.contains_key(model) {
                    continue;
                }
                let expression = &plan.select[*field];
                let referenced: Vec<i32> = source
                    .query(
                        &format!(
                            "SELECT DISTINCT {expression} FROM {} WHERE s.id = ANY($1) AND {expression} IS NOT NULL",
                            plan.source_from()
                        ),
                        &[&ids],
                    )
                    .await
                    .with_context(|| format!("cannot follow {}.{}", plan.source_table, column.target_column))?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                let set = samples.entry(model.clone()).or_default();
                for id in referenced {
                    grew |= set.insert(id);
                }
            }
        }
        if !grew {
            break;
        }
    }
    Ok(samples)
}

/// The condition that keeps the sampled rows of a table: its own ids, or for a many2many table the
/// pairs whose sides are both sampled (a side whose model is not sampled is not restricted).
fn sample_filter(plan: &TablePlan, samples: &BTreeMap<String, BTreeSet<i32>>) -> Option<String> {
    let list = |ids: &BTreeSet<i32>| ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    match plan.kind {
        TableKind::Model => {
            let ids = samples.get(&plan.model).filter(|s| !s.is_empty())?;
            Some(format!("s.id IN ({})", list(ids)))
        }
        TableKind::Relation => {
            let mut conditions = Vec::new();
            for column in &plan.columns {
                if let Output::Remap { field, model } = &column.output
                    && let Some(ids) = samples.get(model)
                {
                    if ids.is_empty() {
                        return None;
                    }
                    conditions.push(format!("{} IN ({})", plan.select[*field], list(ids)));
                }
            }
            (!conditions.is_empty()).then(|| conditions.join(" AND "))
        }
    }
}

/// Drops, inside the rehearsal's transaction, the single-column foreign keys of the tables it
/// writes, and returns them (table, name, column, parent, parent column) for the final check.
async fn set_keys_aside(
    transaction: &Transaction<'_>,
    tables: &[String],
) -> Result<Vec<(String, String, String, String, String)>> {
    // A superuser can switch foreign key triggers off for the transaction, which takes no lock;
    // other roles drop the keys inside the transaction, one lock per key and trigger, which a
    // large database may need `max_locks_per_transaction` raised for.
    let superuser: bool = transaction
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await?
        .get(0);
    if superuser {
        transaction
            .batch_execute("SET LOCAL session_replication_role = replica")
            .await?;
    }
    let rows = transaction
        .query(
            "SELECT c.relname::text, con.conname::text, a.attname::text, r.relname::text, ra.attname::text \
             FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' \
             JOIN pg_class r ON r.oid = con.confrelid \
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1] \
             JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = con.confkey[1] \
             WHERE con.contype = 'f' AND array_length(con.conkey, 1) = 1 AND c.relname = ANY($1::text[])",
            &[&tables],
        )
        .await?;
    let mut keys = Vec::new();
    for row in &rows {
        let table: String = row.get(0);
        let name: String = row.get(1);
        if !superuser {
            crate::copy::keys::drop_foreign_key(transaction, &table, &name).await?;
        }
        keys.push((table, name, row.get(2), row.get(3), row.get(4)));
    }
    Ok(keys)
}

async fn sequence_states(client: &Client) -> Result<BTreeMap<String, (i64, bool)>> {
    Ok(client
        .query(include_str!("../../sql/run/read_sequences.sql"), &[])
        .await
        .context("cannot read the target's sequences")?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect())
}

fn db_message(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map_or_else(|| error.to_string(), |db| db.message().to_string())
}

fn render(results: &[TableRehearsal], format: Format, sample: u32) -> Result<String> {
    match format {
        Format::Json => Ok(serde_json::to_string_pretty(&serde_json::json!({
            "sample": sample,
            "failed": results.iter().filter(|r| r.failed).count(),
            "tables": results,
        }))? + "\n"),
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record([
                "source_table",
                "target_table",
                "model",
                "sampled",
                "written",
                "failed",
                "problems",
            ])?;
            for r in results {
                writer.write_record([
                    r.source_table.as_str(),
                    &r.target_table,
                    &r.model,
                    &r.sampled.to_string(),
                    &r.written.to_string(),
                    if r.failed { "true" } else { "false" },
                    &r.problems.join(" | "),
                ])?;
            }
            Ok(String::from_utf8(writer.into_inner()?)?)
        }
        Format::Text => {
            use std::fmt::Write;
            let mut out = String::new();
            let failed: Vec<&TableRehearsal> = results.iter().filter(|r| r.failed).collect();
            let _ = writeln!(
                out,
                "Rehearsal on a sample of {sample} record(s) per model, rolled back: {} tables, {} would fail.",
                results.len(),
                failed.len()
            );
            for r in &failed {
                let _ = writeln!(out, "\nFAILS  {} → {}", r.source_table, r.target_table);
                for problem in &r.problems {
                    let _ = writeln!(out, "       {problem}");
                }
            }
            let warned: Vec<&TableRehearsal> = results
                .iter()
                .filter(|r| !r.failed && !r.problems.is_empty())
                .collect();
            if !warned.is_empty() {
                let _ = writeln!(out, "\nWarnings:");
                for r in warned {
                    for problem in &r.problems {
                        let _ = writeln!(out, "  {}: {problem}", r.source_table);
                    }
                }
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tables::ColumnPlan;

    fn column(name: &str, output: Output) -> ColumnPlan {
        ColumnPlan::for_tests(name, false, output)
    }

    fn plan(kind: TableKind, model: &str, columns: Vec<ColumnPlan>) -> TablePlan {
        let mut plan = TablePlan::for_tests(kind, model, columns);
        plan.select = ["s.id", "s.a_id", "s.b_id"].map(str::to_string).to_vec();
        plan
    }

    fn samples(entries: &[(&str, &[i32])]) -> BTreeMap<String, BTreeSet<i32>> {
        entries
            .iter()
            .map(|(model, ids)| (model.to_string(), ids.iter().copied().collect()))
            .collect()
    }

    #[test]
    fn a_model_table_keeps_its_sampled_ids_and_nothing_when_none_were_sampled() {
        let table = plan(TableKind::Model, "res.partner", Vec::new());
        assert_eq!(
            sample_filter(&table, &samples(&[("res.partner", &[9, 3])])).as_deref(),
            Some("s.id IN (3,9)")
        );
        assert_eq!(
            sample_filter(&table, &samples(&[("res.partner", &[])])),
            None
        );
        assert_eq!(sample_filter(&table, &samples(&[("crm.lead", &[1])])), None);
    }

    #[test]
    fn a_relation_keeps_the_pairs_whose_sampled_sides_are_both_in_the_sample() {
        let remap = |field, model: &str| Output::Remap {
            field,
            model: model.to_string(),
        };
        let relation = plan(
            TableKind::Relation,
            "res.partner",
            vec![
                column("a_id", remap(1, "res.partner")),
                column("b_id", remap(2, "res.partner.category")),
            ],
        );
        assert_eq!(
            sample_filter(
                &relation,
                &samples(&[("res.partner", &[2, 1]), ("res.partner.category", &[5])])
            )
            .as_deref(),
            Some("s.a_id IN (1,2) AND s.b_id IN (5)")
        );
        // A side whose model is not sampled does not restrict; a side sampled empty keeps nothing.
        assert_eq!(
            sample_filter(&relation, &samples(&[("res.partner", &[4])])).as_deref(),
            Some("s.a_id IN (4)")
        );
        assert_eq!(
            sample_filter(
                &relation,
                &samples(&[("res.partner", &[4]), ("res.partner.category", &[])])
            ),
            None
        );
        assert_eq!(sample_filter(&relation, &samples(&[])), None);
    }

    fn rehearsal(table: &str, failed: bool, problems: &[&str]) -> TableRehearsal {
        TableRehearsal {
            source_table: table.to_string(),
            target_table: table.to_string(),
            model: table.replace('_', "."),
            sampled: 3,
            written: 3,
            failed,
            problems: problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn the_report_names_the_failing_tables_then_the_warnings() {
        let results = [
            rehearsal("res_partner", false, &[]),
            rehearsal("crm_lead", true, &["column name is NULL (source id 4)"]),
            rehearsal("sale_order", false, &["a note"]),
        ];
        let text = render(&results, Format::Text, 5).unwrap();
        assert!(
            text.starts_with(
                "Rehearsal on a sample of 5 record(s) per model, rolled back: 3 tables, 1 would fail."
            ),
            "{text}"
        );
        assert!(
            text.contains("FAILS  crm_lead → crm_lead\n       column name is NULL (source id 4)"),
            "{text}"
        );
        assert!(text.contains("Warnings:\n  sale_order: a note"), "{text}");
        assert!(!text.contains("res_partner"), "{text}");
        let json: serde_json::Value =
            serde_json::from_str(&render(&results, Format::Json, 5).unwrap()).unwrap();
        assert_eq!(json["failed"], 1);
        assert_eq!(json["sample"], 5);
        assert_eq!(json["tables"].as_array().unwrap().len(), 3);
        let csv = render(&results, Format::Csv, 5).unwrap();
        assert_eq!(csv.lines().count(), 4, "{csv}");
        assert!(
            csv.contains("crm_lead,crm_lead,crm.lead,3,3,true,column name is NULL (source id 4)"),
            "{csv}"
        );
    }
}
