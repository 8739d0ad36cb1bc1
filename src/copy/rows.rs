//! The copy of one table: rows stream from the source with binary `COPY … TO STDOUT`, every id in
//! them is rewritten through the mappings, and they stream into the target with `COPY … FROM STDIN`
//! inside the caller's transaction; nothing holds more than one buffer of rows in memory.
//! References that cannot be rewritten are written as NULL and counted, never as dangling ids.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use bytes::{BufMut, Bytes};
use futures::{SinkExt, StreamExt, pin_mut};
use tokio_postgres::{Client, Transaction};

use crate::catalog::quote_ident;
use crate::io::codec::{Reader, Tuple, Writer};
use crate::plan::ids::{How, Mappings};
use crate::plan::tables::{Output, TablePlan};
use crate::rules::pairing::TableKind;

/// Bytes buffered before they are sent to the target.
const SEND_THRESHOLD: usize = 1 << 20;
/// Source ids kept as examples per problem.
const SAMPLES: usize = 5;

/// What the copy of a table (or of a chunk of it) did.
#[derive(Debug, Default)]
pub struct CopyOutcome {
    pub rows_read: u64,
    pub created: u64,
    pub matched: u64,
    pub updated: u64,
    pub rejected: u64,
    pub bytes_read: u64,
    /// The largest source id read, for checkpoints.
    pub last_source_id: Option<i32>,
    /// Source ids of rows that were rejected (their mapping is not recorded).
    pub rejected_ids: Vec<i32>,
    /// Source ids of the model rows this copy accounted for (inserted, updated, or matched and
    /// kept): exactly the mappings to record with it.
    pub mapped_ids: Vec<i32>,
    pub problems: Vec<Problem>,
}

/// A class of rows that could not be written as they were, with examples.
#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: &'static str,
    pub column: String,
    pub model: String,
    pub count: u64,
    pub samples: Vec<i32>,
}

#[derive(Default)]
struct ProblemLog {
    entries: HashMap<(&'static str, String, String), (u64, Vec<i32>)>,
}

impl ProblemLog {
    fn add(&mut self, kind: &'static str, column: &str, model: &str, source_id: i32) {
        let entry = self
            .entries
            .entry((kind, column.to_string(), model.to_string()))
            .or_default();
        entry.0 += 1;
        if entry.1.len() < SAMPLES {
            entry.1.push(source_id);
        }
    }

