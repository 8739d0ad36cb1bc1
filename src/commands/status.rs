//! The `status` command: the progress and totals of the newest migration run, read from the side
//! schema of the target only (another session can watch a run while it works).

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::{Cli, Format};
use crate::io::exit::{Status, refuse};
use crate::io::report;
use crate::side_schema;
use std::fmt::Write;

#[derive(Debug, Serialize)]
pub struct RunStatus {
    /// The run's number among migration runs: what `rollback --run` takes.
    pub number: i64,
    pub run_id: i64,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub last_checkpoint_at: Option<String>,
    pub source_database: String,
    pub target_database: String,
    pub models_total: i64,
    pub models_done: i64,
    pub models_failed: i64,
    pub rows_total: i64,
    pub rows_done: i64,
    pub rows_created: i64,
    pub rows_matched: i64,
    pub rows_updated: i64,
    /// Errors and warnings, as the run's last line counts them; `info` notes are in
    /// `problem_counts` only.
    pub problems: i64,
    pub problem_counts: side_schema::ProblemCounts,
    pub message: Option<String>,
    /// A catch-up's counts (records created, updated, deleted, conflicts; pairs), as it said them.
    pub sync: Option<side_schema::syncs::Sync>,
    pub models: Vec<ModelStatus>,
}

#[derive(Debug, Serialize)]
pub struct ModelStatus {
    pub source_table: String,
    pub target_table: String,
    pub model: Option<String>,
    pub status: String,
    pub rows_total: i64,
    pub rows_done: i64,
    pub rows_created: i64,
    pub rows_matched: i64,
    pub rows_updated: i64,
    pub rows_rejected: i64,
    pub last_source_id: Option<i64>,
    pub error: Option<String>,
}

pub async fn status_command(cli: &Cli) -> Result<Status> {
    let endpoint = cli.target()?;
    let client = endpoint.connect().await?;
    if side_schema::installed_version(&client).await? == 0 {
        return Err(refuse(
            Status::Usage,
            format!("the target {endpoint} has no odoo_migrate schema: no run was made there yet"),
        ));
    }
    let Some(mut status) = read(&client).await? else {
        report::emit("No migration run was made on this target yet.\n")?;
        return Ok(Status::Success);
    };
    if status.status == "running" && !side_schema::run_lock_held(&client).await? {
        status.status = "interrupted".to_string();
        status.message = Some(
            "no process works on this run any more (it was killed or lost its connection); every committed chunk is kept: resume with `odoo-migrate run`".to_string(),
        );
    }
    let rendered = match cli.format {
        Format::Json => serde_json::to_string_pretty(&status)? + "\n",
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            for model in &status.models {
                writer.serialize(model)?;
            }
            String::from_utf8(writer.into_inner()?)?
        }
        Format::Text => render_text(&status),
    };
    report::emit(&rendered)?;
    Ok(Status::Success)
}

pub async fn read(client: &tokio_postgres::Client) -> Result<Option<RunStatus>> {
    let Some(run) = client
        .query_opt(
            "SELECT id, status, started_at::text, finished_at::text, \
             greatest(last_checkpoint_at, (SELECT max(m.checkpoint_at) FROM odoo_migrate.model_state m WHERE m.run_id = r.id))::text, source_database, \
             target_database, rows_created, rows_matched, rows_updated, message, number \
             FROM odoo_migrate.runs r WHERE command = 'run' ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .context("cannot read odoo_migrate.runs")?
    else {
        return Ok(None);
    };
    let run_id: i64 = run.get(0);
    let problem_counts = side_schema::ProblemCounts::of_run(client, run_id).await?;
    let models: Vec<ModelStatus> = client
        .query(
            "SELECT source_table, target_table, model, status, rows_total, rows_done, rows_created, rows_matched, \
             rows_updated, rows_rejected, last_source_id, error \
             FROM odoo_migrate.model_state WHERE run_id = $1 ORDER BY source_table",
            &[&run_id],
        )
        .await?
        .iter()
        .map(|row| ModelStatus {
            source_table: row.get(0),
            target_table: row.get(1),
            model: row.get(2),
            status: row.get(3),
            rows_total: row.get(4),
            rows_done: row.get(5),
            rows_created: row.get(6),
            rows_matched: row.get(7),
            rows_updated: row.get(8),
            rows_rejected: row.get(9),
            last_source_id: row.get(10),
            error: row.get(11),
        })
        .collect();
    let count = |status: &str| models.iter().filter(|m| m.status == status).count() as i64;
    Ok(Some(RunStatus {
        number: run.get::<_, Option<i32>>(11).map_or(run_id, i64::from),
        run_id,
        status: run.get(1),
        started_at: run.get(2),
        finished_at: run.get(3),
        last_checkpoint_at: run.get(4),
        source_database: run.get(5),
        target_database: run.get(6),
        models_total: models.len() as i64,
        models_done: count("done"),
        models_failed: count("failed"),
        rows_total: models.iter().map(|m| m.rows_total).sum(),
        rows_done: models.iter().map(|m| m.rows_done).sum(),
        rows_created: models
            .iter()
            .map(|m| m.rows_created)
            .sum::<i64>()
            .max(run.get(7)),
        rows_matched: models
            .iter()
            .map(|m| m.rows_matched)
            .sum::<i64>()
            .max(run.get(8)),
        rows_updated: models
            .iter()
            .map(|m| m.rows_updated)
            .sum::<i64>()
            .max(run.get(9)),
        problems: problem_counts.problems(),
        problem_counts,
        message: run.get(10),
        sync: side_schema::syncs::Sync::read(client, run_id).await?,
        models,
    }))
}

fn render_text(status: &RunStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Run {} ({}): {} → {}, started {}{}",
        status.number,
        status.status,
        status.source_database,
        status.target_database,
        status.started_at,
        status
            .finished_at
            .as_deref()
            .map_or(String::new(), |f| format!(", ended {f}"))
    );
    let _ = writeln!(
        out,
        "Tables: {}/{} copied, {} failed. Rows: {}, {} created, {} matched, {} updated. {}.",
        status.models_done,
        status.models_total,
        status.models_failed,
        rows_read(status),
        status.rows_created,
        status.rows_matched,
        status.rows_updated,
        status.problem_counts
    );
    if let Some(sync) = status.sync.as_ref().filter(|s| s.finished) {
        let _ = writeln!(out, "{}", sync.line());
    }
    for model in status.models.iter().filter(|m| m.status != "done") {
        let _ = writeln!(
            out,
            "  {:<8} {} → {} ({}/{} rows){}",
            model.status,
            model.source_table,
            model.target_table,
            model.rows_done,
            model.rows_total,
            model
                .error
                .as_deref()
                .map_or(String::new(), |e| format!(": {e}"))
        );
    }
    if let Some(message) = &status.message {
        let _ = writeln!(out, "{message}");
    }
    out
}

