//! docker-compose.yml cannot be started here (no Docker engine): its structure is checked instead.

use serde_yaml::Value;

#[test]
fn compose_file_serves_source_and_target_from_dumps() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join("docker-compose.yml")).expect("docker-compose.yml");
    let compose: Value = serde_yaml::from_str(&text).expect("valid YAML");
    let mut host_ports = Vec::new();
    for (name, dump) in [
        ("source", "/dumps/source.dump"),
        ("target", "/dumps/target.dump"),
    ] {
        let service = &compose["services"][name];
        assert!(
            service["image"].as_str().unwrap().starts_with("postgres:"),
            "{name} image"
        );
        assert_eq!(service["environment"]["RESTORE_DUMP"].as_str(), Some(dump));
        let ports = service["ports"][0].as_str().expect("a published port");
        assert!(ports.ends_with(":5432"), "{name}: {ports}");
        host_ports.push(ports.split(':').next().unwrap().to_string());
        let volumes: Vec<&str> = service["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            volumes.iter().any(|v| v.starts_with("./dumps:/dumps")),
            "{name} mounts dumps"
        );
        assert!(
            volumes
                .iter()
                .any(|v| v.starts_with("./docker/restore-dump.sh:/docker-entrypoint-initdb.d/")),
            "{name} mounts the restore script"
        );
        let check = &service["healthcheck"]["test"];
        assert!(
            check
                .as_sequence()
                .unwrap()
                .iter()
                .any(|p| p.as_str().is_some_and(|s| s.contains("pg_isready"))),
            "{name} healthcheck"
        );
    }
    assert_ne!(host_ports[0], host_ports[1], "distinct host ports");
    let script = root.join("docker/restore-dump.sh");
    let mode = std::fs::metadata(&script)
        .expect("restore script")
        .permissions();
    use std::os::unix::fs::PermissionsExt;
    assert!(mode.mode() & 0o111 != 0, "restore script is executable");
    let body = std::fs::read_to_string(script).unwrap();
    assert!(body.contains("pg_restore") && body.contains("RESTORE_DUMP"));
}