    fn into_problems(self) -> Vec<Problem> {
        let mut problems: Vec<Problem> = self
            .entries
            .into_iter()
            .map(|((kind, column, model), (count, samples))| Problem {
                kind,
                column,
                model,
                count,
                samples,
            })
            .collect();
        problems.sort_by(|a, b| (a.kind, &a.column, &a.model).cmp(&(b.kind, &b.column, &b.model)));
        problems
    }
}

/// Where a row goes.
enum Destination {
    Insert,
    Update,
    Skip,
}

#[allow(clippy::too_many_arguments)]
/// Copies the rows of `plan` with source id greater than `after_id` (at most `limit` of them) into
/// the target inside `transaction`.
pub async fn copy_rows(
    plan: &TablePlan,
    source: &Client,
    transaction: &Transaction<'_>,
    mappings: &Mappings,
    renamed_models: &BTreeMap<String, String>,
    after_id: Option<i64>,
    limit: Option<i64>,
    run_id: i64,
) -> Result<CopyOutcome> {
    let table = &plan.target_table;
    let staging = plan.kind == TableKind::Relation;
    let destination_table = if staging {
        scratch_table(transaction, plan, "odoo_migrate_stage").await?;
        "pg_temp.odoo_migrate_stage".to_string()
    } else {
        format!("public.{}", quote_ident(table))
    };
    // Read before the COPY starts: the connection takes no other statement during it.
    let mut xmlid_targets: Vec<Option<XmlidTargets>> = Vec::with_capacity(plan.columns.len());
    for column in &plan.columns {
        xmlid_targets.push(match &column.output {
            Output::Xmlid { fallback, .. } => {
                Some(XmlidTargets::read(transaction, plan, &column.target_column, fallback).await?)
            }
            _ => None,
        });
    }
    let copy_in = format!(
        "COPY {destination_table} ({}) FROM STDIN (FORMAT binary)",
        plan.column_list()
    );
    let sink = transaction
        .copy_in::<_, Bytes>(copy_in.as_str())
        .await
        .with_context(|| format!("cannot start writing into target table {table}"))?;
    pin_mut!(sink);
    let stream = source
        .copy_out(plan.copy_out_sql(after_id, limit).as_str())
        .await
        .with_context(|| format!("cannot start reading source table {}", plan.source_table))?;
    pin_mut!(stream);

    let own_map = if plan.kind == TableKind::Model {
        mappings.get(&plan.model)
    } else {
        None
    };
    // Per column, the map of the ids it holds: a many2one's model, or the model whose ids key a
    // jsonb object; and for such an object, the map of its values when they are ids too.
    let column_maps: Vec<Option<&crate::plan::ids::IdMap>> = plan
        .columns
        .iter()
        .map(|c| match &c.output {
            Output::Remap { model, .. } => mappings.get(model),
            Output::KeyedJson { key_model, .. } => mappings.get(key_model),
            _ => None,
        })
        .collect();
    let value_maps: Vec<Option<&crate::plan::ids::IdMap>> = plan
        .columns
        .iter()
        .map(|c| match &c.output {
            Output::KeyedJson {
                value_model: Some(model),
                ..
            } => mappings.get(model),
            _ => None,
        })
        .collect();
    let owner_field = plan.owner_model_field();

    let mut outcome = CopyOutcome::default();
    let mut problems = ProblemLog::default();
    let mut reader = Reader::new();
    let mut writer = Writer::new();
    let mut updates = Writer::new();
    let mut update_rows = 0u64;
    let mut scratch = Vec::new();
    // Source ids in the order their rows were sent, to name the row a COPY error points at.
    let mut inserted_ids: Vec<i32> = Vec::new();

    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| {
            format!("lost the source while reading table {}", plan.source_table)
        })?;
        outcome.bytes_read += chunk.len() as u64;
        reader.feed(&chunk);
        loop {
            let Some(tuple) = reader
                .next_tuple()
                .with_context(|| format!("reading source table {}", plan.source_table))?
            else {
                break;
            };
            outcome.rows_read += 1;
            let source_id = plan
                .columns
                .iter()
                .find_map(|c| match c.output {
                    Output::OwnId { field } => tuple.int4(field),
                    _ => None,
                })
                .unwrap_or(0);
            if plan.kind == TableKind::Model {
                outcome.last_source_id = Some(
                    outcome
                        .last_source_id
                        .map_or(source_id, |l| l.max(source_id)),
                );
            }
            let destination = match (plan.kind, own_map) {
                (TableKind::Relation, _) => Destination::Insert,
                (TableKind::Model, Some(map)) if plan.update_only => {
                    match (map.get(source_id), map.how(source_id)) {
                        (Some(_), Some(How::Created)) => Destination::Update,
                        (Some(_), Some(_))
                            if plan.updates_match(owner_field.and_then(|f| tuple.field(f))) =>
                        {
                            Destination::Update
                        }
                        _ => Destination::Skip,
                    }
                }
                (TableKind::Model, Some(map)) => match (map.get(source_id), map.how(source_id)) {
                    (Some(_), Some(How::Created)) => Destination::Insert,
                    (Some(_), Some(_)) => {
                        outcome.matched += 1;
                        if plan.updates_match(owner_field.and_then(|f| tuple.field(f))) {
                            Destination::Update
                        } else {
                            outcome.mapped_ids.push(source_id);
                            Destination::Skip
                        }
                    }
                    _ if mappings.is_removed(&plan.model, source_id) => {
                        outcome.rejected += 1;
                        outcome.rejected_ids.push(source_id);
                        Destination::Skip
                    }
                    _ => {
                        problems.add("row_not_planned", "id", &plan.model, source_id);
                        outcome.rejected += 1;
                        outcome.rejected_ids.push(source_id);
                        Destination::Skip
                    }
                },
                (TableKind::Model, None) => Destination::Skip,
            };
            let out = match destination {
                Destination::Skip => continue,
                Destination::Insert => &mut writer,
                Destination::Update => &mut updates,
            };
            let mark = out.buffer.len();
            out.begin_tuple();
            let mut rejected = false;
            for (index, column) in plan.columns.iter().enumerate() {
                match &column.output {
                    Output::Copy { field } => out.field(tuple.field(*field)),
                    Output::OwnId { field } => {
                        match own_map.and_then(|m| m.get(tuple.int4(*field).unwrap_or(0))) {
                            Some(target) => out.int4(target),
                            None => out.null(),
                        }
                    }
                    Output::Remap { field, model } => match tuple.int4(*field) {
                        None => out.null(),
                        Some(value) => match column_maps[index].and_then(|m| m.get(value)) {
                            Some(target) => out.int4(target),
                            None => {
                                // A relation row has no id of its own: its example is the
                                // missing record.
                                let example = if plan.kind == TableKind::Relation {
                                    value
                                } else {
                                    source_id
                                };
                                problems.add(
                                    "unmapped_reference",
                                    &column.target_column,
                                    model,
                                    example,
                                );
                                if column.not_null {
                                    rejected = true;
                                    break;
                                }
                                out.null();
                            }
                        },
                    },
                    Output::Polymorphic { field, model_field } => {
                        match polymorphic(&tuple, *field, *model_field, mappings) {
                            Ok(Some(target)) => out.int4(target),
                            Ok(None) => out.null(),
                            Err(model) if mappings.get(&model).is_none() => {
                                // The record's model is not migrated at all: the row has nothing
                                // to belong to in the target.
                                problems.add(
                                    "record_of_unmigrated_model",
                                    &column.target_column,
                                    &model,
                                    source_id,
                                );
                                rejected = true;
                                break;
                            }
                            Err(model) => {
                                problems.add(
                                    "unmapped_reference",
                                    &column.target_column,
                                    &model,
                                    source_id,
                                );
                                if column.not_null {
                                    rejected = true;
                                    break;
                                }
                                out.null();
                            }
                        }
                    }
                    Output::Reference { field } => match tuple.field(*field) {
                        None => out.null(),
                        Some(text) => match reference(text, mappings, renamed_models, &mut scratch)
                        {
                            Ok(()) => out.bytes(&scratch),
                            Err(model) => {
                                problems.add(
                                    "unmapped_reference",
                                    &column.target_column,
                                    &model,
                                    source_id,
                                );
                                out.null();
                            }
                        },
                    },
                    Output::Xmlid { field, .. } => match &xmlid_targets[index] {
                        Some(targets) => out.int4(targets.id_of(tuple.field(*field))),
                        None => out.null(),
                    },
                    Output::KeyedJson {
                        field,
                        key_model,
                        value_model,
                    } => match tuple.field(*field) {
                        None => out.null(),
                        Some(bytes) => {
                            match keyed_json(
                                bytes,
                                column_maps[index],
                                value_maps[index],
                                &mut scratch,
                            ) {
                                Ok(dropped) => {
                                    if dropped > 0 {
                                        problems.add(
                                            "unmapped_reference",
                                            &column.target_column,
                                            value_model.as_deref().unwrap_or(key_model),
                                            source_id,
                                        );
                                    }
                                    out.bytes(&scratch)
                                }
                                Err(reason) => {
                                    problems.add(reason, &column.target_column, "jsonb", source_id);
                                    out.null();
                                }
                            }
                        }
                    },
                }
            }
            if rejected {
                out.buffer.truncate(mark);
                outcome.rejected += 1;
                outcome.rejected_ids.push(source_id);
                continue;
            }
            out.end_tuple();
            if plan.kind == TableKind::Model {
                outcome.mapped_ids.push(source_id);
            }
            match destination {
                Destination::Insert => {
                    outcome.created += 1;
                    inserted_ids.push(source_id);
                }
                Destination::Update => update_rows += 1,
                Destination::Skip => {}
            }
            if writer.buffer.len() >= SEND_THRESHOLD {
                sink.send(writer.take())
                    .await
                    .map_err(|e| explain_copy_error(e, plan, &inserted_ids))?;
            }
        }
        drop(chunk);
    }
    if !reader.finished() {
        anyhow::bail!(
            "the source stopped sending table {} before its end ({} bytes pending)",
            plan.source_table,
            reader.pending()
        );
    }
    writer.finish();
    sink.send(writer.take())
        .await
        .map_err(|e| explain_copy_error(e, plan, &inserted_ids))?;
    let written = sink
        .finish()
        .await
        .map_err(|e| explain_copy_error(e, plan, &inserted_ids))?;

    if staging {
        // Pairs already present (links between matched records) are left alone; the new ones are
        // recorded so that a rollback removes exactly them.
        let columns: Vec<&str> = plan
            .columns
            .iter()
            .map(|c| c.target_column.as_str())
            .collect();
        let inserted = transaction
            .execute(
                &format!(
                    "WITH inserted AS (INSERT INTO public.{} ({cols}) SELECT {cols} FROM pg_temp.odoo_migrate_stage \
                     ON CONFLICT DO NOTHING RETURNING {cols}) \
                     INSERT INTO odoo_migrate.relation_rows (run_id, table_name, columns, row_values) \
                     SELECT $1, $2, $3::text[], ARRAY[{cols}]::int[] FROM inserted",
                    quote_ident(table),
                    cols = plan.column_list()
                ),
                &[&run_id, table, &columns],
            )
            .await
            .with_context(|| format!("inserting the rows of {} into {table}", plan.source_table))?;
        outcome.matched += written - inserted;
        outcome.created = inserted;
        transaction
            .batch_execute("DROP TABLE pg_temp.odoo_migrate_stage")
            .await?;
    } else {
        outcome.created = written;
    }
    if update_rows > 0 {
        outcome.updated = apply_updates(plan, transaction, updates, run_id).await?;
    }
    outcome.problems = problems.into_problems();
    Ok(outcome)
}

