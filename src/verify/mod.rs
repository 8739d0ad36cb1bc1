//! The `verify` stage: the proofs that nothing was lost or duplicated. Integrity checks per model
//! (external ids, counts, field coverage, references, duplicate mappings) and business checks per
//! company (trial balance, open balances, revenue, stock, orders, and per app: timesheets,
//! manufacturing, expenses, time off, point of sale, …), each computed with set-based
//! SQL on both sides and compared; results stored in the side schema and written as CSV. It reads
//! the migrated tables and writes only the side schema's verification results; it knows nothing of
//! the command line (`commands::verify` builds its [`Options`] and renders its [`Verification`]).

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;
use tokio_postgres::Client;

use crate::catalog::Catalog;
use crate::catalog::session::Session;
use crate::io::connect::Endpoint;
use crate::io::exit::{Status, refuse};
use crate::plan::tables::{self, TablePlan};
use crate::rules::Rules;
use crate::side_schema;

mod business;
mod deep;
mod fields;
#[cfg(test)]
mod fixture;
mod integrity;
pub mod judge;
mod results;

pub use business::{BUSINESS_CHECKS, NOT_APPLICABLE};
pub use results::render;

/// One result line: a check on one subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub check: &'static str,
    pub subject: String,
    pub passed: bool,
    pub source_value: String,
    pub target_value: String,
    pub detail: String,
}

/// Names of the integrity checks, in the order they run.
pub const INTEGRITY_CHECKS: &[&str] = &[
    "external-ids",
    "counts",
    "fields",
    "references",
    "duplicates",
    "selection-values",
    "attachment-files",
    "deep",
];

/// What to verify, and where.
pub struct Options {
    pub rules: Rules,
    pub source: Endpoint,
    pub target: Endpoint,
    /// Only this check (a name of [`INTEGRITY_CHECKS`] or [`BUSINESS_CHECKS`]).
    pub check: Option<String>,
    /// Also compare every created record value by value.
    pub deep: bool,
    /// Also look for the files of migrated attachments in this filestore.
    pub target_filestore: Option<PathBuf>,
    /// Also write the results as CSV into this directory.
    pub report_dir: Option<PathBuf>,
    /// Odoo 19's judge (check `odoo`), when one was given.
    pub judge: Option<judge::Judge>,
}

/// A verification made: its number among verifications (`verification-<number>.csv`) and its
/// results.
pub struct Verification {
    pub number: i64,
    pub results: Vec<CheckResult>,
    /// Checks asked for that did not run (the judge without an Odoo 19 to run).
    pub not_run: Vec<&'static str>,
}

impl Verification {
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }
}

