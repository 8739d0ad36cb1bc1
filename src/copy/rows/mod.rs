//! The copy of one table: rows stream from the source with binary `COPY … TO STDOUT`, every id in
//! them is rewritten through the mappings, and they stream into the target with `COPY … FROM STDIN`
//! inside the caller's transaction; nothing holds more than one buffer of rows in memory.
//! References that cannot be rewritten are written as NULL and counted, never as dangling ids.
//! It decides nothing about what to migrate: the table plan and the mappings say it; it writes
//! only the plan's target table and the run's records of what it wrote.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use bytes::Bytes;
use futures::{SinkExt, StreamExt, pin_mut};
use tokio_postgres::{Client, Transaction};

use crate::catalog::quote_ident;
use crate::io::codec::{Reader, Tuple, Writer};
use crate::plan::ids::Mappings;
use crate::plan::tables::{Output, Span, TablePlan};
use crate::rules::pairing::TableKind;

mod conflicts;
mod load;
mod rewrite;
mod values;

use load::{apply_updates, explain_copy_error, insert_staged, scratch_table};
use rewrite::{Destination, Rewriter, Row};
use values::XmlidTargets;

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

/// The problems met so far, by (kind, column, model), with a few example source ids each.
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
        // A relation row's example is the missing record, which many rows may share: each id once.
        if entry.1.len() < SAMPLES && !entry.1.contains(&source_id) {
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

#[allow(clippy::too_many_arguments)]
/// Copies the rows of `plan` in `span` (source ids after and up to its bounds, at most its limit
/// of them) into the target inside `transaction`.
pub async fn copy_rows(
    plan: &TablePlan,
    source: &Client,
    transaction: &Transaction<'_>,
    mappings: &Mappings,
    renamed_models: &BTreeMap<String, String>,
    span: Span,
    run_id: i64,
) -> Result<CopyOutcome> {
    let table = &plan.target_table;
    let destination_table = destination_table(transaction, plan).await?;
    // Read before the COPY starts: the connection takes no other statement during it.
    let xmlid_targets = read_xmlid_targets(transaction, plan).await?;
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
        .copy_out(plan.copy_out_sql(span).as_str())
        .await
        .with_context(|| format!("cannot start reading source table {}", plan.source_table))?;
    pin_mut!(stream);

    let rewriter = Rewriter::new(plan, mappings, renamed_models, xmlid_targets);
    let mut reader = Reader::new();
    let mut batch = Batch::default();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| {
            format!("lost the source while reading table {}", plan.source_table)
        })?;
        batch.outcome.bytes_read += chunk.len() as u64;
        reader.feed(&chunk);
        while let Some(tuple) = reader
            .next_tuple()
            .with_context(|| format!("reading source table {}", plan.source_table))?
        {
            batch.take(&rewriter, &tuple);
            if batch.writer.buffer.len() >= SEND_THRESHOLD {
                sink.send(batch.writer.take())
                    .await
                    .map_err(|e| explain_copy_error(e, plan, &batch.inserted_ids))?;
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
    batch.writer.finish();
    sink.send(batch.writer.take())
        .await
        .map_err(|e| explain_copy_error(e, plan, &batch.inserted_ids))?;
    let written = sink
        .finish()
        .await
        .map_err(|e| explain_copy_error(e, plan, &batch.inserted_ids))?;
    batch.finish(plan, transaction, written, run_id).await
}

/// Where the COPY writes: the target table itself, or for a relation (whose pairs may exist
/// already) a scratch table of the same columns, created empty here.
async fn destination_table(transaction: &Transaction<'_>, plan: &TablePlan) -> Result<String> {
    if plan.kind == TableKind::Relation {
        scratch_table(transaction, plan, "odoo_migrate_stage").await?;
        Ok("pg_temp.odoo_migrate_stage".to_string())
    } else {
        Ok(format!("public.{}", quote_ident(&plan.target_table)))
    }
}

/// Per column, the target's external ids for an [`Output::Xmlid`] column.
async fn read_xmlid_targets(
    transaction: &Transaction<'_>,
    plan: &TablePlan,
) -> Result<Vec<Option<XmlidTargets>>> {
    let mut xmlid_targets = Vec::with_capacity(plan.columns.len());
    for column in &plan.columns {
        xmlid_targets.push(match &column.output {
            Output::Xmlid { fallback, .. } => {
                Some(XmlidTargets::read(transaction, plan, &column.target_column, fallback).await?)
            }
            _ => None,
        });
    }
    Ok(xmlid_targets)
}

/// The rows of one copy as they are rewritten: the rows to insert (sent whenever a buffer is
/// full), the rows of matched records to update (sent at the end), and what was counted.
#[derive(Default)]
struct Batch {
    outcome: CopyOutcome,
    problems: ProblemLog,
    writer: Writer,
    updates: Writer,
    update_rows: u64,
    scratch: Vec<u8>,
    /// Source ids in the order their rows were sent, to name the row a COPY error points at.
    inserted_ids: Vec<i32>,
}

impl Batch {
    /// Takes one source row: decides where it goes, and writes it there unless it is skipped or
    /// rejected.
    fn take(&mut self, rewriter: &Rewriter<'_>, tuple: &Tuple<'_>) {
        let plan = rewriter.plan;
        self.outcome.rows_read += 1;
        let source_id = rewriter.source_id(tuple);
        if plan.kind == TableKind::Model {
            self.outcome.last_source_id = Some(
                self.outcome
                    .last_source_id
                    .map_or(source_id, |l| l.max(source_id)),
            );
        }
        let destination =
            rewriter.destination(tuple, source_id, &mut self.outcome, &mut self.problems);
        let out = match destination {
            Destination::Skip => return,
            Destination::Insert => &mut self.writer,
            Destination::Update => &mut self.updates,
        };
        let mark = out.buffer.len();
        out.begin_tuple();
        let mut row = Row {
            tuple,
            source_id,
            out,
            problems: &mut self.problems,
            scratch: &mut self.scratch,
        };
        if rewriter.write(&mut row).is_err() {
            row.out.buffer.truncate(mark);
            self.outcome.rejected += 1;
            self.outcome.rejected_ids.push(source_id);
            return;
        }
        row.out.end_tuple();
        if plan.kind == TableKind::Model {
            self.outcome.mapped_ids.push(source_id);
        }
        match destination {
            Destination::Insert => {
                self.outcome.created += 1;
                self.inserted_ids.push(source_id);
            }
            Destination::Update => self.update_rows += 1,
            Destination::Skip => {}
        }
    }

    /// After the COPY (`written` rows): moves staged pairs into their table, updates the matched
    /// records, and returns what the copy did.
    async fn finish(
        mut self,
        plan: &TablePlan,
        transaction: &Transaction<'_>,
        written: u64,
        run_id: i64,
    ) -> Result<CopyOutcome> {
        if plan.kind == TableKind::Relation {
            let inserted = insert_staged(transaction, plan, run_id).await?;
            self.outcome.matched += written - inserted;
            self.outcome.created = inserted;
        } else {
            self.outcome.created = written;
        }
        if self.update_rows > 0 {
            self.outcome.updated = apply_updates(plan, transaction, self.updates, run_id).await?;
        }
        self.outcome.problems = self.problems.into_problems();
        Ok(self.outcome)
    }
}