/// Names the table, column and source record a failed COPY points at, without quoting the row's
/// values (they may hold secrets such as password hashes).
fn explain_copy_error(
    error: tokio_postgres::Error,
    plan: &TablePlan,
    inserted_ids: &[i32],
) -> anyhow::Error {
    let Some(db) = error.as_db_error() else {
        return anyhow::Error::new(error).context(format!(
            "lost the target while writing {} into {}",
            plan.source_table, plan.target_table
        ));
    };
    // PostgreSQL reports "COPY <table>, line <n>" where n counts tuples from 1.
    let line = db
        .where_()
        .and_then(|w| w.split("line ").nth(1))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse::<usize>().ok());
    let record = match (
        plan.kind,
        line.and_then(|n| inserted_ids.get(n.wrapping_sub(1))),
    ) {
        (TableKind::Model, Some(id)) => format!(" (source record {} id {id})", plan.model),
        _ => line.map_or(String::new(), |n| format!(" (row {n} of the copy)")),
    };
    let column = db
        .column()
        .map_or(String::new(), |c| format!(", column {c}"));
    let code = db.code().code();
    // Data the target refuses needs a rule; a server in trouble (disk, memory, locks) does not.
    let advice = if db.column().is_none() && db.constraint().is_some() && code.starts_with("23") {
        "add or fix a rule for the columns this constraint checks and run again"
    } else if code.starts_with("22") || code.starts_with("23") {
        "add or fix a rule for this column and run again"
    } else {
        crate::io::connect::hint_for_code(code)
            .unwrap_or("fix the cause and run again (committed chunks are kept)")
    };
    anyhow::anyhow!(
        "copying {} into {}{column}{record}: {} [SQLSTATE {code}]; {advice}",
        plan.source_table,
        plan.target_table,
        db.message(),
    )
}

