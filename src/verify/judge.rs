//! The Odoo 19 judge of `verify` (the check `odoo`): the user's own Odoo 19 opens the migrated
//! target and says what it thinks of it, and its findings are recorded like every other check.
//!
//! This file owns everything between the command line and those results: checking the paths
//! given (`--odoo-bin`, `--odoo-python`, `--odoo-conf`) and that they are an Odoo 19; running
//! `odoo-bin shell` on the target database with `odoo/judge.py` (embedded in the binary) on its
//! standard input, within `--odoo-timeout`; reading the judge's protocol lines (odoo/README.md);
//! turning them into [`CheckResult`]s, one check per kind of the judge's results (`odoo-registry`,
//! `odoo-read`, `odoo-recompute`, `odoo-constraints`, `odoo-analytic`, `odoo-actions`, and
//! `odoo-judge` for the run itself); and comparing the trial balance the judge read through the
//! ORM with the source's, per company and account (`odoo-trial-balance`). The judge works in a
//! transaction that Odoo rolls back: it leaves the target as it found it.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio_postgres::Client;

use super::CheckResult;
use crate::io::connect::Endpoint;
use crate::io::exit::{Status, refuse};

/// The judge's name in `verify --check`.
pub const CHECK: &str = "odoo";
/// The `target_value` of a result the judge did not judge (a `skip`, with its reason): no failure.
pub const SKIPPED: &str = "skipped";
/// The judge itself, run by `odoo-bin shell` from its standard input.
const SCRIPT: &str = include_str!("../../odoo/judge.py");
const SOURCE_TRIAL_BALANCE: &str = include_str!("../../sql/verify/odoo_trial_balance.source.sql");
/// The version of the judge's output protocol this file reads.
const PROTOCOL: i64 = 1;
const ODOO_MAJOR: &str = "19";
/// How many of Odoo's last lines on standard error a failure shows.
const STDERR_LINES: usize = 12;
/// `odoo-bin --version` imports Odoo: slow on a busy machine, never minutes.
const VERSION_TIMEOUT: Duration = Duration::from_secs(300);

/// The user's Odoo 19 as the command line names it (`--odoo-bin`, `--odoo-python`, `--odoo-conf`,
/// `--odoo-timeout`).
pub struct Installation<'a> {
    pub odoo_bin: Option<&'a Path>,
    pub python: Option<&'a Path>,
    pub conf: Option<&'a Path>,
    pub timeout: &'a str,
}

/// The user's Odoo 19, its paths checked.
#[derive(Debug)]
pub struct Judge {
    python: PathBuf,
    odoo_bin: PathBuf,
    conf: Option<PathBuf>,
    timeout: Duration,
    version: tokio::sync::OnceCell<String>,
}

/// What one run of the judge printed.
struct Outcome {
    lines: Vec<Line>,
    unreadable: Vec<String>,
    /// None when the judge was stopped at its timeout.
    exit: Option<ExitStatus>,
    stderr: Vec<String>,
    seconds: f64,
}

/// One `JUDGE<TAB>check<TAB>subject<TAB>status<TAB>details` line.
#[derive(Debug)]
struct Line {
    check: String,
    subject: String,
    verdict: Verdict,
    details: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    Fail,
    Skip,
}

/// The source's trial balance: (company, account or None) → account code, posted amounts.
type SourceBalance = BTreeMap<(i32, Option<i32>), (Option<String>, Amounts)>;

/// Posted amounts in cents and the number of journal items.
#[derive(Debug, Default, Clone, Copy)]
struct Amounts {
    debit: i64,
    credit: i64,
    balance: i64,
    lines: i64,
}

