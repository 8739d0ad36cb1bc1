//! docker-compose.yml cannot be started here (no Docker engine): its structure is checked instead,
//! and the init script it mounts is run outside of a container.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use serde_yaml::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_sequence()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn compose_file_serves_source_and_target_from_dumps() {
    let text =
        std::fs::read_to_string(root().join("docker-compose.yml")).expect("docker-compose.yml");
    let compose: Value = serde_yaml::from_str(&text).expect("valid YAML");
    let services = compose["services"].as_mapping().expect("services");
    assert_eq!(services.len(), 2, "exactly two services");
    let mut host_ports = Vec::new();
    for (name, dump, port) in [
        ("source", "/dumps/source.dump", "5416"),
        ("target", "/dumps/target.dump", "5419"),
    ] {
        let service = &compose["services"][name];
        assert_eq!(
            service["image"].as_str(),
            Some("postgres:15"),
            "{name} image"
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
            password.starts_with("${") && password.contains(":-"),
            "{name}: the password comes from the environment, with a default: {password}"
        );

        let ports = strings(&service["ports"]);
        assert_eq!(ports, [format!("{port}:5432")], "{name} ports");
        host_ports.push(port);

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
        let data = volumes
            .iter()
            .find(|v| v.ends_with(":/var/lib/postgresql/data"))
            .unwrap_or_else(|| panic!("{name} keeps its data in a volume"));
        let volume = data.split(':').next().unwrap();
        assert!(
            compose["volumes"].get(volume).is_some(),
            "{name}: {volume} is a named volume"
        );

        let check = strings(&service["healthcheck"]["test"]).join(" ");
        assert!(
            check.contains("pg_isready") && check.contains("-h 127.0.0.1"),
            "{name} healthcheck over TCP: {check}"
        );
    }
    assert_ne!(host_ports[0], host_ports[1], "distinct host ports");
}

#[test]
fn restore_script_is_executable_and_refuses_a_missing_dump() {
    let script = root().join("docker/restore-dump.sh");
    let mode = std::fs::metadata(&script)
        .expect("docker/restore-dump.sh")
        .permissions()
        .mode();
    assert!(mode & 0o111 != 0, "restore script is executable");
    let body = std::fs::read_to_string(&script).unwrap();
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