/// Refuses a check name that is none of the checks.
pub fn refuse_unknown_check(check: Option<&str>) -> Result<()> {
    let known: Vec<String> = INTEGRITY_CHECKS
        .iter()
        .map(|c| c.to_string())
        .chain(BUSINESS_CHECKS.iter().map(|c| c.name.to_string()))
        .chain([judge::CHECK.to_string()])
        .collect();
    if let Some(check) = check
        && !known.iter().any(|k| k == check)
    {
        return Err(refuse(
            Status::Usage,
            format!(
                "unknown check `{check}`; the checks are: {}",
                known.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Runs the checks asked for on the tables the runs finished, stores the results as a `verify`
/// run and writes them as CSV when asked.
pub async fn verify(options: &Options) -> Result<Verification> {
    if let Some(odoo) = &options.judge {
        odoo.version().await?; // refuse another Odoo before any check runs
    }
    let rules = &options.rules;
    let session = Session::open(options.source.clone(), options.target.clone(), 3).await?;
    rules.check_names(&session.source_catalog, &session.target_catalog)?;
    let mut target = open_side_schema(&session).await?;
    let source = session.source.get().await?;
    let (_, plans) = tables::for_session(&session, rules)?;
    let plans = finished_plans(&target, plans).await?;
    let mut ran = checks_to_run(options);
    let sides = Sides {
        source: &source,
        target: &target,
        source_catalog: &session.source_catalog,
        target_catalog: &session.target_catalog,
    };
    let mut results = run_checks(options, &ran, &sides, &plans).await?;
    let mut not_run = Vec::new();
    match judging(options) {
        Judging::Run(odoo) => {
            let known = known_unknowable(rules, &plans);
            let judged = odoo
                .verify(&options.target, &source, &target, &known)
                .await?;
            add_checks_of(&mut ran, &judged);
            results.extend(judged);
        }
        Judging::NotRun => not_run.push(judge::CHECK),
        Judging::NotAsked => {}
    }
    let run_id = results::store(&mut target, &session, &ran, &results).await?;
    let number = side_schema::run_number(&target, run_id).await?;
    if let Some(directory) = &options.report_dir {
        results::write_csv(directory, number, &results)?;
    }
    Ok(Verification {
        number,
        results,
        not_run,
    })
}

/// The rules' `unknowable` fields of the models copied, for the judge.
fn known_unknowable(rules: &Rules, plans: &[TablePlan]) -> Vec<judge::Known> {
    let mut known = Vec::new();
    for plan in plans {
        if plan.kind != crate::rules::pairing::TableKind::Model {
            continue;
        }
        let Some(rule) = rules.models.get(&plan.model) else {
            continue;
        };
        for (field, unknowable) in &rule.unknowable {
            known.push(judge::Known {
                model: plan.target_model.clone(),
                field: field.clone(),
                table: plan.target_table.clone(),
                filter: unknowable.filter.clone(),
                reason: unknowable.reason.clone(),
                rule: format!("rule models.\"{}\".unknowable.{field}", plan.model),
            });
        }
    }
    known
}

/// Whether `--check` (`check`) asks for the check `name`: no `--check` asks for every check.
fn wanted(check: Option<&str>, name: &str) -> bool {
    check.is_none_or(|c| c == name)
}

/// What becomes of Odoo 19's judge in a verification.
#[derive(Debug)]
enum Judging<'o> {
    /// Asked for (no `--check`, or `--check odoo`) and given: it runs.
    Run(&'o judge::Judge),
    /// Asked for without an Odoo 19 to run it: reported as not run.
    NotRun,
    /// `--check` names another check.
    NotAsked,
}

fn judging(options: &Options) -> Judging<'_> {
    match &options.judge {
        _ if !wanted(options.check.as_deref(), judge::CHECK) => Judging::NotAsked,
        Some(odoo) => Judging::Run(odoo),
        None => Judging::NotRun,
    }
}

/// Adds to the checks that ran those of `results` not among them yet (the judge's), in order.
fn add_checks_of(ran: &mut Vec<&'static str>, results: &[CheckResult]) {
    for result in results {
        if !ran.contains(&result.check) {
            ran.push(result.check);
        }
    }
}

/// The checks `options` asks for, in the order they run: a check may have no subject, so its
/// results alone do not say it ran.
fn checks_to_run(options: &Options) -> Vec<&'static str> {
    let wanted = |name: &str| wanted(options.check.as_deref(), name);
    INTEGRITY_CHECKS
        .iter()
        .copied()
        .filter(|name| match *name {
            "deep" => options.deep,
            "attachment-files" => options.target_filestore.is_some(),
            _ => true,
        })
        .chain(BUSINESS_CHECKS.iter().map(|c| c.name))
        .filter(|name| wanted(name))
        .collect()
}

/// A connection to the target whose side schema is there and up to date; refused when no run was
/// ever made there.
async fn open_side_schema(session: &Session) -> Result<Client> {
    let mut target = session.target_endpoint.connect().await?;
    refuse_without_side_schema(side_schema::installed_version(&target).await?)?;
    side_schema::ensure(&mut target).await?;
    side_schema::ensure_id_map_keys(&target).await?;
    Ok(target)
}

/// Refuses a target whose side schema is at version `installed` (0: none, no run was made there).
fn refuse_without_side_schema(installed: i32) -> Result<()> {
    if installed == 0 {
        return Err(refuse(
            Status::Usage,
            "the target has no odoo_migrate schema: there is no migration to verify yet; run `odoo-migrate run` first",
        ));
    }
    Ok(())
}

/// The plans among `plans` whose copy a run that is not rolled back finished.
async fn finished_plans(target: &Client, plans: Vec<TablePlan>) -> Result<Vec<TablePlan>> {
    let finished: Vec<String> = target
        .query(
            "SELECT DISTINCT ON (source_table) source_table FROM odoo_migrate.model_state s \
             JOIN odoo_migrate.runs r ON r.id = s.run_id AND r.command = 'run' AND r.status <> 'rolled_back' \
             WHERE s.status = 'done' ORDER BY source_table, run_id DESC",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(plans
        .into_iter()
        .filter(|p| finished.contains(&p.key))
        .collect())
}

/// Both databases as the checks read them: connections and catalogs.
struct Sides<'s> {
    source: &'s Client,
    target: &'s Client,
    source_catalog: &'s Catalog,
    target_catalog: &'s Catalog,
}

/// Runs the checks of `ran` ([`checks_to_run`]), in the order of [`INTEGRITY_CHECKS`] then
/// [`BUSINESS_CHECKS`].
async fn run_checks(
    options: &Options,
    ran: &[&str],
    sides: &Sides<'_>,
    plans: &[TablePlan],
) -> Result<Vec<CheckResult>> {
    let wanted = |name: &str| ran.contains(&name);
    let Sides {
        source,
        target,
        source_catalog,
        target_catalog,
    } = *sides;
    let rules = &options.rules;
    let mut results = Vec::new();
    if wanted("external-ids") {
        results.extend(integrity::external_ids(source, target, rules, plans).await?);
    }
    if wanted("counts") {
        results.extend(integrity::counts(source, target, plans).await?);
    }
    if wanted("fields") {
        results.extend(fields::fields(source, target, plans).await?);
    }
    if wanted("references") {
        results.extend(integrity::references(target, target_catalog).await?);
    }
    if wanted("duplicates") {
        results.extend(integrity::duplicates(target, rules).await?);
    }
    if wanted("selection-values") {
        results.extend(fields::selection_values(target, target_catalog, plans).await?);
    }
    if wanted("deep") {
        results.extend(deep::compare(source, target, plans).await?);
    }
    if let Some(filestore) = &options.target_filestore
        && wanted("attachment-files")
    {
        results.push(integrity::attachment_files(target, filestore).await?);
    }
    for check in BUSINESS_CHECKS.iter().filter(|c| wanted(c.name)) {
        let missing = business::missing_in(source_catalog, check);
        if missing.is_empty() {
            results.extend(business::business(check, source, target).await?);
        } else {
            results.push(business::not_applicable(check, &missing));
        }
    }
    Ok(results)
}

/// At most five problems joined, and how many more there are.
pub fn summarize(problems: &[String]) -> String {
    match problems.len() {
        0 => String::new(),
        n if n <= 5 => problems.join("; "),
        n => format!("{}; … and {} more", problems[..5].join("; "), n - 5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::fixture;

    #[test]
    fn summarize_joins_up_to_five_problems_and_counts_the_rest() {
        let problems: Vec<String> = (1..=7).map(|n| format!("p{n}")).collect();
        assert_eq!(summarize(&[]), "");
        assert_eq!(summarize(&problems[..1]), "p1");
        assert_eq!(summarize(&problems[..5]), "p1; p2; p3; p4; p5");
        assert_eq!(summarize(&problems), "p1; p2; p3; p4; p5; … and 2 more");
    }

    #[test]
    fn every_check_name_is_known_once_and_others_are_refused_with_the_list() {
        let mut names: Vec<&str> = INTEGRITY_CHECKS
            .iter()
            .copied()
            .chain(BUSINESS_CHECKS.iter().map(|c| c.name))
            .chain([judge::CHECK])
            .collect();
        for name in &names {
            assert!(refuse_unknown_check(Some(name)).is_ok(), "{name}");
        }
        assert!(refuse_unknown_check(None).is_ok());
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "no check name twice");
        let error = refuse_unknown_check(Some("trial_balance")).unwrap_err();
        assert_eq!(crate::io::exit::status_of(&error), Status::Usage);
        let message = error.to_string();
        assert!(
            message.contains("unknown check `trial_balance`"),
            "{message}"
        );
        for name in names {
            assert!(message.contains(name), "{name} listed in {message}");
        }
    }

    #[test]
    fn every_business_check_has_a_query_on_each_side() {
        for business::BusinessCheck {
            name,
            source_sql,
            target_sql,
            ..
        } in BUSINESS_CHECKS
        {
            for sql in [source_sql, target_sql] {
                let upper = sql.to_uppercase();
                assert!(upper.contains("SELECT"), "{name}: {sql}");
                assert!(
                    upper.contains("COMPANY_ID"),
                    "{name} groups by company: {sql}"
                );
                assert!(upper.contains("SUBJECT"), "{name} names a subject: {sql}");
            }
        }
    }
    fn options(check: Option<&str>, deep: bool, filestore: bool) -> Options {
        let endpoint = |side, db: &str| {
            Endpoint::parse(side, &format!("postgres://u@127.0.0.1:5432/{db}")).expect("a URL")
        };
        Options {
            rules: Rules::default(),
            source: endpoint(crate::io::connect::Side::Source, "s"),
            target: endpoint(crate::io::connect::Side::Target, "t"),
            check: check.map(str::to_string),
            deep,
            target_filestore: filestore.then(|| PathBuf::from("/var/lib/odoo/filestore/t")),
            report_dir: None,
            judge: None,
        }
    }

    #[test]
    fn the_checks_run_are_those_asked_for_in_their_order() {
        let all = checks_to_run(&options(None, false, false));
        let business: Vec<&str> = BUSINESS_CHECKS.iter().map(|c| c.name).collect();
        assert_eq!(
            all,
            [
                "external-ids",
                "counts",
                "fields",
                "references",
                "duplicates",
                "selection-values"
            ]
            .into_iter()
            .chain(business.iter().copied())
            .collect::<Vec<_>>(),
            "deep and attachment-files only when asked for"
        );
        let deep = checks_to_run(&options(None, true, true));
        assert_eq!(deep.len(), all.len() + 2);
        assert!(deep.contains(&"deep") && deep.contains(&"attachment-files"));
        assert_eq!(
            checks_to_run(&options(Some("counts"), true, true)),
            ["counts"]
        );
        assert_eq!(
            checks_to_run(&options(Some("trial-balance"), false, false)),
            ["trial-balance"]
        );
        assert!(
            checks_to_run(&options(Some("deep"), false, false)).is_empty(),
            "deep needs --deep"
        );
    }

    #[test]
    fn the_judge_is_told_each_unknowable_field_of_the_copied_models() {
        let rules = Rules::load(&[]).expect("the default pack");
        let (with, rule) = rules
            .models
            .iter()
            .find(|(_, r)| !r.unknowable.is_empty())
            .expect("the pack has unknowable fields");
        let mut plan =
            TablePlan::for_tests(crate::rules::pairing::TableKind::Model, with, Vec::new());
        plan.target_model = format!("{with}.in19");
        plan.target_table = "t19".into();
        let relation =
            TablePlan::for_tests(crate::rules::pairing::TableKind::Relation, with, Vec::new());
        let other = TablePlan::for_tests(
            crate::rules::pairing::TableKind::Model,
            "no.rule.model",
            Vec::new(),
        );
        let known = known_unknowable(&rules, &[relation, plan, other]);
        assert_eq!(known.len(), rule.unknowable.len());
        let (field, unknowable) = rule.unknowable.iter().next().expect("one");
        let first = &known[0];
        assert_eq!(
            (
                first.model.as_str(),
                first.field.as_str(),
                first.table.as_str()
            ),
            (format!("{with}.in19").as_str(), field.as_str(), "t19")
        );
        assert_eq!(first.reason, unknowable.reason);
        assert_eq!(first.filter, unknowable.filter);
        assert_eq!(
            first.rule,
            format!("rule models.\"{with}\".unknowable.{field}")
        );
    }

    fn result(check: &'static str, passed: bool) -> CheckResult {
        CheckResult {
            check,
            subject: "res.partner".into(),
            passed,
            source_value: String::new(),
            target_value: String::new(),
            detail: String::new(),
        }
    }

    #[test]
    fn a_verification_passes_when_every_result_passed() {
        let verification = |results| Verification {
            number: 1,
            results,
            not_run: vec![judge::CHECK],
        };
        assert!(verification(vec![result("counts", true), result("fields", true)]).passed());
        assert!(!verification(vec![result("counts", true), result("fields", false)]).passed());
        assert!(!verification(vec![result("counts", false)]).passed());
    }

    #[test]
    fn the_judge_runs_when_asked_for_and_given_and_is_reported_not_run_without_odoo() {
        let kind = |options: &Options| match judging(options) {
            Judging::Run(_) => "run",
            Judging::NotRun => "not run",
            Judging::NotAsked => "not asked",
        };
        assert_eq!(kind(&options(None, false, false)), "not run");
        assert_eq!(kind(&options(Some(judge::CHECK), false, false)), "not run");
        assert_eq!(kind(&options(Some("counts"), false, false)), "not asked");
        // Any existing file passes for an odoo-bin until the judge runs it.
        let odoo_bin = std::env::current_exe().expect("the test binary");
        let installation = || judge::Installation {
            odoo_bin: Some(&odoo_bin),
            python: None,
            conf: None,
            timeout: "1m",
        };
        let mut given = options(None, false, false);
        given.judge = judge::Judge::new(installation(), None).expect("a judge");
        assert_eq!(kind(&given), "run");
        given.check = Some(judge::CHECK.into());
        assert_eq!(kind(&given), "run");
        given.check = Some("counts".into());
        assert_eq!(kind(&given), "not asked");
    }

    #[test]
    fn the_judges_checks_are_added_once_to_those_that_ran() {
        let mut ran = vec!["counts", "odoo-registry"];
        add_checks_of(
            &mut ran,
            &[
                result("odoo-registry", true),
                result("odoo-judge", true),
                result("odoo-recompute", false),
                result("odoo-judge", false),
            ],
        );
        assert_eq!(
            ran,
            ["counts", "odoo-registry", "odoo-judge", "odoo-recompute"]
        );
    }

    #[test]
    fn a_target_without_side_schema_has_no_migration_to_verify() {
        let error = refuse_without_side_schema(0).unwrap_err();
        assert_eq!(crate::io::exit::status_of(&error), Status::Usage);
        assert!(
            error.to_string().contains("no migration to verify yet"),
            "{error}"
        );
        assert!(refuse_without_side_schema(1).is_ok());
        assert!(refuse_without_side_schema(7).is_ok());
    }

    #[tokio::test]
    async fn only_the_tables_a_run_finished_and_kept_are_verified() {
        let client = fixture::migrated().await;
        let plan = fixture::plan();
        let mut unfinished = plan.clone();
        unfinished.key = "om_unit_unfinished".into();
        let mut never = plan.clone();
        never.key = "om_unit_never".into();
        let keys = |plans: Vec<TablePlan>| plans.into_iter().map(|p| p.key).collect::<Vec<_>>();
        client
            .batch_execute(
                "INSERT INTO odoo_migrate.model_state VALUES (1, 'om_unit_unfinished', 0, 'copying')",
            )
            .await
            .expect("a table being copied");
        let plans = vec![unfinished.clone(), plan.clone(), never.clone()];
        assert_eq!(
            keys(finished_plans(&client, plans.clone()).await.expect("read")),
            std::slice::from_ref(&plan.key)
        );
        // Finished by a later run; the plain run's table rolled back, then finished by an update.
        client
            .batch_execute(&format!(
                "INSERT INTO odoo_migrate.runs VALUES (2, 'finished', 'run'), (3, 'finished', 'update'); \
                 INSERT INTO odoo_migrate.model_state VALUES (2, 'om_unit_unfinished', 0); \
                 UPDATE odoo_migrate.runs SET status = 'rolled_back' WHERE id = 1; \
                 INSERT INTO odoo_migrate.model_state VALUES (3, '{}', 0)",
                plan.key
            ))
            .await
            .expect("runs");
        assert_eq!(
            keys(finished_plans(&client, plans).await.expect("read")),
            [unfinished.key]
        );
        client.batch_execute("ROLLBACK").await.expect("rolled back");
    }

    #[tokio::test]
    async fn the_checks_that_run_are_those_to_run_in_their_order() {
        let client = fixture::migrated().await;
        let plans = [fixture::plan()];
        let catalog = fixture::target_catalog(&[], &[]);
        let sides = Sides {
            source: &client,
            target: &client,
            source_catalog: &catalog,
            target_catalog: &catalog,
        };
        let options = options(None, false, false);
        let checks = |results: Vec<CheckResult>| {
            let mut checks: Vec<&str> = results.iter().map(|r| r.check).collect();
            checks.dedup();
            checks
        };
        // Without the app's tables, an app's check is not applicable and runs no SQL.
        let ran = [
            "counts",
            "fields",
            "references",
            "duplicates",
            "selection-values",
            "deep",
            "timesheets",
        ];
        let results = run_checks(&options, &ran, &sides, &plans)
            .await
            .expect("the checks run");
        assert_eq!(checks(results.clone()), ran);
        let timesheets = results.last().expect("a result");
        assert_eq!(timesheets.target_value, NOT_APPLICABLE);
        assert!(results.iter().all(|r| r.passed), "{results:?}");
        let only = run_checks(&options, &["deep"], &sides, &plans)
            .await
            .expect("the check runs");
        assert_eq!(checks(only), ["deep"]);
        client.batch_execute("ROLLBACK").await.expect("rolled back");
    }
}