impl Judge {
    /// The judge of `installation`, unless `check` names another check or no odoo-bin was given
    /// (then it is reported as not run); a usage error for a path that is not there, and for
    /// `--check odoo` without odoo-bin.
    pub fn new(installation: Installation, check: Option<&str>) -> Result<Option<Judge>> {
        if check.is_some_and(|c| c != CHECK) {
            return Ok(None);
        }
        let Some(odoo_bin) = installation.odoo_bin else {
            if check == Some(CHECK) {
                return Err(refuse(
                    Status::Usage,
                    "--check odoo runs Odoo 19's judge on the target, which needs --odoo-bin PATH \
                     (the odoo-bin of an Odoo 19 installation, or ODOO_MIGRATE_ODOO_BIN) and \
                     usually --odoo-python PATH (the Python of the virtualenv it is installed in)",
                ));
            }
            return Ok(None);
        };
        let odoo_bin = existing_file("--odoo-bin", odoo_bin)?;
        let python = match installation.python {
            // A bare name (`python3`) is looked up in PATH when it runs.
            Some(python) if python.components().count() == 1 && !python.exists() => {
                python.to_path_buf()
            }
            Some(python) => existing_file("--odoo-python", python)?,
            None => PathBuf::from("python3"),
        };
        let conf = match installation.conf {
            Some(conf) => Some(existing_file("--odoo-conf", conf)?),
            None => None,
        };
        let timeout = crate::io::stop::parse_duration(installation.timeout).ok_or_else(|| {
            refuse(
                Status::Usage,
                format!(
                    "--odoo-timeout {} is not a duration; write it as 90s, 45m, 2h or 1h30m",
                    installation.timeout
                ),
            )
        })?;
        Ok(Some(Judge {
            python,
            odoo_bin,
            conf,
            timeout,
            version: tokio::sync::OnceCell::new(),
        }))
    }

    /// The judge's results on the target: one check per kind of result, the trial balance
    /// compared with the source's.
    /// A recomputed difference that lies only on records the rules call unknowable (`known`) is
    /// no failure: it passes, saying so and why.
    pub async fn verify(
        &self,
        target: &Endpoint,
        source: &Client,
        target_client: &Client,
        known: &[Known],
    ) -> Result<Vec<CheckResult>> {
        let version = self.version().await?;
        tracing::info!(
            "running the judge of Odoo {version} ({}) on {target}",
            self.odoo_bin.display()
        );
        let outcome = self.run(target, !known.is_empty()).await?;
        check_start(&outcome, &self.odoo_bin)?;
        let mut results = run_results(&outcome, target.database(), self.timeout);
        results.extend(outcome.lines.iter().filter_map(line_result));
        settle_known(target_client, known, &outcome.lines, &mut results).await?;
        if trial_balance_complete(&outcome) {
            results.extend(trial_balance(source, &outcome.lines).await?);
        }
        tracing::info!(
            "the judge ran {:.0}s: {} results, {} failed",
            outcome.seconds,
            results.len(),
            results.iter().filter(|r| !r.passed).count()
        );
        Ok(results)
    }

    /// Odoo's version (`odoo-bin --version` with the given Python, asked once); anything but
    /// Odoo 19 is refused.
    pub async fn version(&self) -> Result<&str> {
        self.version
            .get_or_try_init(|| self.ask_version())
            .await
            .map(String::as_str)
    }

    async fn ask_version(&self) -> Result<String> {
        let run = Command::new(&self.python)
            .arg(&self.odoo_bin)
            .arg("--version")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(VERSION_TIMEOUT, run)
            .await
            .map_err(|_| {
                refuse(
                    Status::Usage,
                    format!(
                        "{} {} --version did not answer within {}s",
                        self.python.display(),
                        self.odoo_bin.display(),
                        VERSION_TIMEOUT.as_secs()
                    ),
                )
            })?
            .map_err(|error| self.spawn_error(error))?;
        let printed = String::from_utf8_lossy(&output.stdout);
        let version = printed.trim().strip_prefix("Odoo Server ").map(str::trim);
        match version {
            Some(version) if output.status.success() && major(version) == ODOO_MAJOR => {
                Ok(version.to_string())
            }
            Some(version) => Err(refuse(
                Status::Usage,
                format!(
                    "{} is Odoo {version}; the judge needs Odoo {ODOO_MAJOR}: give --odoo-bin of \
                     the Odoo {ODOO_MAJOR} installation that serves the target",
                    self.odoo_bin.display()
                ),
            )),
            None => {
                let stderr = String::from_utf8_lossy(&output.stderr);
                Err(refuse(
                    Status::Usage,
                    format!(
                        "`{} {} --version` printed no Odoo version ({}): {}; --odoo-bin must be \
                         Odoo {ODOO_MAJOR}'s odoo-bin and --odoo-python the Python Odoo is \
                         installed in (its virtualenv's bin/python)",
                        self.python.display(),
                        self.odoo_bin.display(),
                        output.status,
                        last_lines(stderr.lines().map(str::to_string).collect(), 2)
                    ),
                ))
            }
        }
    }

