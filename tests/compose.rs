//! docker-compose.yml and the Dockerfile cannot be run here (no Docker engine): their structure is
//! checked instead, and the scripts they mount are run outside of a container (the restore script
//! with the real pg_dump and pg_restore, against the test server).

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

const PASSWORD_VARIABLE: &str = "${ODOO_MIGRATE_DB_PASSWORD:?";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// docker-compose.yml as Compose reads it: YAML merge keys (`<<: *anchor`) applied.
fn compose() -> Value {
    let mut compose: Value = serde_yaml::from_str(&read("docker-compose.yml")).expect("valid YAML");
    compose.apply_merge().expect("merge keys resolve");
    compose
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_sequence()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Every string of the document, keys included.
fn all_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(text) => out.push(text),
        Value::Sequence(items) => items.iter().for_each(|item| all_strings(item, out)),
        Value::Mapping(map) => map.iter().for_each(|(key, item)| {
            all_strings(key, out);
            all_strings(item, out);
        }),
        Value::Tagged(tagged) => all_strings(&tagged.value, out),
        _ => {}
    }
}

/// A Compose byte size (`1g`, `512m`, `1073741824`) in bytes.
fn bytes(size: &Value) -> u64 {
    let text = match size {
        Value::Number(n) => return n.as_u64().expect("a byte count"),
        Value::String(text) => text.to_ascii_lowercase(),
        other => panic!("not a size: {other:?}"),
    };
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let number: u64 = digits.parse().expect("a size");
    let unit = match &text[digits.len()..] {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        unit => panic!("unknown unit {unit}"),
    };
    number * unit
}

/// A Compose duration (`24h`, `90m`, `30s`, `1h30m`) in seconds.
fn seconds(duration: &str) -> u64 {
    let (mut total, mut number) = (0, String::new());
    for c in duration.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().expect("a duration");
        number.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => panic!("unit {c} in {duration}"),
        };
    }
    assert!(number.is_empty(), "{duration} ends with a unit");
    total
}

#[test]
fn compose_file_serves_source_and_target_from_dumps() {
    let compose = compose();
    let services = compose["services"].as_mapping().expect("services");
    let names: Vec<&str> = services.keys().filter_map(Value::as_str).collect();
    assert_eq!(names, ["source", "target", "migrate"]);
    let mut host_ports = Vec::new();
    for (name, dump, port) in [
        ("source", "/dumps/source.dump", "5416"),
        ("target", "/dumps/target.dump", "5419"),
    ] {
        let service = &compose["services"][name];
        assert_eq!(
            service["image"].as_str(),
            Some("${ODOO_MIGRATE_PG_IMAGE:-postgres:15}"),
            "{name}: image chosen by ODOO_MIGRATE_PG_IMAGE"
        );
        let environment = &service["environment"];
        assert_eq!(environment["RESTORE_DUMP"].as_str(), Some(dump), "{name}");
        for variable in ["POSTGRES_USER", "POSTGRES_DB"] {
            assert!(
                environment[variable].as_str().is_some(),
                "{name} {variable}"
            );
        }
        let password = environment["POSTGRES_PASSWORD"].as_str().unwrap_or("");
        assert!(
            password.starts_with(PASSWORD_VARIABLE),
            "{name}: the password is required from the environment: {password}"
        );

        // Published on the loopback interface only.
        let ports = strings(&service["ports"]);
        assert_eq!(ports, [format!("127.0.0.1:{port}:5432")], "{name} ports");
        host_ports.push(port);

        // Parallel index builds need more than Docker's 64 MB of /dev/shm.
        assert!(
            bytes(&service["shm_size"]) >= 1 << 30,
            "{name} shm_size: {:?}",
            service["shm_size"]
        );

        let volumes = strings(&service["volumes"]);
        assert!(
            volumes.contains(&"./dumps:/dumps:ro"),
            "{name} mounts dumps"
        );
        assert!(
            volumes
                .iter()
                .any(|v| v.starts_with("./docker/restore-dump.sh:/docker-entrypoint-initdb.d/")),
            "{name} mounts the restore script"
        );
        let starter = volumes
            .iter()
            .find(|v| v.starts_with("./docker/start-postgres.sh:"))
            .unwrap_or_else(|| panic!("{name} mounts start-postgres.sh"));
        let starter_path = starter.split(':').nth(1).expect("mount point");
        assert!(
            strings(&service["entrypoint"]).contains(&starter_path),
            "{name} starts through {starter_path}"
        );
        assert_eq!(strings(&service["command"]), ["postgres"], "{name} command");

        // The data directory is the named volume, whatever the image's default PGDATA.
        let data = volumes
            .iter()
            .find(|v| v.ends_with(":/var/lib/postgresql/data"))
            .unwrap_or_else(|| panic!("{name} keeps its data in a volume"));
        let volume = data.split(':').next().unwrap_or_default();
        assert!(
            compose["volumes"].get(volume).is_some(),
            "{name}: {volume} is a named volume"
        );
        assert_eq!(
            environment["PGDATA"].as_str(),
            Some("/var/lib/postgresql/data"),
            "{name} PGDATA"
        );

        let health = &service["healthcheck"];
        let check = strings(&health["test"]).join(" ");
        assert!(
            check.contains("pg_isready") && check.contains("-h 127.0.0.1"),
            "{name} healthcheck over TCP (the restoring server listens on its socket only): {check}"
        );
        // Failed checks must not count while a large dump is restored: a start period of hours,
        // checked often until the first success.
        let start_period = seconds(health["start_period"].as_str().expect("start_period"));
        assert!(start_period >= 6 * 3600, "{name} start_period");
        let start_interval = seconds(health["start_interval"].as_str().expect("start_interval"));
        assert!(start_interval <= 5, "{name} start_interval");
    }
    assert_ne!(host_ports[0], host_ports[1], "distinct host ports");
}

