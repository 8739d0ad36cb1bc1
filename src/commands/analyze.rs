//! `odoo-migrate analyze`: compares both catalogs under the rules, renders the findings as text,
//! JSON or CSV, stores them in the side schema, and exits 3 when something blocks.

use std::collections::BTreeMap;
use std::fmt::Write;

use anyhow::{Context, Result};

use crate::catalog::session::Session;
use crate::cli::{AnalyzeArgs, Cli, Format};
use crate::io::exit::Status;
use crate::io::report;
use crate::plan::analysis::{self, Analysis, Finding};
use crate::rules::Rules;

/// `odoo-migrate analyze`: compares, reports, stores the findings, and exits 3 when something blocks.
pub async fn analyze_command(cli: &Cli, args: &AnalyzeArgs) -> Result<Status> {
    let rules = Rules::load(&cli.rules)?;
    let session = Session::open(cli.source()?, cli.target()?, 2).await?;
    rules.check_names(&session.source_catalog, &session.target_catalog)?;
    let mut analysis = analysis::analyze(&session.source_catalog, &session.target_catalog, &rules);
    analysis
        .findings
        .extend(analysis::unknown_selection_values(&session, &rules).await?);
    let rendered = render(&analysis, cli.format)?;
    report::emit(&rendered)?;
    if let Some(path) = &args.output {
        std::fs::write(path, &rendered)
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    analysis::store(&session, &analysis).await?;
    let blocking = analysis.blocking().count();
    if blocking > 0 {
        tracing::warn!(
            blocking,
            "the analysis found differences that block a migration"
        );
        Ok(Status::Blocking)
    } else {
        Ok(Status::Success)
    }
}

/// Renders the analysis in the requested format.
fn render(analysis: &Analysis, format: Format) -> Result<String> {
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
    let mut by_category: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
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