/// The rows read against those counted when the run was planned: "read/total" while the run
/// works; once it finished, the rows read, and the planned count beside it when they differ
/// (a table's rows are counted whole when planned, and a rule's condition may read fewer).
fn rows_read(status: &RunStatus) -> String {
    if status.status != "finished" {
        format!("{}/{} read", status.rows_done, status.rows_total)
    } else if status.rows_done == status.rows_total {
        format!("{} read", status.rows_done)
    } else {
        format!(
            "{} read ({} counted when the run was planned)",
            status.rows_done, status.rows_total
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: &str, rows_done: i64, rows_total: i64) -> RunStatus {
        RunStatus {
            number: 2,
            run_id: 7,
            status: state.to_string(),
            started_at: "2026-01-01 10:00".to_string(),
            finished_at: None,
            last_checkpoint_at: None,
            source_database: "src".to_string(),
            target_database: "tgt".to_string(),
            models_total: 3,
            models_done: 1,
            models_failed: 1,
            rows_total,
            rows_done,
            rows_created: 5,
            rows_matched: 4,
            rows_updated: 0,
            problems: 1,
            problem_counts: side_schema::ProblemCounts {
                errors: 1,
                warnings: 0,
                info: 2,
            },
            message: Some("resume with odoo-migrate run".to_string()),
            sync: None,
            models: vec![
                model("res_partner", "done", None),
                model("crm_lead", "failed", Some("column name")),
            ],
        }
    }

    fn model(table: &str, state: &str, error: Option<&str>) -> ModelStatus {
        ModelStatus {
            source_table: table.to_string(),
            target_table: table.to_string(),
            model: None,
            status: state.to_string(),
            rows_total: 10,
            rows_done: 4,
            rows_created: 4,
            rows_matched: 0,
            rows_updated: 0,
            rows_rejected: 0,
            last_source_id: None,
            error: error.map(str::to_string),
        }
    }

    #[test]
    fn rows_read_says_progress_while_working_and_the_planned_count_only_when_it_differs() {
        assert_eq!(rows_read(&status("copying", 3, 10)), "3/10 read");
        assert_eq!(rows_read(&status("finished", 10, 10)), "10 read");
        assert_eq!(
            rows_read(&status("finished", 8, 10)),
            "8 read (10 counted when the run was planned)"
        );
    }

    #[test]
    fn the_text_lists_the_totals_and_only_the_tables_not_done() {
        let text = render_text(&status("failed", 3, 10));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Run 2 (failed): src → tgt, started 2026-01-01 10:00"
        );
        assert_eq!(
            lines[1],
            "Tables: 1/3 copied, 1 failed. Rows: 3/10 read, 5 created, 4 matched, 0 updated. \
             1 problem (1 error, 0 warnings) and 2 info."
        );
        assert_eq!(
            lines[2],
            "  failed   crm_lead → crm_lead (4/10 rows): column name"
        );
        assert_eq!(lines[3], "resume with odoo-migrate run");
        assert_eq!(lines.len(), 4, "the done table is not listed: {text}");
    }
}