#[test]
fn compose_file_has_no_default_password_and_publishes_on_loopback_only() {
    let compose = compose();
    let mut texts = Vec::new();
    all_strings(&compose, &mut texts);
    let uses: Vec<&&str> = texts
        .iter()
        .filter(|text| text.contains("ODOO_MIGRATE_DB_PASSWORD"))
        .collect();
    assert!(uses.len() >= 3, "both servers and the tool: {uses:?}");
    for text in uses {
        assert!(
            text.starts_with(PASSWORD_VARIABLE) && !text.contains(":-"),
            "no default password: {text}"
        );
    }
    for text in &texts {
        assert!(
            !text.contains("PASSWORD:-") && !text.to_ascii_lowercase().contains(":odoo@"),
            "no password written in the file: {text}"
        );
    }
    let services = compose["services"].as_mapping().expect("services");
    for (name, service) in services {
        for port in strings(&service["ports"]) {
            assert!(port.starts_with("127.0.0.1:"), "{name:?} publishes {port}");
        }
    }
}

#[test]
fn migrate_service_runs_the_tool_against_both_servers() {
    let compose = compose();
    let migrate = &compose["services"]["migrate"];
    assert_eq!(
        migrate["build"].as_str(),
        Some("."),
        "built from ./Dockerfile"
    );
    // Kept out of `up` (it would exit at once); `docker compose run migrate` still selects it.
    assert!(
        !strings(&migrate["profiles"]).is_empty(),
        "migrate profiles"
    );
    for server in ["source", "target"] {
        assert_eq!(
            migrate["depends_on"][server]["condition"].as_str(),
            Some("service_healthy"),
            "migrate waits for {server}"
        );
    }
    let environment = &migrate["environment"];
    for (variable, host) in [
        ("ODOO_MIGRATE_SOURCE", "source"),
        ("ODOO_MIGRATE_TARGET", "target"),
    ] {
        assert_eq!(
            environment[variable].as_str(),
            Some(format!("postgres://odoo@{host}:5432/odoo").as_str()),
            "{variable} names the {host} service, without password"
        );
    }
    let password = environment["PGPASSWORD"].as_str().unwrap_or("");
    assert!(password.starts_with(PASSWORD_VARIABLE), "PGPASSWORD");
    // `run --deadline 06:30` means the user's 06:30, not the container's UTC.
    assert!(
        environment["TZ"]
            .as_str()
            .is_some_and(|tz| tz.starts_with("${TZ")),
        "TZ is passed on"
    );
    assert!(migrate["ports"].is_null(), "the tool publishes nothing");
}

