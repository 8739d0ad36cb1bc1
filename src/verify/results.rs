//! What a verification leaves behind: its results stored in the side schema as a `verify` run,
//! written as a CSV file, and rendered for standard output as text, JSON or CSV. Writes only the
//! side schema's verification tables; never a migrated table.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use tokio_postgres::Client;

use super::CheckResult;
use crate::catalog::session::Session;
use crate::io::report::Format;
use crate::side_schema;

/// Stores the results as one finished `verify` run of the current migration run (the newest not
/// rolled back), with the checks that ran; returns its id.
pub(super) async fn store(
    target: &mut Client,
    session: &Session,
    ran: &[&str],
    results: &[CheckResult],
) -> Result<i64> {
    let transaction = target.transaction().await?;
    let run_id = side_schema::start_run(
        &transaction,
        "verify",
        &session.source_catalog.database,
        &session.target_catalog.database,
        &serde_json::json!({}),
    )
    .await?;
    transaction
        .execute(
            "UPDATE odoo_migrate.runs SET checks = $2, \
             verified_run = (SELECT id FROM odoo_migrate.current_migration) WHERE id = $1",
            &[&run_id, &ran],
        )
        .await
        .context("cannot record which run and checks the verification covers")?;
    let checks: Vec<&str> = results.iter().map(|r| r.check).collect();
    let subjects: Vec<&str> = results.iter().map(|r| r.subject.as_str()).collect();
    let passed: Vec<bool> = results.iter().map(|r| r.passed).collect();
    let sources: Vec<&str> = results.iter().map(|r| r.source_value.as_str()).collect();
    let targets: Vec<&str> = results.iter().map(|r| r.target_value.as_str()).collect();
    let details: Vec<&str> = results.iter().map(|r| r.detail.as_str()).collect();
    transaction
        .execute(
            "INSERT INTO odoo_migrate.verification_results (run_id, check_name, subject, passed, source_value, target_value, detail) \
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::boolean[], $5::text[], $6::text[], $7::text[])",
            &[&run_id, &checks, &subjects, &passed, &sources, &targets, &details],
        )
        .await
        .context("cannot store the verification results")?;
    let failed = results.iter().filter(|r| !r.passed).count();
    side_schema::finish_run(
        &transaction,
        run_id,
        "finished",
        Some(&format!("{} checks, {failed} failed", results.len())),
    )
    .await?;
    transaction.commit().await?;
    Ok(run_id)
}

/// Writes the results into `verification-<number>.csv` in `directory`.
pub(super) fn write_csv(directory: &Path, number: i64, results: &[CheckResult]) -> Result<()> {
    std::fs::create_dir_all(directory)
        .with_context(|| format!("cannot create the report directory {}", directory.display()))?;
    let path = directory.join(format!("verification-{number}.csv"));
    let mut writer = csv::Writer::from_path(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    for result in results {
        writer.serialize(result)?;
    }
    writer.flush()?;
    Ok(())
}

/// Renders the results: a summary per check and the failures (text), or every result (JSON, CSV).
pub fn render(
    results: &[CheckResult],
    format: Format,
    number: i64,
    not_run: &[&str],
) -> Result<String> {
    match format {
        Format::Json => Ok(serde_json::to_string_pretty(&serde_json::json!({
            "verification": number,
            "passed": results.iter().all(|r| r.passed),
            "not_run": not_run,
            "results": results,
        }))? + "\n"),
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            for result in results {
                writer.serialize(result)?;
            }
            Ok(String::from_utf8(writer.into_inner()?)?)
        }
        Format::Text => {
            use std::fmt::Write;
            let mut out = String::new();
            let mut by_check: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
            let mut not_applicable: BTreeMap<&str, &str> = BTreeMap::new();
            for result in results {
                if result.target_value == super::NOT_APPLICABLE {
                    not_applicable.insert(result.check, &result.detail);
                    continue;
                }
                let entry = by_check.entry(result.check).or_default();
                entry.0 += 1;
                if !result.passed {
                    entry.1 += 1;
                }
                if result.target_value == super::judge::SKIPPED {
                    entry.2 += 1;
                }
            }
            let _ = writeln!(out, "Verification {number}:");
            let mut lines: BTreeMap<&str, String> = by_check
                .iter()
                .map(|(check, (total, failed, skipped))| {
                    let skipped = match skipped {
                        0 => String::new(),
                        n => format!(", {n} skipped"),
                    };
                    let line = if *failed == 0 {
                        format!("passed ({}{skipped})", subjects(*total))
                    } else {
                        format!("FAILED ({failed} of {}{skipped})", subjects(*total))
                    };
                    (*check, line)
                })
                .collect();
            for (check, detail) in not_applicable {
                let detail = detail.strip_prefix("not applicable: ").unwrap_or(detail);
                lines.insert(check, format!("not applicable ({detail})"));
            }
            for (check, line) in &lines {
                let _ = writeln!(out, "  {check:<24} {line}");
            }
            for check in not_run {
                let _ = writeln!(
                    out,
                    "  {check:<24} not run (give --odoo-bin PATH to run Odoo 19's judge)"
                );
            }
            let failures: Vec<&CheckResult> = results.iter().filter(|r| !r.passed).collect();
            if !failures.is_empty() {
                let _ = writeln!(out, "\nFailures:");
                for failure in failures {
                    let _ = writeln!(
                        out,
                        "  [{}] {}: source {} / target {}: {}",
                        failure.check,
                        failure.subject,
                        failure.source_value,
                        failure.target_value,
                        failure.detail
                    );
                }
            }
            let failed = results.iter().filter(|r| !r.passed).count();
            let _ = writeln!(
                out,
                "\n{} checks, {} passed, {failed} failed.",
                results.len(),
                results.len() - failed
            );
            Ok(out)
        }
    }
}