    fn spawn_error(&self, error: std::io::Error) -> anyhow::Error {
        let what = if error.kind() == std::io::ErrorKind::NotFound {
            "not found; give --odoo-python the Python of the virtualenv Odoo 19 is installed in"
                .to_string()
        } else {
            error.to_string()
        };
        refuse(
            Status::Usage,
            format!("cannot start {}: {what}", self.python.display()),
        )
    }

    /// Runs `odoo-bin shell` on the target with the judge on its standard input; stops it at the
    /// timeout, keeping what it printed so far.
    async fn run(&self, target: &Endpoint, every_id: bool) -> Result<Outcome> {
        let mut command = self.shell_command(target);
        // Every differing id, to tell whether they all are records the rules call unknowable.
        if every_id && std::env::var_os("JUDGE_EXAMPLES").is_none() {
            command.env("JUDGE_EXAMPLES", "1000000");
        }
        let started = Instant::now();
        let mut child = command.spawn().map_err(|error| self.spawn_error(error))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            anyhow::bail!("the pipes to odoo-bin were not opened");
        };
        let feed = tokio::spawn(async move {
            stdin.write_all(SCRIPT.as_bytes()).await?;
            stdin.shutdown().await
        });
        let printed = tokio::spawn(judge_lines(stdout));
        let logged = tokio::spawn(tail(stderr));
        let exit = match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(status) => Some(status.context("cannot wait for odoo-bin")?),
            Err(_) => {
                child
                    .kill()
                    .await
                    .context("cannot stop odoo-bin at its timeout")?;
                None
            }
        };
        // Odoo may stop before it reads the judge (a registry that does not load): the outcome
        // says so, a broken pipe adds nothing.
        if let Ok(Err(error)) = feed.await {
            tracing::debug!(%error, "the judge could not be written to odoo-bin");
        }
        let (lines, unreadable) = printed.await.context("reading the judge's results")??;
        let stderr = logged.await.context("reading Odoo's messages")??;
        Ok(Outcome {
            lines,
            unreadable,
            exit,
            stderr: stderr.into(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    fn shell_command(&self, target: &Endpoint) -> Command {
        let (host, port, user, password) = target.parts();
        let mut command = Command::new(&self.python);
        command.arg(&self.odoo_bin).arg("shell");
        if let Some(conf) = &self.conf {
            command.arg("-c").arg(conf);
        }
        command
            .args(["-d", target.database(), "--db_host", &host])
            .args(["--db_port", &port.to_string(), "-r", &user]);
        if let Some(password) = password {
            command.arg("-w").arg(password);
        }
        let (sslmode, root_cert) = target.tls_parts();
        command.args(["--db_sslmode", sslmode]);
        if let Some(root_cert) = root_cert {
            command.env("PGSSLROOTCERT", root_cert);
        }
        command
            .args(["--no-http", "--log-level=warn"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }
}

fn existing_file(option: &str, path: &Path) -> Result<PathBuf> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let what = if path.exists() {
        "is not a file"
    } else {
        "does not exist"
    };
    Err(refuse(
        Status::Usage,
        format!("{option} {}: {what}", path.display()),
    ))
}

/// `19` of `19.0`, `19.0-20250101`, `19.0+e`.
fn major(version: &str) -> &str {
    version.split(['.', '-', '+']).next().unwrap_or(version)
}

/// The judge's lines on standard output (other lines are Odoo's business), and those that start
/// like one but cannot be read.
async fn judge_lines(stdout: impl AsyncRead + Unpin) -> std::io::Result<(Vec<Line>, Vec<String>)> {
    let mut reader = BufReader::new(stdout);
    let mut buffer = Vec::new();
    let (mut lines, mut unreadable) = (Vec::new(), Vec::new());
    while reader.read_until(b'\n', &mut buffer).await? > 0 {
        let text = String::from_utf8_lossy(&buffer);
        let text = text.trim_end_matches(['\n', '\r']);
        if text.starts_with("JUDGE\t") {
            match parse(text) {
                Some(line) => lines.push(line),
                None => unreadable.push(cut(text, 200)),
            }
        }
        buffer.clear();
    }
    Ok((lines, unreadable))
}

/// The last lines of a stream.
async fn tail(stream: impl AsyncRead + Unpin) -> std::io::Result<VecDeque<String>> {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    let mut last = VecDeque::with_capacity(STDERR_LINES + 1);
    while reader.read_until(b'\n', &mut buffer).await? > 0 {
        let text = String::from_utf8_lossy(&buffer).trim_end().to_string();
        if !text.is_empty() {
            last.push_back(cut(&text, 400));
            if last.len() > STDERR_LINES {
                last.pop_front();
            }
        }
        buffer.clear();
    }
    Ok(last)
}

fn parse(text: &str) -> Option<Line> {
    let mut fields = text.splitn(5, '\t');
    let (_, check, subject, verdict, details) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let verdict = match verdict {
        "ok" => Verdict::Ok,
        "fail" => Verdict::Fail,
        "skip" => Verdict::Skip,
        _ => return None,
    };
    let Value::Object(details) = serde_json::from_str(details).ok()? else {
        return None;
    };
    Some(Line {
        check: check.to_string(),
        subject: subject.to_string(),
        verdict,
        details,
    })
}

/// The `start` line must speak this protocol and come from Odoo 19.
fn check_start(outcome: &Outcome, odoo_bin: &Path) -> Result<()> {
    let Some(start) = outcome.lines.iter().find(|l| l.check == "start") else {
        return Ok(());
    };
    let protocol = start.details.get("protocol").and_then(Value::as_i64);
    if protocol != Some(PROTOCOL) {
        return Err(refuse(
            Status::Failure,
            format!(
                "the judge speaks protocol {}, this odoo-migrate reads protocol {PROTOCOL}",
                protocol.map_or("(none)".to_string(), |p| p.to_string())
            ),
        ));
    }
    let version = text_of(start.details.get("odoo"));
    if major(&version) != ODOO_MAJOR {
        return Err(refuse(
            Status::Usage,
            format!(
                "{} ran the judge as Odoo {version}; the judge needs Odoo {ODOO_MAJOR}",
                odoo_bin.display()
            ),
        ));
    }
    Ok(())
}

/// `odoo-judge`: how the run went (complete, rolled back, or cut short and why); and the failed
/// `odoo-registry` when Odoo printed nothing, with the end of what it said on standard error.
fn run_results(outcome: &Outcome, database: &str, timeout: Duration) -> Vec<CheckResult> {
    let exit = match outcome.exit {
        None => format!("stopped after {}s (--odoo-timeout)", timeout.as_secs()),
        Some(status) => format!("odoo-bin {status}"),
    };
    let stderr = last_lines(outcome.stderr.clone(), STDERR_LINES);
    if outcome.lines.is_empty() {
        return vec![CheckResult {
            check: "odoo-registry",
            subject: database.to_string(),
            passed: false,
            source_value: String::new(),
            target_value: "not loaded".to_string(),
            detail: format!(
                "Odoo 19 did not load the registry of {database} and judged nothing ({exit}); \
                 Odoo's last lines: {stderr}"
            ),
        }];
    }
    let done = outcome.lines.iter().find(|l| l.check == "done");
    let mut problems = Vec::new();
    if outcome.exit.is_none_or(|status| !status.success()) {
        problems.push(exit);
    }
    if done.is_none()
        && let Some(last) = outcome.lines.last()
    {
        problems.push(format!(
            "cut short after its result {} {}: later checks have no result",
            last.check, last.subject
        ));
    }
    if let Some(first) = outcome.unreadable.first() {
        problems.push(format!(
            "{} unreadable line(s), the first: {first}",
            outcome.unreadable.len()
        ));
    }
    if !problems.is_empty() {
        problems.push(format!("Odoo's last lines: {stderr}"));
    }
    let mut results = vec![CheckResult {
        check: "odoo-judge",
        subject: database.to_string(),
        passed: problems.is_empty(),
        source_value: String::new(),
        target_value: done.map_or("incomplete".to_string(), |d| {
            format!(
                "{} ok, {} failed, {} skipped",
                number(&d.details, "ok"),
                number(&d.details, "failed"),
                number(&d.details, "skipped")
            )
        }),
        detail: if problems.is_empty() {
            run_summary(outcome)
        } else {
            problems.join("; ")
        },
    }];
    let registry_judged = outcome
        .lines
        .iter()
        .any(|l| l.check == "registry" || (l.check == "phase" && l.subject == "registry"));
    if !registry_judged {
        results.push(CheckResult {
            check: "odoo-registry",
            subject: database.to_string(),
            passed: false,
            source_value: String::new(),
            target_value: "no result".to_string(),
            detail: "the judge printed no registry result; see odoo-judge".to_string(),
        });
    }
    results
}

/// What a complete run did: Odoo's version, its scope, time, and the numbering it put back.
fn run_summary(outcome: &Outcome) -> String {
    let find = |check: &str| outcome.lines.iter().find(|l| l.check == check);
    let version = find("start").map_or(String::new(), |s| text_of(s.details.get("odoo")));
    let scope = match find("scope").map(|s| &s.details) {
        Some(scope) if scope.get("id_map") == Some(&Value::Bool(true)) => format!(
            "the migrated records of {} models (odoo_migrate.id_map)",
            number(scope, "models")
        ),
        _ => "every record (no odoo_migrate.id_map)".to_string(),
    };
    let restored = find("cleanup").map_or(String::new(), |c| text_of(c.details.get("restored")));
    format!(
        "Odoo {version} judged {scope} in {:.0}s, in a transaction rolled back; numbering \
         sequences put back after its actions: {restored}",
        outcome.seconds
    )
}

/// The check a kind of the judge's results is recorded under.
fn check_of(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "registry" => "odoo-registry",
        "read" | "model" => "odoo-read",
        "compute" => "odoo-recompute",
        "constraint" | "constraints" => "odoo-constraints",
        "analytic" => "odoo-analytic",
        "trial_balance" => "odoo-trial-balance",
        "action" | "actions" => "odoo-actions",
        _ => return None,
    })
}

/// One judged subject as a result; None for the lines that are bookkeeping (start, scope,
/// summaries, cleanup, done) and for the trial balance, compared with the source apart.
fn line_result(line: &Line) -> Option<CheckResult> {
    let (check, subject) = match line.check.as_str() {
        "start" | "scope" | "summary" | "cleanup" | "done" | "trial_balance" => return None,
        "phase" => (
            check_of(&line.subject).unwrap_or("odoo-judge"),
            format!("{} (the whole check broke)", line.subject),
        ),
        kind => match check_of(kind) {
            Some(check) => (check, line.subject.clone()),
            None if line.verdict == Verdict::Fail => {
                ("odoo-judge", format!("{kind} {}", line.subject))
            }
            None => return None,
        },
    };
    let (target_value, detail) = match line.verdict {
        Verdict::Skip => (
            SKIPPED.to_string(),
            format!("skipped: {}", text_of(line.details.get("reason"))),
        ),
        Verdict::Ok => (ok_value(check, &line.details), String::new()),
        Verdict::Fail => (fail_value(&line.details), fail_detail(&line.details)),
    };
    Some(CheckResult {
        check,
        subject,
        passed: line.verdict != Verdict::Fail,
        source_value: String::new(),
        target_value,
        detail,
    })
}

fn ok_value(check: &str, details: &Map<String, Value>) -> String {
    match check {
        "odoo-registry" => format!(
            "Odoo {}: {} models, {} modules",
            text_of(details.get("odoo")),
            number(details, "models"),
            number(details, "installed_modules")
        ),
        "odoo-read" => format!(
            "{} records, {} fields read",
            number(details, "records"),
            number(details, "fields")
        ),
        "odoo-recompute" => format!("{} records agree", number(details, "total")),
        "odoo-constraints" => format!(
            "{} method(s) hold on {} records",
            number(details, "methods"),
            number(details, "total")
        ),
        _ => "ok".to_string(),
    }
}

fn fail_value(details: &Map<String, Value>) -> String {
    if details.contains_key("differing") {
        format!(
            "{} of {} differ",
            number(details, "differing"),
            number(details, "total")
        )
    } else if details.contains_key("failing") {
        format!(
            "{} of {} fail",
            number(details, "failing"),
            number(details, "total")
        )
    } else {
        "failed".to_string()
    }
}

/// A failure in words: a recomputed value's example, else the error and every other detail.
fn fail_detail(details: &Map<String, Value>) -> String {
    if details.contains_key("differing") {
        return format!(
            "id {}: stored {}, Odoo 19 computes {}; other differing ids: {}",
            number(details, "example_id"),
            json_of(details.get("stored")),
            json_of(details.get("computed")),
            json_of(details.get("more_ids"))
        );
    }
    let mut parts = Vec::new();
    if let Some(error) = details.get("error") {
        parts.push(one_line(&text_of(Some(error))));
    }
    for (key, value) in details {
        match key.as_str() {
            // the traceback reaches us cut (the judge shortens long strings): the error says it
            "error" | "seconds" | "traceback" => {}
            // the subject names them already
            "model" | "method" | "field" if value.is_string() => {}
            _ => parts.push(format!("{key}: {}", cut(&json_of(Some(value)), 300))),
        }
    }
    cut(&parts.join("; "), 2000)
}

/// A stored field (or a constraint method) that the rules say cannot be known on some records
/// (`unknowable`): the Odoo 19 model and field, the target table, the records (`filter` over
/// `t`), why, and the rule.
#[derive(Debug, Clone)]
pub struct Known {
    pub model: String,
    pub field: String,
    pub table: String,
    pub filter: String,
    pub reason: String,
    pub rule: String,
}

/// Each failed recompute of a field (or constraint method) in `known` whose differing (failing)
/// records are all listed and all within the rule's filter passes as known, with the rule's
/// reason; one record outside keeps it failed, saying how many are outside.
async fn settle_known(
    target: &Client,
    known: &[Known],
    lines: &[Line],
    results: &mut [CheckResult],
) -> Result<()> {
    for line in lines {
        let (check, count_key) = match line.check.as_str() {
            "compute" => ("odoo-recompute", "differing"),
            "constraint" => ("odoo-constraints", "failing"),
            _ => continue,
        };
        if line.verdict != Verdict::Fail {
            continue;
        }
        let Some(known) = known
            .iter()
            .find(|k| format!("{}.{}", k.model, k.field) == line.subject)
        else {
            continue;
        };
        let Some(differing) = line.details.get(count_key).and_then(Value::as_i64) else {
            continue;
        };
        let mut listed = ids(&line.details, "more_ids");
        listed.extend(
            line.details
                .get("example_id")
                .and_then(Value::as_i64)
                .and_then(|id| i32::try_from(id).ok()),
        );
        listed.sort_unstable();
        listed.dedup();
        let outside: i64 = target
            .query_one(
                &format!(
                    "SELECT count(*) FROM unnest($1::int[]) i(id) WHERE NOT EXISTS \
                     (SELECT 1 FROM public.{} t WHERE t.id = i.id AND ({}))",
                    crate::catalog::quote_ident(&known.table),
                    known.filter
                ),
                &[&listed],
            )
            .await
            .with_context(|| {
                format!(
                    "the filter of {} cannot be read on {}: {}",
                    known.rule, known.table, known.filter
                )
            })?
            .get(0);
        let Some(result) = results
            .iter_mut()
            .find(|r| r.check == check && r.subject == line.subject)
        else {
            continue;
        };
        if outside == 0 && listed.len() as i64 == differing {
            result.passed = true;
            result.target_value = format!("{} (unknowable)", result.target_value);
            result.detail = format!(
                "known: {} ({}); {}",
                known.reason, known.rule, result.detail
            );
        } else {
            result.detail = format!(
                "{} of the {} listed differing ids lie outside what {} calls unknowable; {}",
                outside,
                listed.len(),
                known.rule,
                result.detail
            );
        }
    }
    Ok(())
}

/// The trial balance was judged to its end: the judge was asked for it (a `JUDGE_CHECKS` of the
/// user's may leave it out), finished, and that check did not break.
fn trial_balance_complete(outcome: &Outcome) -> bool {
    let asked = outcome.lines.iter().any(|l| {
        l.check == "start"
            && l.details
                .get("checks")
                .and_then(Value::as_array)
                .is_some_and(|checks| checks.iter().any(|c| c == "trial_balance"))
    });
    asked
        && outcome.lines.iter().any(|l| l.check == "done")
        && !outcome
            .lines
            .iter()
            .any(|l| l.check == "phase" && l.subject == "trial_balance")
}

/// `odoo-trial-balance`: each company and account of the judge's trial balance against the
/// source's posted items of the companies and accounts mapped to it; source amounts that no line
/// of the judge accounts for are differences too.
async fn trial_balance(source: &Client, lines: &[Line]) -> Result<Vec<CheckResult>> {
    let mut remaining: SourceBalance = source
        .query(SOURCE_TRIAL_BALANCE, &[])
        .await
        .context("cannot read the source's trial balance per company and account")?
        .iter()
        .map(|row| {
            let amounts = Amounts {
                debit: row.get(3),
                credit: row.get(4),
                balance: row.get(5),
                lines: row.get(6),
            };
            ((row.get(0), row.get(1)), (row.get(2), amounts))
        })
        .collect();
    let mut results: Vec<CheckResult> = lines
        .iter()
        .filter(|l| l.check == "trial_balance")
        .map(|line| compare_account(line, &mut remaining))
        .collect();
    for ((company, account), (code, amounts)) in remaining {
        if amounts.is_zero() {
            continue;
        }
        let account = account.map_or("no account".to_string(), |a| format!("account {a}"));
        results.push(CheckResult {
            check: "odoo-trial-balance",
            subject: format!(
                "source company {company}, {account} {}",
                code.unwrap_or_default()
            ),
            passed: false,
            source_value: amounts.to_string(),
            target_value: "missing".to_string(),
            detail: "posted in the source; Odoo 19's trial balance has no line of the company \
                     and account mapped from it"
                .to_string(),
        });
    }
    Ok(results)
}

fn compare_account(line: &Line, remaining: &mut SourceBalance) -> CheckResult {
    let details = &line.details;
    let companies = ids(details, "source_company_ids");
    let accounts: Vec<Option<i32>> = if details.get("account_id").is_some_and(Value::is_i64) {
        ids(details, "source_account_ids")
            .into_iter()
            .map(Some)
            .collect()
    } else {
        vec![None]
    };
    let mut source = Amounts::default();
    let mut found = 0;
    for company in &companies {
        for account in &accounts {
            if let Some((_, amounts)) = remaining.remove(&(*company, *account)) {
                source.add(amounts);
                found += 1;
            }
        }
    }
    let target = Amounts {
        debit: cents(details.get("debit")),
        credit: cents(details.get("credit")),
        balance: cents(details.get("balance")),
        lines: details.get("lines").and_then(Value::as_i64).unwrap_or(0),
    };
    let same = (source.debit, source.credit, source.balance)
        == (target.debit, target.credit, target.balance);
    let mapped = format!("source companies {companies:?}, accounts {accounts:?}");
    let detail = match (same, found) {
        (true, _) => String::new(),
        (false, 0) if companies.is_empty() => {
            "the company is not in odoo_migrate.id_map: no source amounts to compare".to_string()
        }
        (false, 0) => format!("no posted item in the source for {mapped}"),
        (false, _) => format!("Odoo 19 reads other amounts than the source's for {mapped}"),
    };
    let subject = match details.get("code") {
        Some(Value::String(code)) => format!("{} {code}", line.subject),
        _ => line.subject.clone(),
    };
    CheckResult {
        check: "odoo-trial-balance",
        subject,
        passed: same,
        source_value: source.to_string(),
        target_value: target.to_string(),
        detail,
    }
}

impl Amounts {
    fn add(&mut self, other: Amounts) {
        self.debit += other.debit;
        self.credit += other.credit;
        self.balance += other.balance;
        self.lines += other.lines;
    }

    fn is_zero(&self) -> bool {
        self.debit == 0 && self.credit == 0 && self.balance == 0
    }
}

impl std::fmt::Display for Amounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let money = |cents: i64| {
            let sign = if cents < 0 { "-" } else { "" };
            format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
        };
        write!(
            f,
            "debit {}, credit {}, balance {} ({} items)",
            money(self.debit),
            money(self.credit),
            money(self.balance),
            self.lines
        )
    }
}