/// The Dockerfile's instructions, continuation lines joined, comments left out.
fn dockerfile() -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in read("Dockerfile").lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    instructions
}

#[test]
fn dockerfile_builds_on_bookworm_and_runs_the_binary_on_bookworm_slim() {
    let instructions = dockerfile();
    let from: Vec<&String> = instructions
        .iter()
        .filter(|i| i.starts_with("FROM "))
        .collect();
    assert_eq!(from.len(), 2, "two stages: {from:?}");
    assert!(
        from[0].starts_with("FROM rust:${RUST_VERSION}-") && from[0].contains("bookworm"),
        "{}",
        from[0]
    );
    assert_eq!(from[1], "FROM debian:bookworm-slim");
    let version = instructions
        .iter()
        .find_map(|i| i.strip_prefix("ARG RUST_VERSION="))
        .expect("ARG RUST_VERSION=…");
    let minor: u32 = version
        .strip_prefix("1.")
        .and_then(|v| v.split('.').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("RUST_VERSION {version}"));
    assert!(
        minor >= 85,
        "edition 2024 needs Rust 1.85 or newer: {version}"
    );
    assert!(
        instructions
            .iter()
            .any(|i| i.contains("cargo build --release --locked")),
        "release build from Cargo.lock"
    );
    let runtime = &instructions[instructions.iter().position(|i| i == from[1]).unwrap_or(0)..];
    assert!(
        runtime
            .iter()
            .any(|i| i.starts_with("USER ") && !i.contains("root")),
        "the tool runs as a user"
    );
    assert!(runtime.contains(&r#"ENTRYPOINT ["odoo-migrate"]"#.to_string()));
}

/// Every file the binary embeds (`include_str!`/`include_bytes!` in src/) is inside a top-level
/// entry that the Dockerfile copies and .dockerignore lets through; dumps never are.
#[test]
fn docker_build_context_holds_what_the_binary_embeds_and_no_dumps() {
    let ignore: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    assert_eq!(
        ignore.first().map(String::as_str),
        Some("*"),
        "an allow-list"
    );
    let allowed: Vec<&str> = ignore.iter().filter_map(|l| l.strip_prefix('!')).collect();
    for never in ["dumps", "target", "reports", ".env"] {
        assert!(
            !allowed.iter().any(|a| a.starts_with(never)),
            "{never} is not sent"
        );
    }
    let copied: Vec<String> = dockerfile()
        .iter()
        .filter_map(|i| i.strip_prefix("COPY ").filter(|c| !c.starts_with("--from")))
        .flat_map(|c| {
            let words: Vec<&str> = c.split_whitespace().collect();
            let sources = &words[..words.len().saturating_sub(1)];
            sources.iter().map(|s| s.to_string()).collect::<Vec<_>>()
        })
        .collect();

    let mut embedded = Vec::new();
    let mut pending = vec![root().join("src")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for part in text.split("include_").skip(1) {
                let Some(rest) = part
                    .strip_prefix("str!(\"")
                    .or_else(|| part.strip_prefix("bytes!(\""))
                else {
                    continue;
                };
                let relative = rest.split('"').next().unwrap_or_default();
                let file = dir
                    .join(relative)
                    .canonicalize()
                    .unwrap_or_else(|e| panic!("{} embeds {relative}: {e}", path.display()));
                let inside = file
                    .strip_prefix(root().canonicalize().expect("root"))
                    .unwrap_or_else(|_| panic!("{} is outside the project", file.display()))
                    .to_path_buf();
                embedded.push(inside);
            }
        }
    }
    assert!(
        embedded.len() > 10,
        "found the embedded files: {embedded:?}"
    );
    for file in embedded {
        let top = file
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or_default()
            .to_string();
        assert!(
            allowed.contains(&top.as_str()),
            ".dockerignore lets {top} through"
        );
        assert!(copied.contains(&top), "the Dockerfile copies {top}");
    }
}

/// A PostgreSQL client program from PATH, else the newest in /usr/lib/postgresql/*/bin.
fn pg_program(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if let Some(path) = on_path {
        return path;
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let path = entry.path().join("bin").join(name);
            path.is_file().then_some((version, path))
        })
        .collect();
    found.sort();
    let (_, path) = found
        .pop()
        .unwrap_or_else(|| panic!("{name} not found on PATH nor in /usr/lib/postgresql/*/bin"));
    path
}

