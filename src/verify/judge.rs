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
    let mut found = false;
    for company in &companies {
        for account in &accounts {
            if let Some((_, amounts)) = remaining.remove(&(*company, *account)) {
                source.add(amounts);
                found = true;
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
        (false, false) if companies.is_empty() => {
            "the company is not in odoo_migrate.id_map: no source amounts to compare".to_string()
        }
        (false, false) => format!("no posted item in the source for {mapped}"),
        (false, true) => format!("Odoo 19 reads other amounts than the source's for {mapped}"),
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

    /// What a run printed: `texts` on standard output, ended with exit status `code` (None: the
    /// judge was stopped at its timeout).
    fn outcome(texts: &[&str], code: Option<i32>) -> Outcome {
        use std::os::unix::process::ExitStatusExt;
        Outcome {
            lines: texts.iter().map(|t| line(t)).collect(),
            unreadable: Vec::new(),
            exit: code.map(|code| ExitStatus::from_raw(code << 8)),
            stderr: Vec::new(),
            seconds: 12.4,
        }
    }

    /// A judge whose odoo-bin is the shell script `body`, run by `sh`: a stand-in for an
    /// installation that answers what the test needs (another version, an exit status, lines).
    fn stand_in(name: &str, body: &str) -> Judge {
        let dir = std::env::temp_dir().join(format!("om-judge-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("make the stand-ins' directory");
        let odoo_bin = dir.join(name);
        std::fs::write(&odoo_bin, body).expect("write a stand-in odoo-bin");
        Judge {
            python: PathBuf::from("sh"),
            odoo_bin,
            conf: None,
            timeout: Duration::from_secs(60),
            version: tokio::sync::OnceCell::new(),
        }
    }

    /// The message and exit status of a refusal.
    fn refusal<T: std::fmt::Debug>(result: Result<T>) -> (String, Status) {
        let error = result.expect_err("a refusal");
        (error.to_string(), crate::io::exit::status_of(&error))
    }

    #[tokio::test]
    async fn the_judges_lines_are_read_from_its_output_and_the_rest_left_out() {
        let long = format!("JUDGE\tread\t{}\tmaybe\t{{}}", "x".repeat(300));
        let printed = format!(
            "Odoo's own line\nJUDGE\tstart\tdb\tok\t{{\"protocol\": 1}}\r\n\
             JUDGE\tread\tx\tmaybe\t{{}}\nJUDGE \tnot one\n{long}\nJUDGE\tdone\tdb\tok\t{{}}"
        );
        let (lines, unreadable) = judge_lines(printed.as_bytes()).await.expect("read");
        let read: Vec<(&str, &str, Verdict)> = lines
            .iter()
            .map(|l| (l.check.as_str(), l.subject.as_str(), l.verdict))
            .collect();
        assert_eq!(
            read,
            [("start", "db", Verdict::Ok), ("done", "db", Verdict::Ok)]
        );
        assert_eq!(lines[0].details.get("protocol"), Some(&Value::from(1)));
        assert_eq!(
            unreadable,
            [
                "JUDGE\tread\tx\tmaybe\t{}".to_string(),
                format!("{}…", &long[..200])
            ]
        );
        let (lines, unreadable) = judge_lines(&b""[..]).await.expect("read");
        assert!(lines.is_empty() && unreadable.is_empty());
    }

    #[tokio::test]
    async fn the_tail_keeps_the_last_twelve_lines_that_say_something() {
        let mut printed = String::new();
        for n in 1..=14 {
            printed.push_str(&format!("line {n}  \n   \n\n"));
        }
        printed.push_str(&"y".repeat(500));
        let last = tail(printed.as_bytes()).await.expect("read");
        let mut expected: Vec<String> = (4..=14).map(|n| format!("line {n}")).collect();
        expected.push(format!("{}…", "y".repeat(400)));
        assert_eq!(Vec::from(last), expected);
        let last = tail(&b"one\n\ntwo\n"[..]).await.expect("read");
        assert_eq!(Vec::from(last), ["one", "two"]);
        assert!(tail(&b""[..]).await.expect("read").is_empty());
    }

    #[test]
    fn the_start_line_must_speak_protocol_1_and_come_from_odoo_19() {
        let bin = Path::new("/opt/odoo/odoo-bin");
        let registry = "JUDGE\tregistry\tdb\tok\t{}";
        let start = |details: &str| format!("JUDGE\tstart\tdb\tok\t{details}");
        let good = start("{\"protocol\": 1, \"odoo\": \"19.0+e\"}");
        assert!(check_start(&outcome(&[&good, registry], Some(0)), bin).is_ok());
        assert!(check_start(&outcome(&[registry], Some(0)), bin).is_ok());
        assert!(check_start(&outcome(&[], None), bin).is_ok());
        let newer = start("{\"protocol\": 2, \"odoo\": \"19.0\"}");
        assert_eq!(
            refusal(check_start(&outcome(&[registry, &newer], Some(0)), bin)),
            (
                "the judge speaks protocol 2, this odoo-migrate reads protocol 1".to_string(),
                Status::Failure
            )
        );
        let none = start("{\"odoo\": \"19.0\"}");
        assert_eq!(
            refusal(check_start(&outcome(&[&none], Some(0)), bin)).0,
            "the judge speaks protocol (none), this odoo-migrate reads protocol 1"
        );
        let older = start("{\"protocol\": 1, \"odoo\": \"17.0\"}");
        assert_eq!(
            refusal(check_start(&outcome(&[&older], Some(0)), bin)),
            (
                "/opt/odoo/odoo-bin ran the judge as Odoo 17.0; the judge needs Odoo 19"
                    .to_string(),
                Status::Usage
            )
        );
    }

    #[test]
    fn a_complete_run_passes_with_its_counts_and_summary() {
        let run = outcome(
            &[
                "JUDGE\tstart\tdb\tok\t{\"protocol\": 1, \"odoo\": \"19.0\"}",
                "JUDGE\tscope\tdb\tok\t{\"id_map\": true, \"models\": 42}",
                "JUDGE\tregistry\tdb\tok\t{}",
                "JUDGE\tcleanup\tdb\tok\t{\"restored\": [\"sale.order\"]}",
                "JUDGE\tdone\tdb\tok\t{\"ok\": 3, \"failed\": 1, \"skipped\": 0}",
            ],
            Some(0),
        );
        let results = run_results(&run, "target_db", Duration::from_secs(90));
        assert_eq!(
            results,
            [CheckResult {
                check: "odoo-judge",
                subject: "target_db".to_string(),
                passed: true,
                source_value: String::new(),
                target_value: "3 ok, 1 failed, 0 skipped".to_string(),
                detail: "Odoo 19.0 judged the migrated records of 42 models \
                         (odoo_migrate.id_map) in 12s, in a transaction rolled back; numbering \
                         sequences put back after its actions: [\"sale.order\"]"
                    .to_string(),
            }]
        );
    }

    #[test]
    fn a_run_cut_short_says_where_and_that_the_registry_has_no_result() {
        let mut run = outcome(
            &[
                "JUDGE\tstart\tdb\tok\t{\"protocol\": 1, \"odoo\": \"19.0\"}",
                "JUDGE\tphase\tread\tfail\t{\"error\": \"E\"}",
            ],
            None,
        );
        run.unreadable = vec!["JUDGE\tbad".to_string(), "JUDGE\tworse".to_string()];
        run.stderr = vec!["a".to_string(), "b".to_string()];
        let results = run_results(&run, "target_db", Duration::from_secs(90));
        assert_eq!(
            results,
            [
                CheckResult {
                    check: "odoo-judge",
                    subject: "target_db".to_string(),
                    passed: false,
                    source_value: String::new(),
                    target_value: "incomplete".to_string(),
                    detail: "stopped after 90s (--odoo-timeout); cut short after its result \
                             phase read: later checks have no result; 2 unreadable line(s), the \
                             first: JUDGE\tbad; Odoo's last lines: a | b"
                        .to_string(),
                },
                CheckResult {
                    check: "odoo-registry",
                    subject: "target_db".to_string(),
                    passed: false,
                    source_value: String::new(),
                    target_value: "no result".to_string(),
                    detail: "the judge printed no registry result; see odoo-judge".to_string(),
                }
            ]
        );
    }

    #[test]
    fn a_failing_exit_fails_a_finished_run_and_a_broken_registry_is_its_result() {
        let mut run = outcome(
            &[
                "JUDGE\tstart\tdb\tok\t{\"protocol\": 1, \"odoo\": \"19.0\"}",
                "JUDGE\tphase\tregistry\tfail\t{\"error\": \"E\"}",
                "JUDGE\tdone\tdb\tok\t{\"ok\": 0, \"failed\": 1}",
            ],
            Some(1),
        );
        run.stderr = vec!["boom".to_string()];
        let results = run_results(&run, "target_db", Duration::from_secs(90));
        assert_eq!(results.len(), 1, "{results:?}");
        assert!(!results[0].passed);
        assert_eq!(results[0].target_value, "0 ok, 1 failed, ? skipped");
        assert_eq!(
            results[0].detail,
            "odoo-bin exit status: 1; Odoo's last lines: boom"
        );
    }

    #[test]
    fn a_run_that_printed_nothing_did_not_load_the_registry() {
        let results = run_results(&outcome(&[], Some(1)), "target_db", Duration::from_secs(90));
        assert_eq!(
            results,
            [CheckResult {
                check: "odoo-registry",
                subject: "target_db".to_string(),
                passed: false,
                source_value: String::new(),
                target_value: "not loaded".to_string(),
                detail: "Odoo 19 did not load the registry of target_db and judged nothing \
                         (odoo-bin exit status: 1); Odoo's last lines: (none)"
                    .to_string(),
            }]
        );
        let mut stopped = outcome(&[], None);
        stopped.stderr = (1..=14).map(|n| format!("l{n}")).collect();
        assert_eq!(
            run_results(&stopped, "target_db", Duration::from_secs(5))[0].detail,
            "Odoo 19 did not load the registry of target_db and judged nothing (stopped after \
             5s (--odoo-timeout)); Odoo's last lines: l3 | l4 | l5 | l6 | l7 | l8 | l9 | l10 | \
             l11 | l12 | l13 | l14"
        );
    }

    #[test]
    fn the_summary_names_the_scope_the_judge_had() {
        let whole = outcome(
            &[
                "JUDGE\tstart\tdb\tok\t{\"protocol\": 1, \"odoo\": \"19.0\"}",
                "JUDGE\tscope\tdb\tok\t{\"id_map\": false, \"models\": 42}",
                "JUDGE\tcleanup\tdb\tok\t{\"restored\": \"nothing\"}",
            ],
            Some(0),
        );
        assert_eq!(
            run_summary(&whole),
            "Odoo 19.0 judged every record (no odoo_migrate.id_map) in 12s, in a transaction \
             rolled back; numbering sequences put back after its actions: nothing"
        );
        assert_eq!(
            run_summary(&outcome(&[], Some(0))),
            "Odoo  judged every record (no odoo_migrate.id_map) in 12s, in a transaction rolled \
             back; numbering sequences put back after its actions: "
        );
    }

    #[test]
    fn each_kind_of_result_has_its_check() {
        let kinds = [
            ("registry", Some("odoo-registry")),
            ("read", Some("odoo-read")),
            ("model", Some("odoo-read")),
            ("compute", Some("odoo-recompute")),
            ("constraint", Some("odoo-constraints")),
            ("constraints", Some("odoo-constraints")),
            ("analytic", Some("odoo-analytic")),
            ("trial_balance", Some("odoo-trial-balance")),
            ("action", Some("odoo-actions")),
            ("actions", Some("odoo-actions")),
            ("start", None),
            ("", None),
        ];
        for (kind, check) in kinds {
            assert_eq!(check_of(kind), check, "{kind}");
        }
    }

    #[test]
    fn each_line_has_its_verdict() {
        let result = |text: &str| {
            line_result(&line(text)).map(|r| (r.check, r.subject, r.passed, r.target_value))
        };
        for bookkeeping in [
            "start",
            "scope",
            "summary",
            "cleanup",
            "done",
            "trial_balance",
        ] {
            assert_eq!(
                result(&format!("JUDGE\t{bookkeeping}\tdb\tok\t{{}}")),
                None,
                "{bookkeeping}"
            );
        }
        assert_eq!(result("JUDGE\tnews\tx\tok\t{}"), None);
        assert_eq!(result("JUDGE\tnews\tx\tskip\t{}"), None);
        assert_eq!(
            result("JUDGE\tnews\tx\tfail\t{}"),
            Some((
                "odoo-judge",
                "news x".to_string(),
                false,
                "failed".to_string()
            ))
        );
        assert_eq!(
            result("JUDGE\tphase\tcompute\tfail\t{\"failing\": 2, \"total\": 9}"),
            Some((
                "odoo-recompute",
                "compute (the whole check broke)".to_string(),
                false,
                "2 of 9 fail".to_string()
            ))
        );
        assert_eq!(
            result("JUDGE\tphase\tsetup\tfail\t{}"),
            Some((
                "odoo-judge",
                "setup (the whole check broke)".to_string(),
                false,
                "failed".to_string()
            ))
        );
        let skipped = line_result(&line("JUDGE\tanalytic\tx\tskip\t{\"reason\": \"none\"}"))
            .expect("a result");
        assert_eq!(
            (skipped.passed, skipped.detail.as_str()),
            (true, "skipped: none")
        );
        let ok = line_result(&line("JUDGE\tanalytic\tx\tok\t{}")).expect("a result");
        assert_eq!((ok.passed, ok.detail.as_str()), (true, ""));
    }

    #[test]
    fn a_passed_check_says_what_it_judged() {
        let details = |text: &str| line(&format!("JUDGE\tk\ts\tok\t{text}")).details;
        let all = details(
            "{\"odoo\": \"19.0\", \"models\": 812, \"installed_modules\": 120, \"records\": 5, \
             \"fields\": 30, \"total\": 74, \"methods\": 3}",
        );
        let values = [
            ("odoo-registry", "Odoo 19.0: 812 models, 120 modules"),
            ("odoo-read", "5 records, 30 fields read"),
            ("odoo-recompute", "74 records agree"),
            ("odoo-constraints", "3 method(s) hold on 74 records"),
            ("odoo-analytic", "ok"),
            ("odoo-actions", "ok"),
        ];
        for (check, value) in values {
            assert_eq!(ok_value(check, &all), value, "{check}");
        }
        assert_eq!(
            ok_value("odoo-registry", &details("{}")),
            "Odoo null: ? models, ? modules"
        );
    }

    #[test]
    fn a_failure_says_its_error_and_every_other_detail() {
        let details = line(
            "JUDGE\tconstraint\tres.partner._check\tfail\t{\"error\": \"ValidationError:\\n\\n  \
             bad \\n\", \"failing\": 1, \"field\": \"name\", \"method\": \"_check\", \"model\": \
             \"res.partner\", \"seconds\": 2.5, \"total\": 3, \"traceback\": \"...\", \"ids\": [4]}",
        )
        .details;
        assert_eq!(fail_value(&details), "1 of 3 fail");
        assert_eq!(
            fail_detail(&details),
            "ValidationError: |   bad; failing: 1; ids: [4]; total: 3"
        );
        let other = line("JUDGE\tread\tx\tfail\t{\"model\": 7, \"note\": \"n\"}").details;
        assert_eq!(fail_value(&other), "failed");
        assert_eq!(fail_detail(&other), "model: 7; note: \"n\"");
    }

    #[test]
    fn the_major_version_is_what_comes_before_the_first_separator() {
        for (version, expected) in [
            ("19.0", "19"),
            ("19.0-20250101", "19"),
            ("19+e", "19"),
            ("19", "19"),
            ("", ""),
        ] {
            assert_eq!(major(version), expected, "{version}");
        }
    }

    #[test]
    fn a_path_given_must_be_a_file() {
        let dir = std::env::temp_dir().join(format!("om-judge-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("make a directory");
        let file = dir.join("odoo.conf");
        std::fs::write(&file, "[options]\n").expect("write a file");
        assert_eq!(existing_file("--odoo-conf", &file).expect("a file"), file);
        assert_eq!(
            refusal(existing_file("--odoo-conf", &dir)),
            (
                format!("--odoo-conf {}: is not a file", dir.display()),
                Status::Usage
            )
        );
        assert_eq!(
            refusal(existing_file("--odoo-bin", Path::new("/nowhere/odoo-bin"))).0,
            "--odoo-bin /nowhere/odoo-bin: does not exist"
        );
    }

    #[tokio::test]
    async fn an_odoo_19_is_taken_at_its_version_and_asked_once() {
        let judge = stand_in(
            "odoo-bin-19",
            "[ \"$1\" = --version ] && echo 'Odoo Server 19.0-20251201' && exit 0\nexit 9\n",
        );
        assert_eq!(judge.version().await.expect("Odoo 19"), "19.0-20251201");
        std::fs::write(&judge.odoo_bin, "exit 9\n").expect("break the stand-in");
        assert_eq!(judge.version().await.expect("asked once"), "19.0-20251201");
    }

    #[tokio::test]
    async fn the_installed_odoo_19_says_it_is_one() {
        let Some(dir) = std::env::var_os("ODOO_MIGRATE_ODOO19").filter(|d| !d.is_empty()) else {
            println!("ODOO_MIGRATE_ODOO19 is not set: the real odoo-bin is not asked its version");
            return;
        };
        let dir = PathBuf::from(dir);
        let judge = Judge {
            python: dir.join("venv/bin/python"),
            odoo_bin: dir.join("src/odoo-bin"),
            conf: None,
            timeout: Duration::from_secs(60),
            version: tokio::sync::OnceCell::new(),
        };
        let version = judge.version().await.expect("Odoo 19");
        assert!(version.starts_with("19.0"), "{version}");
    }

    #[tokio::test]
    async fn anything_but_an_odoo_19_that_exits_well_is_refused() {
        let older = stand_in("odoo-bin-17", "echo 'Odoo Server 17.0'\n");
        assert_eq!(
            refusal(older.version().await),
            (
                format!(
                    "{} is Odoo 17.0; the judge needs Odoo 19: give --odoo-bin of the Odoo 19 \
                     installation that serves the target",
                    older.odoo_bin.display()
                ),
                Status::Usage
            )
        );
        let failing = stand_in("odoo-bin-failing", "echo 'Odoo Server 19.0'\nexit 1\n");
        assert_eq!(
            refusal(failing.version().await).0,
            format!(
                "{} is Odoo 19.0; the judge needs Odoo 19: give --odoo-bin of the Odoo 19 \
                 installation that serves the target",
                failing.odoo_bin.display()
            )
        );
        let silent = stand_in(
            "odoo-bin-silent",
            "echo one >&2\necho two >&2\necho 'ImportError: no odoo' >&2\nexit 3\n",
        );
        assert_eq!(
            refusal(silent.version().await),
            (
                format!(
                    "`sh {} --version` printed no Odoo version (exit status: 3): two | \
                     ImportError: no odoo; --odoo-bin must be Odoo 19's odoo-bin and \
                     --odoo-python the Python Odoo is installed in (its virtualenv's bin/python)",
                    silent.odoo_bin.display()
                ),
                Status::Usage
            )
        );
    }

    /// A stand-in odoo-bin: Odoo 19 to `--version`; as `shell`, it reads the judge and prints a
    /// complete run, its registry result named after the JUDGE_EXAMPLES it was given.
    const SHELL: &str = "[ \"$1\" = --version ] && echo 'Odoo Server 19.0' && exit 0\n\
        case \"$(cat)\" in *JUDGE*) ;; *) exit 7 ;; esac\n\
        echo 'an Odoo log line'\necho 'a warning' >&2\n\
        printf 'JUDGE\\tstart\\t%s\\tok\\t{\"protocol\": 1, \"odoo\": \"19.0\", \"checks\": [\"registry\"]}\\n' \"$3\"\n\
        printf 'JUDGE\\tregistry\\texamples=%s\\tok\\t{\"odoo\": \"19.0\", \"models\": 3, \"installed_modules\": 2}\\n' \"${JUDGE_EXAMPLES:-unset}\"\n\
        printf 'JUDGE\\tdone\\t%s\\tok\\t{\"ok\": 1, \"failed\": 0, \"skipped\": 0}\\n' \"$3\"\n";

    fn judged_database() -> Endpoint {
        Endpoint::parse(
            crate::io::connect::Side::Target,
            "postgres://judge@127.0.0.1:5432/judged_db",
        )
        .expect("an endpoint")
    }

    #[tokio::test]
    async fn a_run_feeds_the_judge_and_reads_what_odoo_printed() {
        if std::env::var_os("JUDGE_EXAMPLES").is_some() {
            println!("JUDGE_EXAMPLES is set: the run's own setting of it is not tested");
            return;
        }
        let judge = stand_in("odoo-bin-shell", SHELL);
        let target = judged_database();
        let run = judge.run(&target, false).await.expect("a run");
        let subjects: Vec<&str> = run.lines.iter().map(|l| l.subject.as_str()).collect();
        assert_eq!(subjects, ["judged_db", "examples=unset", "judged_db"]);
        assert!(run.exit.is_some_and(|status| status.success()));
        assert_eq!(run.stderr, ["a warning"]);
        assert!(run.unreadable.is_empty());
        let run = judge.run(&target, true).await.expect("a run");
        assert_eq!(run.lines[1].subject, "examples=1000000");
    }

    #[tokio::test]
    async fn verify_records_the_run_and_each_judged_subject() {
        if std::env::var_os("JUDGE_EXAMPLES").is_some() {
            println!("JUDGE_EXAMPLES is set: the run's own setting of it is not tested");
            return;
        }
        let judge = stand_in("odoo-bin-verify", SHELL);
        let client = crate::test_utils::test_server().await;
        let results = judge
            .verify(&judged_database(), &client, &client, &[])
            .await
            .expect("results");
        let read: Vec<(&str, &str, bool, &str)> = results
            .iter()
            .map(|r| {
                (
                    r.check,
                    r.subject.as_str(),
                    r.passed,
                    r.target_value.as_str(),
                )
            })
            .collect();
        assert_eq!(
            read,
            [
                ("odoo-judge", "judged_db", true, "1 ok, 0 failed, 0 skipped"),
                (
                    "odoo-registry",
                    "examples=unset",
                    true,
                    "Odoo 19.0: 3 models, 2 modules"
                ),
            ]
        );
    }

    #[tokio::test]
    async fn a_difference_passes_as_known_only_when_every_record_is_listed_and_within_the_rule() {
        let client = crate::verify::fixture::migrated().await;
        let (_, table) = crate::verify::fixture::tables();
        let known = |field: &str| Known {
            model: "res.partner".to_string(),
            field: field.to_string(),
            table: table.clone(),
            filter: "t.name <> 'Z'".to_string(),
            reason: format!("{field} typed by hand"),
            rule: "rule 7".to_string(),
        };
        let known = [known("name"), known("_check_name"), known("ref")];
        let lines = [
            line(
                "JUDGE\tcompute\tres.partner.name\tfail\t{\"differing\": 2, \"example_id\": 101, \
                 \"more_ids\": [102], \"total\": 3}",
            ),
            line(
                "JUDGE\tconstraint\tres.partner._check_name\tfail\t{\"failing\": 2, \
                 \"example_id\": 101, \"more_ids\": [103], \"total\": 3}",
            ),
            line(
                "JUDGE\tcompute\tres.partner.ref\tfail\t{\"differing\": 3, \"example_id\": 101, \
                 \"more_ids\": [101, 102], \"total\": 3}",
            ),
            line(
                "JUDGE\tcompute\tres.partner.email\tfail\t{\"differing\": 1, \"example_id\": 101}",
            ),
            line("JUDGE\tread\tres.partner.name\tfail\t{\"differing\": 1, \"example_id\": 103}"),
        ];
        let mut results: Vec<CheckResult> = lines.iter().filter_map(line_result).collect();
        let before = results.clone();
        settle_known(&client, &known, &lines, &mut results)
            .await
            .expect("settled");
        let read: Vec<(bool, &str, &str)> = results
            .iter()
            .map(|r| (r.passed, r.target_value.as_str(), r.detail.as_str()))
            .collect();
        assert_eq!(
            read[..3],
            [
                (
                    true,
                    "2 of 3 differ (unknowable)",
                    "known: name typed by hand (rule 7); id 101: stored null, Odoo 19 computes null; \
                     other differing ids: [102]"
                ),
                (
                    false,
                    "2 of 3 fail",
                    "1 of the 2 listed differing ids lie outside what rule 7 calls unknowable; \
                     example_id: 101; failing: 2; more_ids: [103]; total: 3"
                ),
                (
                    false,
                    "3 of 3 differ",
                    "0 of the 2 listed differing ids lie outside what rule 7 calls unknowable; \
                     id 101: stored null, Odoo 19 computes null; other differing ids: [101,102]"
                ),
            ]
        );
        assert_eq!(results[3..], before[3..], "no rule for them");
    }

    #[tokio::test]
    async fn the_trial_balance_is_compared_per_company_and_account_with_the_source() {
        let source = crate::test_utils::test_server().await;
        source
            .batch_execute(
                "BEGIN;
                 CREATE TEMP TABLE account_move (id int, state text);
                 CREATE TEMP TABLE account_account (id int, code text);
                 CREATE TEMP TABLE account_move_line (company_id int, account_id int, move_id int,
                   debit numeric, credit numeric, balance numeric);
                 INSERT INTO account_move VALUES (1, 'posted'), (2, 'draft');
                 INSERT INTO account_account VALUES (10, '400000'), (11, '600000'), (12, '700000');
                 INSERT INTO account_move_line VALUES (1, 10, 1, 10.00, 0, 10.00),
                   (1, 10, 1, 0.50, 0, 0.50), (1, 11, 1, 0, 3.00, -3.00), (1, NULL, 1, 0, 0, 0),
                   (2, 12, 1, 4.00, 0, 4.00), (1, 10, 2, 100, 0, 100), (4, 13, 1, 0, 2.00, -2.00),
                   (5, 14, 1, 1.00, 1.00, 0);",
            )
            .await
            .expect("a source's journal items");
        let lines = [
            line(
                "JUDGE\ttrial_balance\t1/20\tok\t{\"account_id\": 20, \"code\": \"400000\", \
                 \"debit\": 10.5, \"credit\": 0.0, \"balance\": 10.5, \"lines\": 2, \
                 \"source_company_ids\": [1], \"source_account_ids\": [10]}",
            ),
            line(
                "JUDGE\ttrial_balance\t1/21\tok\t{\"account_id\": 21, \"debit\": 0, \
                 \"credit\": 2.99, \"balance\": -2.99, \"lines\": 1, \"source_company_ids\": [1], \
                 \"source_account_ids\": [11]}",
            ),
            line(
                "JUDGE\ttrial_balance\t3/none\tok\t{\"account_id\": false, \"debit\": 1, \
                 \"credit\": 0, \"balance\": 1, \"source_company_ids\": [3]}",
            ),
            line("JUDGE\ttrial_balance\t4/22\tok\t{\"account_id\": 22, \"debit\": 1}"),
            line("JUDGE\tread\t1/20\tok\t{\"debit\": 1}"),
        ];
        let results = trial_balance(&source, &lines).await.expect("compared");
        let read: Vec<(&str, bool, &str, &str, &str)> = results
            .iter()
            .map(|r| {
                (
                    r.subject.as_str(),
                    r.passed,
                    r.source_value.as_str(),
                    r.target_value.as_str(),
                    r.detail.as_str(),
                )
            })
            .collect();
        let zero = "debit 0.00, credit 0.00, balance 0.00 (0 items)";
        let missing = "posted in the source; Odoo 19's trial balance has no line of the company and \
                       account mapped from it";
        assert_eq!(
            read,
            [
                (
                    "1/20 400000",
                    true,
                    "debit 10.50, credit 0.00, balance 10.50 (2 items)",
                    "debit 10.50, credit 0.00, balance 10.50 (2 items)",
                    ""
                ),
                (
                    "1/21",
                    false,
                    "debit 0.00, credit 3.00, balance -3.00 (1 items)",
                    "debit 0.00, credit 2.99, balance -2.99 (1 items)",
                    "Odoo 19 reads other amounts than the source's for source companies [1], \
                     accounts [Some(11)]"
                ),
                (
                    "3/none",
                    false,
                    zero,
                    "debit 1.00, credit 0.00, balance 1.00 (0 items)",
                    "no posted item in the source for source companies [3], accounts [None]"
                ),
                (
                    "4/22",
                    false,
                    zero,
                    "debit 1.00, credit 0.00, balance 0.00 (0 items)",
                    "the company is not in odoo_migrate.id_map: no source amounts to compare"
                ),
                (
                    "source company 2, account 12 700000",
                    false,
                    "debit 4.00, credit 0.00, balance 4.00 (1 items)",
                    "missing",
                    missing
                ),
                (
                    "source company 4, account 13 ",
                    false,
                    "debit 0.00, credit 2.00, balance -2.00 (1 items)",
                    "missing",
                    missing
                ),
                (
                    "source company 5, account 14 ",
                    false,
                    "debit 1.00, credit 1.00, balance 0.00 (1 items)",
                    "missing",
                    missing
                ),
            ]
        );
    }

    #[tokio::test]
    async fn a_python_that_cannot_start_is_named() {
        let mut judge = stand_in("odoo-bin-unused", "exit 0\n");
        judge.python = PathBuf::from("/nowhere/python");
        assert_eq!(
            refusal(judge.version().await),
            (
                "cannot start /nowhere/python: not found; give --odoo-python the Python of the \
                 virtualenv Odoo 19 is installed in"
                    .to_string(),
                Status::Usage
            )
        );
        let denied = judge.spawn_error(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "denied",
        ));
        assert_eq!(denied.to_string(), "cannot start /nowhere/python: denied");
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
        // Another check breaking leaves the trial balance whole.
        let other = "JUDGE\tphase\tactions\tfail\t{\"error\": \"E\"}";
        assert!(trial_balance_complete(&outcome(&[all, other, done])));
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