/// A temporary table with the plan's columns, typed as in the target table, empty.
async fn scratch_table(transaction: &Transaction<'_>, plan: &TablePlan, name: &str) -> Result<()> {
    transaction
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS pg_temp.{name}; \
             CREATE TEMP TABLE {name} AS SELECT {} FROM public.{} WITH NO DATA",
            plan.column_list(),
            quote_ident(&plan.target_table)
        ))
        .await
        .with_context(|| {
            format!(
                "cannot create the scratch table {name} for {}",
                plan.target_table
            )
        })
}

/// Writes the rows of matched records into a scratch table and updates the target records from it.
async fn apply_updates(
    plan: &TablePlan,
    transaction: &Transaction<'_>,
    mut updates: Writer,
    run_id: i64,
) -> Result<u64> {
    let table = &plan.target_table;
    scratch_table(transaction, plan, "odoo_migrate_update").await?;
    let sink = transaction
        .copy_in::<_, Bytes>(
            format!(
                "COPY pg_temp.odoo_migrate_update ({}) FROM STDIN (FORMAT binary)",
                plan.column_list()
            )
            .as_str(),
        )
        .await?;
    pin_mut!(sink);
    updates.finish();
    sink.send(updates.take()).await?;
    sink.finish().await?;
    let assignments: Vec<String> = plan
        .columns
        .iter()
        .filter(|c| !matches!(c.output, Output::OwnId { .. }))
        .filter(|c| !matches!(c.target_column.as_str(), "create_uid" | "create_date"))
        .map(|c| format!("{col} = u.{col}", col = quote_ident(&c.target_column)))
        .collect();
    if assignments.is_empty() {
        return Ok(0);
    }
    // Only records whose values differ are written (and counted), and only those get a
    // before-image for `rollback`.
    let compared: Vec<String> = plan
        .columns
        .iter()
        .filter(|c| !matches!(c.output, Output::OwnId { .. }))
        .filter(|c| !matches!(c.target_column.as_str(), "create_uid" | "create_date"))
        .map(|c| quote_ident(&c.target_column))
        .collect();
    let differs = format!(
        "(t.{}) IS DISTINCT FROM (u.{})",
        compared.join(", t."),
        compared.join(", u.")
    );
    transaction
        .execute(
            &format!(
                "INSERT INTO odoo_migrate.before_images (run_id, table_name, target_id, image) \
                 SELECT $1, $2, t.id, to_jsonb(t) FROM public.{} t JOIN pg_temp.odoo_migrate_update u ON u.id = t.id \
                 WHERE {differs} ON CONFLICT DO NOTHING",
                quote_ident(table)
            ),
            &[&run_id, table],
        )
        .await
        .with_context(|| format!("cannot keep the before-image of matched records of {table}"))?;
    let updated = transaction
        .execute(
            &format!(
                "UPDATE public.{} t SET {} FROM pg_temp.odoo_migrate_update u WHERE t.id = u.id AND {differs}",
                quote_ident(table),
                assignments.join(", ")
            ),
            &[],
        )
        .await
        .with_context(|| format!("updating matched records of {table}"))?;
    transaction
        .batch_execute("DROP TABLE pg_temp.odoo_migrate_update")
        .await?;
    Ok(updated)
}