/// PGHOST, PGPORT, PGUSER and PGPASSWORD of the test server, for the PostgreSQL client programs.
fn server_environment() -> Vec<(&'static str, String)> {
    let config = common::admin_config();
    let mut environment = Vec::new();
    match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => environment.push(("PGHOST", host.clone())),
        Some(tokio_postgres::config::Host::Unix(dir)) => {
            environment.push(("PGHOST", dir.display().to_string()))
        }
        None => {}
    }
    if let Some(port) = config.get_ports().first() {
        environment.push(("PGPORT", port.to_string()));
    }
    if let Some(user) = config.get_user() {
        environment.push(("PGUSER", user.to_string()));
    }
    if let Some(password) = config.get_password() {
        environment.push(("PGPASSWORD", String::from_utf8_lossy(password).into_owned()));
    }
    environment
}

/// The restore script as the image runs it: pg_restore on PATH, the POSTGRES_* and PGDATA
/// variables of the image, and the test server's PG* settings.
fn restore_script(dump: &Path, database: &str, pgdata: &Path) -> Command {
    let bin = pg_program("pg_restore");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let paths = std::iter::once(bin.parent().unwrap_or(Path::new("/")).to_path_buf())
        .chain(std::env::split_paths(&path));
    let mut command = Command::new(root().join("docker/restore-dump.sh"));
    command
        .env("PATH", std::env::join_paths(paths).expect("PATH"))
        .env("RESTORE_DUMP", dump)
        .env(
            "POSTGRES_USER",
            common::admin_config().get_user().unwrap_or("postgres"),
        )
        .env("POSTGRES_DB", database)
        .env("PGDATA", pgdata)
        .env("RESTORE_JOBS", "2")
        .envs(server_environment());
    command
}

fn scratch_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("omt-compose-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("pgdata")).expect("scratch directory");
    dir
}

#[test]
fn restore_script_is_executable_and_refuses_a_missing_dump() {
    let script = root().join("docker/restore-dump.sh");
    let mode = std::fs::metadata(&script)
        .expect("docker/restore-dump.sh")
        .permissions()
        .mode();
    assert!(mode & 0o111 != 0, "restore script is executable");
    let body = read("docker/restore-dump.sh");
    assert!(body.starts_with("#!"), "restore script has a shebang");
    assert!(body.contains("pg_restore --no-owner") && body.contains("RESTORE_DUMP"));

    let syntax = Command::new("bash").arg("-n").arg(&script).status();
    assert!(syntax.expect("bash").success(), "restore script parses");

    // Without its dump, the first start fails instead of serving an empty database.
    let missing = Command::new(&script)
        .env("RESTORE_DUMP", root().join("dumps/no-such.dump"))
        .env("POSTGRES_USER", "odoo")
        .env("POSTGRES_DB", "odoo")
        .output()
        .expect("run the restore script");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no dump file"));
}

