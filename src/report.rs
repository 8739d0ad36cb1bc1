//! Rendering of results for people and machines: the terminal report (sorted, grouped, with
//! totals), JSON and CSV. Nothing here computes a result; it only formats one.

use std::collections::BTreeMap;
use std::fmt::Write;

use anyhow::{Context, Result};

use crate::cli::Format;
use crate::diff::Analysis;

/// Writes a report to standard output; a reader that went away (`| head`) is not an error.
pub fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to standard output"),
    }
}

/// Renders the analysis in the requested format.
pub fn render_analysis(analysis: &Analysis, format: Format) -> Result<String> {
    match format {
        Format::Json => Ok(serde_json::to_string_pretty(analysis)? + "\n"),
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(["category", "subject", "detail", "blocking", "covered_by"])?;
            for finding in &analysis.findings {
                writer.write_record([
                    finding.category,
                    &finding.subject,
                    &finding.detail,
                    if finding.blocking { "true" } else { "false" },
                    finding.covered_by.as_deref().unwrap_or(""),
                ])?;
            }
            Ok(String::from_utf8(writer.into_inner()?)?)
        }
        Format::Text => Ok(analysis_text(analysis)),
    }
}

fn analysis_text(analysis: &Analysis) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Analysis of {} (Odoo {}) → {} (Odoo {})\n",
        analysis.source_database,
        analysis.source_version,
        analysis.target_database,
        analysis.target_version
    );
    let mut by_category: BTreeMap<&str, Vec<&crate::diff::Finding>> = BTreeMap::new();
    for finding in &analysis.findings {
        by_category
            .entry(finding.category)
            .or_default()
            .push(finding);
    }
    let blocking: Vec<_> = analysis.blocking().collect();
    if blocking.is_empty() {
        out.push_str("Nothing blocks the migration.\n\n");
    } else {
        let _ = writeln!(out, "BLOCKING ({}):", blocking.len());
        for finding in &blocking {
            let _ = writeln!(
                out,
                "  [{}] {}: {}",
                finding.category, finding.subject, finding.detail
            );
        }
        out.push('\n');
    }
    for (category, findings) in &by_category {
        let uncovered = findings.iter().filter(|f| f.covered_by.is_none()).count();
        let _ = writeln!(
            out,
            "{category} ({}, {uncovered} not covered by a rule):",
            findings.len()
        );
        for finding in findings {
            let marker = if finding.blocking {
                "!"
            } else if finding.covered_by.is_none() {
                "?"
            } else {
                " "
            };
            let _ = write!(out, " {marker} {}: {}", finding.subject, finding.detail);
            if let Some(covered) = &finding.covered_by {
                let _ = write!(out, "  [{covered}]");
            }
            out.push('\n');
        }
        out.push('\n');
    }
    let migrated: Vec<_> = analysis
        .rows_per_model
        .iter()
        .filter(|m| m.rows > 0)
        .collect();
    let total: i64 = migrated.iter().map(|m| m.rows).sum();
    let _ = writeln!(
        out,
        "Rows per model in the source ({} models with rows, {total} rows):",
        migrated.len()
    );
    let mut sorted = migrated;
    sorted.sort_by(|a, b| b.rows.cmp(&a.rows).then(a.model.cmp(&b.model)));
    for model in sorted {
        let _ = writeln!(
            out,
            "  {:>10}  {} ({}, {:?})",
            model.rows, model.model, model.table, model.policy
        );
    }
    let xmlids: i64 = analysis.xmlids_per_module.values().sum();
    let _ = writeln!(
        out,
        "\nExternal ids per module in the source ({xmlids} in all):"
    );
    for (module, count) in &analysis.xmlids_per_module {
        let _ = writeln!(out, "  {count:>10}  {module}");
    }
    let _ = writeln!(
        out,
        "\nTotals: {} findings, {} blocking, {} not covered by any rule.",
        analysis.findings.len(),
        blocking.len(),
        analysis
            .findings
            .iter()
            .filter(|f| f.covered_by.is_none())
            .count()
    );
    out
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

/// Writes `run-<id>.csv` and `run-<id>.md` into `directory`.
pub fn write_run_report(directory: &std::path::Path, run_id: i64, lines: &[RunLine]) -> Result<()> {
    std::fs::create_dir_all(directory)
        .with_context(|| format!("cannot create the report directory {}", directory.display()))?;
    let csv_path = directory.join(format!("run-{run_id}.csv"));
    let mut writer = csv::Writer::from_path(&csv_path)
        .with_context(|| format!("cannot write {}", csv_path.display()))?;
    for line in lines {
        writer.serialize(line)?;
    }
    writer.flush()?;
    let mut markdown = format!(
        "# Migration run {run_id}\n\n| model | table | status | source rows | created | matched | updated | not copied | seconds | problems |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
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
    let md_path = directory.join(format!("run-{run_id}.md"));
    std::fs::write(&md_path, markdown)
        .with_context(|| format!("cannot write {}", md_path.display()))?;
    Ok(())
}