/// The records of a target model by external id, for an [`Output::Xmlid`] column.
struct XmlidTargets {
    ids: HashMap<Vec<u8>, i32>,
    fallback: i32,
}

impl XmlidTargets {
    /// The external ids of the fallback's model in the target.
    async fn read(
        transaction: &Transaction<'_>,
        plan: &TablePlan,
        column: &str,
        fallback: &str,
    ) -> Result<XmlidTargets> {
        let (module, name) = fallback.split_once('.').unwrap_or(("", fallback));
        let row = transaction
            .query_opt(
                "SELECT model, res_id FROM ir_model_data WHERE module = $1 AND name = $2 AND res_id IS NOT NULL",
                &[&module, &name],
            )
            .await
            .with_context(|| format!("cannot read external id {fallback} in the target"))?
            .with_context(|| {
                format!(
                    "the rule for {}.{column} falls back on external id {fallback}, which the target does not have; \
                     correct the rule or install the module that defines it",
                    plan.target_table
                )
            })?;
        let model: String = row.get(0);
        let ids = transaction
            .query(
                "SELECT module || '.' || name, res_id FROM ir_model_data WHERE model = $1 AND res_id IS NOT NULL",
                &[&model],
            )
            .await
            .with_context(|| format!("cannot read the external ids of {model} in the target"))?
            .iter()
            .map(|r| (r.get::<_, String>(0).into_bytes(), r.get(1)))
            .collect();
        Ok(XmlidTargets {
            ids,
            fallback: row.get(1),
        })
    }

    fn id_of(&self, xmlid: Option<&[u8]>) -> i32 {
        xmlid
            .and_then(|x| self.ids.get(x))
            .copied()
            .unwrap_or(self.fallback)
    }
}

/// Rewrites a `res_model`/`res_id` pair. `Ok(None)` for NULL or 0 (Odoo's "no record"),
/// `Err(model)` when the record is not mapped.
fn polymorphic(
    tuple: &Tuple<'_>,
    field: usize,
    model_field: usize,
    mappings: &Mappings,
) -> std::result::Result<Option<i32>, String> {
    let Some(id) = tuple.int4(field) else {
        return Ok(None);
    };
    if id == 0 {
        return Ok(Some(0));
    }
    let Some(model) = tuple.field(model_field) else {
        return Ok(Some(id));
    };
    match mappings.get_bytes(model).and_then(|m| m.get(id)) {
        Some(target) => Ok(Some(target)),
        None => Err(String::from_utf8_lossy(model).into_owned()),
    }
}