#[test]
fn restore_script_names_the_image_variable_for_a_dump_of_a_newer_pg_dump() {
    let scratch = scratch_dir("newer");
    // The header of a real dump, with an archive version no pg_restore reads yet (as pg_restore
    // 15 sees a dump of pg_dump 16 or 17).
    let mut header = Vec::new();
    std::fs::File::open(common::Dump::Source.path())
        .expect("the source dump")
        .take(4096)
        .read_to_end(&mut header)
        .expect("read the dump's header");
    assert_eq!(&header[..5], b"PGDMP", "a custom-format dump");
    header[6] = 99;
    let dump = scratch.join("newer.dump");
    std::fs::write(&dump, &header).expect("write the dump");

    let pgdata = scratch.join("pgdata");
    let refused = restore_script(&dump, "omt_compose_never", &pgdata)
        .output()
        .expect("run the restore script");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("unsupported version") && stderr.contains("ODOO_MIGRATE_PG_IMAGE"),
        "{stderr}"
    );
    assert!(!pgdata.join("odoo-migrate-restored").exists(), "no marker");
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn restore_script_restores_a_dump_and_marks_the_data_directory() {
    let scratch = scratch_dir("restore");
    let pid = std::process::id();
    let origin = common::Database {
        name: format!("omt_compose_origin_{pid}"),
    };
    let restored = common::Database {
        name: format!("omt_compose_restored_{pid}"),
    };
    common::block_on(async {
        let admin = common::connect(&common::maintenance_db()).await;
        for database in [&origin, &restored] {
            admin
                .batch_execute(&format!("CREATE DATABASE \"{}\"", database.name))
                .await
                .unwrap_or_else(|e| panic!("create {}: {e}", database.name));
        }
    });
    origin.execute(
        "CREATE TABLE res_partner (id serial PRIMARY KEY, name text NOT NULL);
         INSERT INTO res_partner (name) SELECT 'partner ' || n FROM generate_series(1, 25) n;
         CREATE INDEX res_partner_name ON res_partner (name);",
    );
    let dump = scratch.join("origin.dump");
    let dumped = Command::new(pg_program("pg_dump"))
        .envs(server_environment())
        .args(["-Fc", "-f"])
        .arg(&dump)
        .arg("-d")
        .arg(&origin.name)
        .output()
        .expect("pg_dump");
    assert!(
        dumped.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&dumped.stderr)
    );

    let pgdata = scratch.join("pgdata");
    let outcome = restore_script(&dump, &restored.name, &pgdata)
        .output()
        .expect("run the restore script");
    assert!(
        outcome.status.success(),
        "{}",
        String::from_utf8_lossy(&outcome.stderr)
    );
    assert_eq!(restored.count("SELECT 1 FROM res_partner"), 25);
    assert_eq!(
        restored.scalar("SELECT string_agg(name, ',' ORDER BY id) FROM res_partner"),
        origin.scalar("SELECT string_agg(name, ',' ORDER BY id) FROM res_partner")
    );
    assert_eq!(
        restored.count("SELECT 1 FROM pg_indexes WHERE indexname = 'res_partner_name'"),
        1
    );
    assert!(
        pgdata.join("odoo-migrate-restored").is_file(),
        "the data directory is marked as restored"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn start_script_refuses_a_data_directory_whose_restore_did_not_finish() {
    let scratch = scratch_dir("start");
    let pgdata = scratch.join("pgdata");
    let bin = scratch.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    // Stands for the image's entrypoint: says it was reached, with which arguments.
    let entrypoint = bin.join("docker-entrypoint.sh");
    std::fs::write(&entrypoint, "#!/bin/sh\necho \"entrypoint: $*\"\n").expect("entrypoint");
    std::fs::set_permissions(&entrypoint, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let start = || {
        Command::new("bash")
            .arg(root().join("docker/start-postgres.sh"))
            .args(["postgres", "-c", "shared_buffers=256MB"])
            .env("PATH", &path)
            .env("PGDATA", &pgdata)
            .output()
            .expect("run start-postgres.sh")
    };

    // An empty data directory: the image initialises it (and restores the dump).
    let first = start();
    assert!(first.status.success());
    assert_eq!(
        String::from_utf8_lossy(&first.stdout).trim(),
        "entrypoint: postgres -c shared_buffers=256MB"
    );

    // Initialised, but the restore did not leave its marker: refused.
    std::fs::write(pgdata.join("PG_VERSION"), "15\n").expect("PG_VERSION");
    let refused = start();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stdout).is_empty(),
        "not started"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("docker compose down -v"));

    // Restored: served.
    std::fs::write(pgdata.join("odoo-migrate-restored"), "").expect("marker");
    let served = start();
    assert!(served.status.success());
    assert!(String::from_utf8_lossy(&served.stdout).starts_with("entrypoint: postgres"));
    let _ = std::fs::remove_dir_all(&scratch);
}
