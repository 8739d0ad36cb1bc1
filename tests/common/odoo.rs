//! The Odoo 19 that judges a migrated target (`verify --odoo-bin`): an installation made by
//! `../shared/odoo19/setup.sh DIR`, named by `ODOO_MIGRATE_ODOO19=DIR`, with a configuration of
//! the test's own. Without it a judge test fails and says how to make one, unless
//! `ODOO_MIGRATE_SKIP_JUDGE=1`.

use std::path::PathBuf;

/// An Odoo 19 installation made by setup.sh, with a configuration of the test's own (the
/// installation's addons, a data_dir in a temporary directory: the judge never writes into the
/// installation).
pub struct Odoo {
    pub python: PathBuf,
    pub odoo_bin: PathBuf,
    pub conf: PathBuf,
}

/// The installation named by `ODOO_MIGRATE_ODOO19`; `None` (the test is left out, and says so)
/// under `ODOO_MIGRATE_SKIP_JUDGE=1`; a panic saying how to make one otherwise.
pub fn odoo19() -> Option<Odoo> {
    let skip = std::env::var("ODOO_MIGRATE_SKIP_JUDGE").is_ok_and(|v| v == "1");
    let dir = match std::env::var_os("ODOO_MIGRATE_ODOO19").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None if skip => {
            eprintln!("ODOO_MIGRATE_SKIP_JUDGE=1: the judge test is skipped");
            return None;
        }
        None => panic!(
            "the judge test needs an Odoo 19 installation: make one with \
             `../shared/odoo19/setup.sh target/odoo19` (from the project's directory) and run \
             the tests with ODOO_MIGRATE_ODOO19=$PWD/target/odoo19; or set \
             ODOO_MIGRATE_SKIP_JUDGE=1 to leave this test out"
        ),
    };
    let python = dir.join("venv/bin/python");
    let odoo_bin = dir.join("src/odoo-bin");
    assert!(
        python.is_file() && odoo_bin.is_file(),
        "ODOO_MIGRATE_ODOO19={} has no venv/bin/python or src/odoo-bin: make it with \
         ../shared/odoo19/setup.sh DIR",
        dir.display()
    );
    let addons = std::fs::read_to_string(dir.join("odoo.conf"))
        .ok()
        .and_then(|conf| {
            conf.lines()
                .find(|l| l.trim_start().starts_with("addons_path"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            format!(
                "addons_path = {0}/src/addons,{0}/src/odoo/addons",
                dir.display()
            )
        });
    let own = std::env::temp_dir().join(format!("om-judge-{}", std::process::id()));
    std::fs::create_dir_all(own.join("data")).expect("make the test's Odoo data_dir");
    let conf = own.join("odoo.conf");
    std::fs::write(
        &conf,
        format!(
            "[options]\n{addons}\ndata_dir = {}\n",
            own.join("data").display()
        ),
    )
    .expect("write the test's odoo.conf");
    Some(Odoo {
        python,
        odoo_bin,
        conf,
    })
}

impl Odoo {
    /// The arguments of `verify` that run the judge with this installation.
    pub fn verify_args(&self) -> Vec<String> {
        vec![
            "--odoo-bin".to_string(),
            self.odoo_bin.display().to_string(),
            "--odoo-python".to_string(),
            self.python.display().to_string(),
            "--odoo-conf".to_string(),
            self.conf.display().to_string(),
        ]
    }
}