/// Rewrites a `model,id` string into `out`; `Err(model)` when the record is not mapped.
fn reference(
    text: &[u8],
    mappings: &Mappings,
    renamed_models: &BTreeMap<String, String>,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    out.clear();
    let text = String::from_utf8_lossy(text);
    let Some((model, id)) = text.rsplit_once(',') else {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    };
    let Ok(id) = id.trim().parse::<i32>() else {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    };
    match mappings.get(model).and_then(|m| m.get(id)) {
        Some(target) => {
            let model = renamed_models.get(model).map_or(model, String::as_str);
            out.extend_from_slice(model.as_bytes());
            out.put_u8(b',');
            out.extend_from_slice(target.to_string().as_bytes());
            Ok(())
        }
        None => Err(model.to_string()),
    }
}

/// Rewrites a binary jsonb object keyed by ids (a company's, or several comma-separated ids of
/// one model, as analytic distributions have) into `out` (binary jsonb as well). Returns how many
/// entries were dropped because a key's record or the value was not mapped.
fn keyed_json(
    bytes: &[u8],
    keys: Option<&crate::plan::ids::IdMap>,
    values: Option<&crate::plan::ids::IdMap>,
    out: &mut Vec<u8>,
) -> std::result::Result<usize, &'static str> {
    let (&version, text) = bytes.split_first().ok_or("invalid_jsonb")?;
    if version != 1 {
        return Err("invalid_jsonb");
    }
    let value: serde_json::Value = serde_json::from_slice(text).map_err(|_| "invalid_jsonb")?;
    let serde_json::Value::Object(object) = value else {
        out.clear();
        out.extend_from_slice(bytes);
        return Ok(0);
    };
    let mut result = serde_json::Map::new();
    let mut dropped = 0;
    for (key, value) in object {
        let Some(remapped) = keys.and_then(|map| map.remap_key(&key)) else {
            dropped += 1;
            continue;
        };
        let value = match (values, &value) {
            (Some(map), serde_json::Value::Number(number)) => {
                match number.as_i64().and_then(|n| map.get(n as i32)) {
                    Some(target) => serde_json::Value::from(target),
                    None => {
                        dropped += 1;
                        continue;
                    }
                }
            }
            _ => value,
        };
        result.insert(remapped, value);
    }
    out.clear();
    out.push(1);
    serde_json::to_writer(&mut *out, &serde_json::Value::Object(result))
        .map_err(|_| "invalid_jsonb")?;
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_json_keys_and_values_are_remapped() {
        let mut companies = crate::plan::ids::IdMap::default();
        companies.insert(1, 1, How::Xmlid);
        companies.insert(3, 2, How::Created);
        let mut accounts = crate::plan::ids::IdMap::default();
        accounts.insert(10, 510, How::Created);
        let mut input = vec![1u8];
        input.extend_from_slice(br#"{"1": 10, "3": 11, "9": 10}"#);
        let mut out = Vec::new();
        let dropped = keyed_json(&input, Some(&companies), Some(&accounts), &mut out).unwrap();
        assert_eq!(dropped, 2);
        assert_eq!(out[0], 1);
        let value: serde_json::Value = serde_json::from_slice(&out[1..]).unwrap();
        assert_eq!(value, serde_json::json!({"1": 510}));
    }

    #[test]
    fn keys_of_several_ids_are_remapped_each() {
        let mut analytic = crate::plan::ids::IdMap::default();
        analytic.insert(4, 40, How::Created);
        analytic.insert(5, 50, How::Created);
        let mut input = vec![1u8];
        input.extend_from_slice(br#"{"4": 60.0, "4,5": 40.0, "4,6": 1.0, "x": 2}"#);
        let mut out = Vec::new();
        let dropped = keyed_json(&input, Some(&analytic), None, &mut out).unwrap();
        assert_eq!(dropped, 2);
        let value: serde_json::Value = serde_json::from_slice(&out[1..]).unwrap();
        assert_eq!(value, serde_json::json!({"40": 60.0, "40,50": 40.0}));
    }
}
