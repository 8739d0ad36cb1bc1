//! Fixtures of the rules unit tests: rules files written to a directory of the test's own, and
//! catalogs made of a few models. Test code only.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::catalog::Catalog;

/// Writes rules files of a test to a directory of its own, returning their paths.
pub(super) fn write_files(test: &str, files: &[(&str, &str)]) -> Vec<PathBuf> {
    let dir = std::env::temp_dir().join(format!("rules-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    files
        .iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("rules file written");
            path
        })
        .collect()
}

/// Removes the rules files a test wrote.
pub(super) fn remove_files(paths: impl IntoIterator<Item = PathBuf>) {
    for path in paths {
        let _ = std::fs::remove_file(path);
    }
}

/// A catalog of models, each with its table and the columns of that table (also its fields).
pub(super) fn catalog(side: &'static str, models: &[(&str, &str, &[&str])]) -> Catalog {
    let mut catalog = Catalog {
        side,
        database: side.to_string(),
        base_version: String::new(),
        major: 0,
        modules: BTreeMap::new(),
        models: BTreeMap::new(),
        tables: BTreeMap::new(),
        loose_sequences: Vec::new(),
        xmlids_per_module: BTreeMap::new(),
    };
    for (model, table, columns) in models {
        let fields = columns
            .iter()
            .map(|c| {
                let field = crate::catalog::Field {
                    name: c.to_string(),
                    ttype: "char".into(),
                    relation: None,
                    relation_table: None,
                    column1: None,
                    column2: None,
                    store: true,
                    required: false,
                    company_dependent: false,
                    translate: false,
                    selection: Vec::new(),
                };
                (c.to_string(), field)
            })
            .collect();
        catalog.models.insert(
            model.to_string(),
            crate::catalog::Model {
                name: model.to_string(),
                table: Some(table.to_string()),
                transient: false,
                custom: false,
                fields,
            },
        );
        let columns = columns
            .iter()
            .enumerate()
            .map(|(i, c)| crate::catalog::Column {
                name: c.to_string(),
                position: i as i32 + 1,
                data_type: "character varying".into(),
                not_null: false,
                default_expr: None,
            })
            .collect();
        catalog.tables.insert(
            table.to_string(),
            crate::catalog::Table {
                name: table.to_string(),
                columns,
                primary_key: vec!["id".into()],
                unique: Vec::new(),
                foreign_keys: Vec::new(),
                sequences: BTreeMap::new(),
                row_count: 0,
            },
        );
    }
    catalog
}