/// "1 subject", "2 subjects".
fn subjects(count: usize) -> String {
    format!("{count} subject{}", if count == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::NOT_APPLICABLE;

    fn result(check: &'static str, passed: bool, target_value: &str, detail: &str) -> CheckResult {
        CheckResult {
            check,
            subject: "company 1".to_string(),
            passed,
            source_value: "1".to_string(),
            target_value: target_value.to_string(),
            detail: detail.to_string(),
        }
    }

    #[test]
    fn a_check_that_does_not_apply_is_said_so_and_counts_as_passed() {
        let results = [
            result("counts", true, "3", ""),
            result(
                "timesheets",
                true,
                NOT_APPLICABLE,
                "not applicable: the source has no hr_leave",
            ),
            result("expenses", false, "2", "state|draft: source 1 / target 2"),
        ];
        let text = render(&results, Format::Text, 7, &[]).expect("text");
        assert!(
            text.contains("timesheets               not applicable (the source has no hr_leave)"),
            "{text}"
        );
        assert!(
            text.contains("counts                   passed (1 subject)"),
            "{text}"
        );
        assert!(
            text.contains("expenses                 FAILED (1 of 1 subject)"),
            "{text}"
        );
        assert!(text.contains("3 checks, 2 passed, 1 failed."), "{text}");
        let lines: Vec<&str> = text.lines().skip(1).take(3).collect();
        assert!(
            lines[0].contains("counts")
                && lines[1].contains("expenses")
                && lines[2].contains("timesheets"),
            "in the order of their names: {lines:?}"
        );
    }
    #[test]
    fn the_text_counts_skipped_subjects_lists_failures_and_names_checks_not_run() {
        let results = [
            result(
                "judge",
                true,
                crate::verify::judge::SKIPPED,
                "no quotation to confirm",
            ),
            result("judge", true, "ok", ""),
            result("judge", false, "2", "sale.order.amount_total differs"),
            result("counts", true, "3", ""),
        ];
        let text = render(&results, Format::Text, 4, &["odoo-judge"]).expect("text");
        assert!(text.starts_with("Verification 4:\n"), "{text}");
        assert!(
            text.contains("judge                    FAILED (1 of 3 subjects, 1 skipped)"),
            "{text}"
        );
        assert!(
            text.contains("counts                   passed (1 subject)\n"),
            "{text}"
        );
        assert!(
            text.contains("odoo-judge               not run (give --odoo-bin PATH"),
            "{text}"
        );
        assert!(
            text.contains("Failures:\n  [judge] company 1: source 1 / target 2: sale.order.amount_total differs\n"),
            "{text}"
        );
        assert!(text.ends_with("4 checks, 3 passed, 1 failed.\n"), "{text}");
        let clean = render(&results[3..], Format::Text, 5, &[]).expect("text");
        assert!(!clean.contains("Failures"), "{clean}");
        assert!(!clean.contains("not run"), "{clean}");
        assert!(
            clean.ends_with("1 checks, 1 passed, 0 failed.\n"),
            "{clean}"
        );
    }

    #[test]
    fn machine_formats_carry_every_result() {
        let results = [
            result("counts", true, "3", ""),
            result("fields", false, "2", "lost"),
        ];
        let json: serde_json::Value = serde_json::from_str(
            &render(&results, Format::Json, 9, &["odoo-judge"]).expect("json"),
        )
        .expect("valid JSON");
        assert_eq!(json["verification"], 9);
        assert_eq!(json["passed"], false);
        assert_eq!(json["not_run"], serde_json::json!(["odoo-judge"]));
        assert_eq!(json["results"].as_array().map(Vec::len), Some(2));
        assert_eq!(json["results"][1]["detail"], "lost");
        let passing: serde_json::Value =
            serde_json::from_str(&render(&results[..1], Format::Json, 9, &[]).expect("json"))
                .expect("valid JSON");
        assert_eq!(passing["passed"], true);
        let csv = render(&results, Format::Csv, 9, &[]).expect("csv");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3, "{csv}");
        assert_eq!(
            lines[0],
            "check,subject,passed,source_value,target_value,detail"
        );
        assert_eq!(lines[2], "fields,company 1,false,1,2,lost");
    }

    #[test]
    fn the_csv_report_is_written_under_the_verification_number() {
        let directory =
            std::env::temp_dir().join(format!("om-unit-results-{}", std::process::id()));
        let results = [result("counts", true, "3", "")];
        write_csv(&directory.join("reports"), 12, &results).expect("written");
        let written = std::fs::read_to_string(directory.join("reports/verification-12.csv"))
            .expect("the file");
        assert_eq!(
            written,
            "check,subject,passed,source_value,target_value,detail\ncounts,company 1,true,1,3,\n"
        );
        std::fs::remove_dir_all(&directory).expect("removed");
    }
}