fn cents(value: Option<&Value>) -> i64 {
    value
        .and_then(Value::as_f64)
        .map_or(0, |amount| (amount * 100.0).round() as i64)
}

fn ids(details: &Map<String, Value>, key: &str) -> Vec<i32> {
    details
        .get(key)
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter_map(Value::as_i64)
                .filter_map(|id| i32::try_from(id).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn number(details: &Map<String, Value>, key: &str) -> String {
    details
        .get(key)
        .map_or("?".to_string(), |value| json_of(Some(value)))
}

/// A detail as text: strings as they are, anything else as compact JSON.
fn text_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        other => json_of(other),
    }
}

fn json_of(value: Option<&Value>) -> String {
    value.map_or("null".to_string(), Value::to_string)
}

fn last_lines(lines: Vec<String>, count: usize) -> String {
    let skip = lines.len().saturating_sub(count);
    let kept: Vec<String> = lines.into_iter().skip(skip).collect();
    if kept.is_empty() {
        "(none)".to_string()
    } else {
        kept.join(" | ")
    }
}

/// Text on one line: its lines joined by ` | `, blank ones left out.
fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines.join(" | ")
}

fn cut(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Line {
        parse(text).expect("a judge line")
    }

    #[test]
    fn a_differing_compute_names_the_counts_and_an_example() {
        let result = line_result(&line(
            "JUDGE\tcompute\tstock.move.is_in\tfail\t{\"computed\": true, \"differing\": 2, \
             \"example_id\": 7, \"field\": \"is_in\", \"model\": \"stock.move\", \"more_ids\": [9], \
             \"stored\": false, \"total\": 74, \"type\": \"boolean\"}",
        ))
        .expect("a result");
        assert_eq!(result.check, "odoo-recompute");
        assert_eq!(result.subject, "stock.move.is_in");
        assert!(!result.passed);
        assert_eq!(result.target_value, "2 of 74 differ");
        assert_eq!(
            result.detail,
            "id 7: stored false, Odoo 19 computes true; other differing ids: [9]"
        );
    }

    #[test]
    fn skips_pass_as_skipped_and_bookkeeping_is_no_result() {
        let skip = line_result(&line(
            "JUDGE\taction\tpost_invoice\tskip\t{\"reason\": \"no migrated posted customer invoice\"}",
        ))
        .expect("a result");
        assert!(skip.passed);
        assert_eq!(skip.target_value, SKIPPED);
        assert!(line_result(&line("JUDGE\tsummary\tread\tfail\t{}")).is_none());
        assert!(parse("JUDGE\tread\tx\tmaybe\t{}").is_none());
        assert!(parse("JUDGE\tread\tx\tok\tnot json").is_none());
    }

    #[test]
    fn the_trial_balance_is_compared_only_when_the_judge_was_asked_for_it_and_finished() {
        let outcome = |texts: &[&str]| Outcome {
            lines: texts.iter().map(|t| line(t)).collect(),
            unreadable: Vec::new(),
            exit: None,
            stderr: Vec::new(),
            seconds: 0.0,
        };
        let all = "JUDGE\tstart\tdb\tok\t{\"checks\": [\"registry\", \"trial_balance\"]}";
        let without = "JUDGE\tstart\tdb\tok\t{\"checks\": [\"registry\", \"compute\"]}";
        let done = "JUDGE\tdone\tdb\tok\t{}";
        let broke = "JUDGE\tphase\ttrial_balance\tfail\t{\"error\": \"E\"}";
        assert!(trial_balance_complete(&outcome(&[all, done])));
        assert!(!trial_balance_complete(&outcome(&[without, done])));
        assert!(!trial_balance_complete(&outcome(&[all])));
        assert!(!trial_balance_complete(&outcome(&[all, broke, done])));
    }

    #[test]
    fn a_trial_balance_line_takes_the_amounts_of_its_source_accounts() {
        let mut remaining = BTreeMap::new();
        let amounts = |debit, credit| Amounts {
            debit,
            credit,
            balance: debit - credit,
            lines: 1,
        };
        remaining.insert(
            (1, Some(10)),
            (Some("400000".to_string()), amounts(1000, 0)),
        );
        remaining.insert((1, Some(11)), (Some("400000".to_string()), amounts(50, 0)));
        let judged = line(
            "JUDGE\ttrial_balance\t1/20\tok\t{\"account_id\": 20, \"balance\": 10.5, \"code\": \
             \"400000\", \"company_id\": 1, \"credit\": 0.0, \"debit\": 10.5, \"lines\": 2, \
             \"source_account_ids\": [10, 11], \"source_company_ids\": [1]}",
        );
        let result = compare_account(&judged, &mut remaining);
        assert!(result.passed, "{result:?}");
        assert_eq!(result.subject, "1/20 400000");
        assert!(remaining.is_empty());
        remaining.insert((1, Some(10)), (None, amounts(1000, 0)));
        assert!(!compare_account(&judged, &mut remaining).passed);
    }
}
