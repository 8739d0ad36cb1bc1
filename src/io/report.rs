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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(table: &str, created: i64, problems: i64) -> RunLine {
        RunLine {
            model: Some(table.replace('_', ".")),
            source_table: table.to_string(),
            target_table: table.to_string(),
            status: "done".to_string(),
            source_rows: created + 1,
            created,
            matched: 1,
            updated: 0,
            not_copied: 0,
            seconds: Some("0.5".to_string()),
            problems,
        }
    }

    #[test]
    fn the_run_report_has_a_csv_line_and_a_markdown_row_per_table_and_the_totals() {
        let directory = std::env::temp_dir().join(format!("om-report-test-{}", std::process::id()));
        let lines = [line("res_partner", 40, 0), line("crm_lead", 2, 3)];
        write_run_report(&directory, 4, &lines).unwrap();
        let csv = std::fs::read_to_string(directory.join("run-4.csv")).unwrap();
        let markdown = std::fs::read_to_string(directory.join("run-4.md")).unwrap();
        std::fs::remove_dir_all(&directory).unwrap();
        let csv_lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            csv_lines[0],
            "model,source_table,target_table,status,source_rows,created,matched,updated,not_copied,seconds,problems"
        );
        assert_eq!(
            csv_lines[1],
            "res.partner,res_partner,res_partner,done,41,40,1,0,0,0.5,0"
        );
        assert_eq!(csv_lines.len(), 3);
        assert!(markdown.starts_with("# Migration run 4\n"), "{markdown}");
        assert!(
            markdown.contains(
                "| crm.lead | crm_lead → crm_lead | done | 3 | 2 | 1 | 0 | 0 | 0.5 | 3 |"
            ),
            "{markdown}"
        );
        assert!(
            markdown.contains(
                "2 tables, 44 source rows: 42 created, 2 matched, 0 updated; 3 problem(s)"
            ),
            "{markdown}"
        );
    }

    #[test]
    fn a_report_directory_that_cannot_be_made_is_named() {
        let file = std::env::temp_dir().join(format!("om-report-file-{}", std::process::id()));
        std::fs::write(&file, "a file, not a directory").unwrap();
        let error = write_run_report(&file.join("sub"), 1, &[]).unwrap_err();
        std::fs::remove_file(&file).unwrap();
        assert!(
            error
                .to_string()
                .contains("cannot create the report directory"),
            "{error}"
        );
    }
}
