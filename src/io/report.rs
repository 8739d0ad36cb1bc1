//! Rendering of results for people and machines: the terminal report (sorted, grouped, with
//! totals), JSON and CSV. Nothing here computes a result; it only formats one.

use std::fmt::Write;

use anyhow::{Context, Result};

/// The machine or human form of a command's output (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Csv,
}

/// Writes a report to standard output; a reader that went away (`| head`) is not an error.
pub fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to standard output"),
    }
}

/// One line of the report of a run (the view `odoo_migrate.run_report`).
#[derive(Debug, serde::Serialize)]
pub struct RunLine {
    pub model: Option<String>,
    pub source_table: String,
    pub target_table: String,
    pub status: String,
    pub source_rows: i64,
    pub created: i64,
    pub matched: i64,
    pub updated: i64,
    pub not_copied: i64,
    pub seconds: Option<String>,
    pub problems: i64,
}

/// Reads the report of the newest run from the side schema.
pub async fn run_lines(client: &tokio_postgres::Client) -> Result<Vec<RunLine>> {
    Ok(client
        .query(
            "SELECT model, source_table, target_table, status, source_rows, created, matched, updated, \
             not_copied, seconds::text, problems FROM odoo_migrate.run_report",
            &[],
        )
        .await
        .context("cannot read odoo_migrate.run_report")?
        .iter()
        .map(|r| RunLine {
            model: r.get(0),
            source_table: r.get(1),
            target_table: r.get(2),
            status: r.get(3),
            source_rows: r.get(4),
            created: r.get(5),
            matched: r.get(6),
            updated: r.get(7),
            not_copied: r.get(8),
            seconds: r.get(9),
            problems: r.get(10),
        })
        .collect())
}

/// Writes `run-<number>.csv` and `run-<number>.md` into `directory` (the number `status` shows).
pub fn write_run_report(directory: &std::path::Path, number: i64, lines: &[RunLine]) -> Result<()> {
    std::fs::create_dir_all(directory)
        .with_context(|| format!("cannot create the report directory {}", directory.display()))?;
    let csv_path = directory.join(format!("run-{number}.csv"));
    let mut writer = csv::Writer::from_path(&csv_path)
        .with_context(|| format!("cannot write {}", csv_path.display()))?;
    for line in lines {
        writer.serialize(line)?;
    }
    writer.flush()?;
    let mut markdown = format!(
        "# Migration run {number}\n\n| model | table | status | source rows | created | matched | updated | not copied | seconds | problems |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for l in lines {
        let _ = writeln!(
            markdown,
            "| {} | {} → {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            l.model.as_deref().unwrap_or(""),
            l.source_table,
            l.target_table,
            l.status,
            l.source_rows,
            l.created,
            l.matched,
            l.updated,
            l.not_copied,
            l.seconds.as_deref().unwrap_or(""),
            l.problems
        );
    }
    let totals = lines.iter().fold((0, 0, 0, 0, 0), |t, l| {
        (
            t.0 + l.source_rows,
            t.1 + l.created,
            t.2 + l.matched,
            t.3 + l.updated,
            t.4 + l.problems,
        )
    });
    let _ = writeln!(
        markdown,
        "\n{} tables, {} source rows: {} created, {} matched, {} updated; {} problem(s) in odoo_migrate.problems.",
        lines.len(),
        totals.0,
        totals.1,
        totals.2,
        totals.3,
        totals.4
    );
    let md_path = directory.join(format!("run-{number}.md"));
    std::fs::write(&md_path, markdown)
        .with_context(|| format!("cannot write {}", md_path.display()))?;
    Ok(())
}
