//! The user's rules checked against both catalogs before anything runs
//! ([`Rules::check_names`]): every model, table, column and module an entry names must exist where
//! the rule reads or writes it, and no two sources may become one target model or table. Each
//! problem is located at the `file:line` of the key that names it. Reads the catalogs only.

use std::collections::BTreeMap;

use anyhow::Result;

use super::{ColumnRule, Policy, Rules};
use crate::catalog::Catalog;
use crate::io::exit::{Status, refuse};

impl Rules {
    /// Checks the entries of the user's files against both databases, before anything runs: every
    /// model, table and column they name must exist where the rule reads or writes it, and no two
    /// models may become the same model. All problems are reported at once, each with its file and
    /// line.
    pub fn check_names(&self, source: &Catalog, target: &Catalog) -> Result<()> {
        let mut problems: Vec<String> = Vec::new();
        let mut report = |key: &str, message: String| {
            problems.push(format!("rules file {}: {message}", self.location_of(key)));
        };
        for (module, rule) in &self.modules {
            let key = format!("modules.{module}");
            if !self.locations.contains_key(&key) {
                continue;
            }
            if !source.modules.contains_key(module) {
                report(
                    &key,
                    format!(
                        "module {module} is not installed in the source database; check its technical name"
                    ),
                );
            }
            for (what, name) in [
                ("renamed_to", &rule.renamed_to),
                ("merged_into", &rule.merged_into),
            ] {
                if let Some(name) = name
                    && !target.modules.contains_key(name)
                {
                    report(
                        &format!("{key}.{what}"),
                        format!(
                            "`{what} = \"{name}\"`: module {name} is not installed in the target database; its external ids could not be found there, so {module}'s records would be created again instead of matched"
                        ),
                    );
                }
            }
        }
        let target_columns = |table: &str| -> Option<Vec<&str>> {
            target
                .tables
                .get(table)
                .map(|t| t.columns.iter().map(|c| c.name.as_str()).collect())
        };
        for (name, rule) in &self.models {
            let model_key = format!("models.{name}");
            let user_columns: Vec<(&String, &ColumnRule)> = rule
                .columns
                .iter()
                .filter(|(column, _)| {
                    self.locations
                        .contains_key(&format!("{model_key}.columns.{column}"))
                })
                .collect();
            if !self.locations.contains_key(&model_key) && user_columns.is_empty() {
                continue;
            }
            let Some(source_model) = source.models.get(name) else {
                report(
                    &model_key,
                    format!(
                        "model {name} is not in the source database (not in its ir_model); check the model's Odoo 16 name"
                    ),
                );
                continue;
            };
            if rule.policy == Some(Policy::Skip) {
                continue;
            }
            let target_name = rule.rename.as_deref().unwrap_or(name);
            let target_table = rule
                .table
                .clone()
                .or_else(|| target.models.get(target_name).and_then(|m| m.table.clone()));
            let Some(target_table) = target_table else {
                report(
                    &format!("{model_key}.rename"),
                    format!(
                        "model {target_name} (what {name} becomes) has no table in the target database; check `rename` and `table`"
                    ),
                );
                continue;
            };
            let Some(columns) = target_columns(&target_table) else {
                let key = if rule.table.is_some() {
                    format!("{model_key}.table")
                } else {
                    format!("{model_key}.rename")
                };
                report(
                    &key,
                    format!("table {target_table} does not exist in the target database"),
                );
                continue;
            };
            let natural_key_key = format!("{model_key}.natural_key");
            if self.locations.contains_key(&natural_key_key) {
                for column in rule.natural_key.iter().flatten() {
                    if !columns.contains(&column.as_str()) {
                        report(
                            &natural_key_key,
                            format!(
                                "`natural_key`: column {column} does not exist in the target table {target_table}; a natural key names target columns"
                            ),
                        );
                    }
                }
            }
            let source_columns: Vec<&str> = source_model
                .table
                .as_ref()
                .and_then(|t| source.tables.get(t))
                .map(|t| t.columns.iter().map(|c| c.name.as_str()).collect())
                .unwrap_or_default();
            for (column, column_rule) in user_columns {
                let key = format!("{model_key}.columns.{column}");
                if !columns.contains(&column.as_str()) {
                    report(
                        &key,
                        format!(
                            "column {column} of {name} does not exist in the target table {target_table}; rules name target columns"
                        ),
                    );
                }
                if let Some(from) = &column_rule.from
                    && !source_columns.contains(&from.as_str())
                {
                    report(
                        &key,
                        format!(
                            "`from = \"{from}\"`: the source table of {name} has no column {from}"
                        ),
                    );
                }
                if let Some(model) = &column_rule.references
                    && !source.models.contains_key(model)
                {
                    report(
                        &key,
                        format!(
                            "`references = \"{model}\"`: model {model} is not in the source database; name the Odoo 16 model whose ids the value holds"
                        ),
                    );
                }
                if let Some(model) = &column_rule.keyed_by
                    && !source.models.contains_key(model)
                {
                    report(
                        &key,
                        format!(
                            "`keyed_by = \"{model}\"`: model {model} is not in the source database; name the Odoo 16 model whose ids key the object"
                        ),
                    );
                }
                if let Some(field) = &column_rule.property
                    && !source_model.fields.contains_key(field)
                {
                    report(
                        &key,
                        format!(
                            "`property = \"{field}\"`: {name} has no field {field} in the source database"
                        ),
                    );
                }
            }
            for (kind, entries) in [("dropped", &rule.dropped), ("carried_by", &rule.carried_by)] {
                for problem in
                    self.lost_column_problems(&model_key, kind, entries, &source_columns, &columns)
                {
                    report(&problem.0, problem.1);
                }
            }
        }
        // Two source models that would become one target model would write the same rows twice.
        let mut becomes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for name in source.models.keys() {
            let rule = self.models.get(name);
            if rule.and_then(|r| r.policy) == Some(Policy::Skip) {
                continue;
            }
            becomes
                .entry(self.model_in_target(name))
                .or_default()
                .push(name);
        }
        for (target_model, sources) in becomes {
            let written_by_user: Vec<&&str> = sources
                .iter()
                .filter(|s| self.locations.contains_key(&format!("models.{s}")))
                .collect();
            if sources.len() > 1 && !written_by_user.is_empty() {
                // Named at the rule that renames, when the user wrote one.
                let culprit = written_by_user
                    .iter()
                    .find(|s| self.models.get(***s).is_some_and(|r| r.rename.is_some()))
                    .unwrap_or(&written_by_user[0]);
                let key = format!("models.{culprit}.rename");
                report(
                    &key,
                    format!(
                        "conflicting rules: {} would all become {target_model}; rename one of them elsewhere or skip it",
                        sources.join(" and ")
                    ),
                );
            }
        }
        // Two source tables that a user's `table` or `rename` sends into one target table.
        let mut written_into: BTreeMap<String, Vec<(String, Option<String>)>> = BTreeMap::new();
        for pair in crate::rules::pairing::pair_tables(source, target, self) {
            let Some(target_table) = pair.target_table.filter(|_| pair.policy != Policy::Skip)
            else {
                continue;
            };
            let key = match pair.kind {
                crate::rules::pairing::TableKind::Model => pair
                    .source_model
                    .as_ref()
                    .filter(|m| self.models.get(*m).is_some_and(|r| r.table.is_some()))
                    .map(|m| format!("models.{m}.table")),
                crate::rules::pairing::TableKind::Relation => self
                    .tables
                    .get(&pair.source_table)
                    .filter(|r| r.rename.is_some())
                    .map(|_| format!("tables.{}.rename", pair.source_table)),
            }
            .filter(|k| self.locations.contains_key(k));
            written_into
                .entry(target_table)
                .or_default()
                .push((pair.source_table, key));
        }
        for (target_table, sources) in written_into {
            if sources.len() < 2 {
                continue;
            }
            if let Some(key) = sources.iter().find_map(|(_, key)| key.clone()) {
                let names: Vec<&str> = sources.iter().map(|(t, _)| t.as_str()).collect();
                report(
                    &key,
                    format!(
                        "conflicting rules: source tables {} would all be written into {target_table}; give one of them another target table or skip it",
                        names.join(" and ")
                    ),
                );
            }
        }
        for (name, rule) in &self.tables {
            let key = format!("tables.{name}");
            if !self.locations.contains_key(&key) {
                continue;
            }
            let Some(source_table) = source.tables.get(name) else {
                report(&key, format!("table {name} is not in the source database"));
                continue;
            };
            let target_table = rule.rename.as_deref().unwrap_or(name);
            match target_columns(target_table) {
                None if !rule.skip => report(
                    &format!("{key}.rename"),
                    format!("table {target_table} does not exist in the target database"),
                ),
                None => {}
                Some(columns) => {
                    let source_columns: Vec<&str> = source_table
                        .columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect();
                    for (kind, entries) in
                        [("dropped", &rule.dropped), ("carried_by", &rule.carried_by)]
                    {
                        for problem in self.lost_column_problems(
                            &key,
                            kind,
                            entries,
                            &source_columns,
                            &columns,
                        ) {
                            report(&problem.0, problem.1);
                        }
                    }
                    for (column, column_rule) in &rule.columns {
                        let column_key = format!("{key}.columns.{column}");
                        if !columns.contains(&column.as_str()) {
                            report(
                                &column_key,
                                format!(
                                    "column {column} does not exist in the target table {target_table}"
                                ),
                            );
                        }
                        if let Some(from) = &column_rule.from
                            && !source_table.columns.iter().any(|c| c.name == *from)
                        {
                            report(
                                &column_key,
                                format!(
                                    "`from = \"{from}\"`: the source table {name} has no column {from}"
                                ),
                            );
                        }
                        if let Some(model) = &column_rule.references
                            && !source.models.contains_key(model)
                        {
                            report(
                                &column_key,
                                format!(
                                    "`references = \"{model}\"`: model {model} is not in the source database; name the Odoo 16 model whose ids the value holds"
                                ),
                            );
                        }
                    }
                }
            }
        }
        for relation in &self.relations {
            let key = format!("relations.{}.{}", relation.from, relation.to);
            if !self.locations.contains_key(&key) {
                continue;
            }
            if !source.tables.contains_key(&relation.from) {
                report(
                    &key,
                    format!(
                        "`from`: table {} is not in the source database",
                        relation.from
                    ),
                );
            }
            match target_columns(&relation.to) {
                None => report(
                    &key,
                    format!("`to`: table {} is not in the target database", relation.to),
                ),
                Some(columns) => {
                    for (column, column_rule) in &relation.columns {
                        if !columns.contains(&column.as_str()) {
                            report(
                                &key,
                                format!(
                                    "column {column} does not exist in the target table {}",
                                    relation.to
                                ),
                            );
                        }
                        if let Some(model) = &column_rule.references
                            && !source.models.contains_key(model)
                        {
                            report(
                                &key,
                                format!(
                                    "column {column}: `references = \"{model}\"`: model {model} is not in the source database"
                                ),
                            );
                        }
                    }
                }
            }
        }
        for (index, rule) in self.xmlids.iter().enumerate() {
            let key = format!("xmlids.{index}");
            if !self.locations.contains_key(&key) {
                continue;
            }
            for model in &rule.models {
                if !source.models.contains_key(model) {
                    report(
                        &key,
                        format!(
                            "`models`: model {model} is not in the source database; external id rules name Odoo 16 models"
                        ),
                    );
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(refuse(Status::Usage, problems.join("\n")))
        }
    }

    /// The user's `dropped` or `carried_by` entries (`kind`) of one model or relation table that
    /// name no column the target lost: a column the source does not have, or one the target still
    /// has (it is copied; `skip` on the target column leaves it empty). Each as (rule key,
    /// message).
    fn lost_column_problems(
        &self,
        owner_key: &str,
        kind: &str,
        dropped: &BTreeMap<String, String>,
        source_columns: &[&str],
        target_columns: &[&str],
    ) -> Vec<(String, String)> {
        dropped
            .keys()
            .filter_map(|column| {
                let key = format!("{owner_key}.{kind}.{column}");
                if !self.locations.contains_key(&key) {
                    return None;
                }
                let message = if !source_columns.contains(&column.as_str()) {
                    format!("`{kind}`: the source table has no column {column}")
                } else if target_columns.contains(&column.as_str()) {
                    format!(
                        "`{kind}`: the target table still has a column {column}, so its values are copied; to leave it empty write `columns.{column} = {{ skip = true }}`"
                    )
                } else {
                    return None;
                };
                Some((key, message))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::write_files;

    /// A catalog of models, each with its table and the columns of that table (also its fields).
    fn catalog(side: &'static str, models: &[(&str, &str, &[&str])]) -> Catalog {
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

    #[test]
    fn two_source_tables_sent_into_one_target_table_are_refused_at_the_rule() {
        let models: &[(&str, &str, &[&str])] = &[
            ("x.thing", "x_thing", &["id", "x_ref"]),
            ("x.other", "x_other", &["id", "x_ref"]),
        ];
        let (source, target) = (catalog("source", models), catalog("target", models));
        let paths = write_files(
            "tables",
            &[(
                "mine.toml",
                "[models.\"x.other\"]\nnote = \"ours\"\ntable = \"x_thing\"\n",
            )],
        );
        let rules = Rules::load(&paths).expect("the file parses");
        let message = rules.check_names(&source, &target).unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "rules file {}:3: conflicting rules: source tables x_other and x_thing would all be written into x_thing; give one of them another target table or skip it",
                paths[0].display()
            )
        );
        for path in paths {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn dropped_columns_must_be_columns_the_target_lost() {
        let source = catalog(
            "source",
            &[("x.thing", "x_thing", &["id", "x_old", "x_kept"])],
        );
        let target = catalog("target", &[("x.thing", "x_thing", &["id", "x_kept"])]);
        let paths = write_files(
            "dropped",
            &[(
                "mine.toml",
                "[models.\"x.thing\"]\ndropped.x_old = \"19 computes it\"\ndropped.x_kept = \"no\"\ndropped.x_never = \"no\"\n",
            )],
        );
        let rules = Rules::load(&paths).expect("the file parses");
        let message = rules.check_names(&source, &target).unwrap_err().to_string();
        let file = paths[0].display();
        assert_eq!(
            message,
            format!(
                "rules file {file}:3: `dropped`: the target table still has a column x_kept, so its values are copied; to leave it empty write `columns.x_kept = {{ skip = true }}`\n\
                 rules file {file}:4: `dropped`: the source table has no column x_never"
            )
        );
        assert_eq!(
            rules.dropped_column("models.x.thing", "x_old"),
            Some(("19 computes it", file.to_string().as_str()))
        );
        for path in paths {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn names_that_do_not_exist_are_located_at_the_key_that_names_them() {
        let mut source = catalog(
            "source",
            &[
                ("res.partner", "res_partner", &["id", "name", "ref"]),
                ("x.thing", "x_thing", &["id", "x_ref"]),
            ],
        );
        source.modules.insert("x_module".into(), "16.0.1.0".into());
        let target = catalog(
            "target",
            &[
                ("res.partner", "res_partner", &["id", "name", "ref"]),
                ("x.thing", "x_thing", &["id", "x_code"]),
            ],
        );
        let paths = write_files(
            "names",
            &[
                (
                    "first.toml",
                    "[models.\"x.thing\"]\nnote = \"ours\"\n\n[modules.x_module]\nrenamed_to = \"x_gone\"\n\n[modules.x_never]\nremoved = true\n",
                ),
                (
                    "second.toml",
                    "[models.\"x.thing\"]\nnatural_key = [\"x_code\", \"x_nope\"]\ncolumns.x_code = { sql = \"s.x_ref\", references = \"x.gone\" }\n\n[models.\"res.partner\"]\non_match = \"keep\"\nrename = \"res.contact\"\n\n[[xmlids]]\nmodels = [\"x.missing\"]\nmodule = \"base\"\n\n[tables.x_thing_rel]\nskip = true\n",
                ),
            ],
        );
        let rules = Rules::load(&paths).expect("the files parse");
        let message = rules.check_names(&source, &target).unwrap_err().to_string();
        let (first, second) = (paths[0].display(), paths[1].display());
        for expected in [
            format!(
                "rules file {second}:2: `natural_key`: column x_nope does not exist in the target table x_thing"
            ),
            format!(
                "rules file {second}:3: `references = \"x.gone\"`: model x.gone is not in the source database"
            ),
            format!(
                "rules file {second}:7: model res.contact (what res.partner becomes) has no table in the target database"
            ),
            format!(
                "rules file {second}:9: `models`: model x.missing is not in the source database"
            ),
            format!("rules file {second}:13: table x_thing_rel is not in the source database"),
            format!(
                "rules file {first}:5: `renamed_to = \"x_gone\"`: module x_gone is not installed in the target database"
            ),
            format!("rules file {first}:7: module x_never is not installed in the source database"),
        ] {
            assert!(
                message.contains(&expected),
                "expected `{expected}` in {message}"
            );
        }
        assert_eq!(message.lines().count(), 7, "{message}");
        for path in paths {
            let _ = std::fs::remove_file(path);
        }
    }
}
