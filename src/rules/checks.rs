//! The user's rules checked against both catalogs before anything runs
//! ([`Rules::check_names`]): every model, table, column and module an entry names must exist where
//! the rule reads or writes it, and no two sources may become one target model or table. Each
//! problem is located at the `file:line` of the key that names it. Reads the catalogs only.

use std::collections::BTreeMap;

use anyhow::Result;

use super::format::refuse_problems;
use super::pairing::{TableKind, pair_tables};
use super::{ColumnRule, ModelRule, Policy, RelationRule, Rules, TableRule};
use crate::catalog::{Catalog, Model};

impl Rules {
    /// Checks the entries of the user's files against both databases, before anything runs: every
    /// model, table and column they name must exist where the rule reads or writes it, and no two
    /// models may become the same model. All problems are reported at once, each with its file and
    /// line.
    pub fn check_names(&self, source: &Catalog, target: &Catalog) -> Result<()> {
        let mut check = NameCheck {
            rules: self,
            source,
            target,
            problems: Vec::new(),
        };
        check.modules();
        check.models();
        check.models_becoming_one();
        check.tables_written_into_one();
        check.tables();
        check.relations();
        check.xmlid_rules();
        refuse_problems(check.problems)
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

/// One run of [`Rules::check_names`]: the rules, both catalogs, and the problems found so far,
/// each already located at its `file:line`.
struct NameCheck<'a> {
    rules: &'a Rules,
    source: &'a Catalog,
    target: &'a Catalog,
    problems: Vec<String>,
}

/// A model or relation table whose column rules are checked: its rule key (`models.<model>` or
/// `tables.<table>`), the columns of its source table, its target table and that table's columns.
struct Owner<'a> {
    key: String,
    source_columns: Vec<&'a str>,
    target_table: String,
    target_columns: Vec<&'a str>,
}

impl<'a> NameCheck<'a> {
    /// Records a problem at the place of the rule key that causes it.
    fn report(&mut self, key: &str, message: String) {
        self.problems.push(format!(
            "rules file {}: {message}",
            self.rules.location_of(key)
        ));
    }

    /// Whether a user's file wrote the rule key.
    fn written(&self, key: &str) -> bool {
        self.rules.locations.contains_key(key)
    }

    /// The columns of a target table, when it exists.
    fn target_columns(&self, table: &str) -> Option<Vec<&'a str>> {
        let target = self.target;
        target
            .tables
            .get(table)
            .map(|t| t.columns.iter().map(|c| c.name.as_str()).collect())
    }

    /// The user's module entries: the module must be installed in the source, and the module it
    /// is renamed to or merged into in the target.
    fn modules(&mut self) {
        let (rules, source, target) = (self.rules, self.source, self.target);
        for (module, rule) in &rules.modules {
            let key = format!("modules.{module}");
            if !self.written(&key) {
                continue;
            }
            if !source.modules.contains_key(module) {
                self.report(
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
                    self.report(
                        &format!("{key}.{what}"),
                        format!(
                            "`{what} = \"{name}\"`: module {name} is not installed in the target database; its external ids could not be found there, so {module}'s records would be created again instead of matched"
                        ),
                    );
                }
            }
        }
    }

    /// The models the user's files write a rule or a column rule for, one by one.
    fn models(&mut self) {
        let rules = self.rules;
        for (name, rule) in &rules.models {
            self.model(name, rule);
        }
    }

    /// One model's rule, when a user's file wrote it or one of its column rules: the model must be
    /// in the source and, unless skipped, become a model with a table in the target that has the
    /// columns its natural key and column rules name; its `dropped` and `carried_by` entries must
    /// name columns the target lost.
    fn model(&mut self, name: &str, rule: &'a ModelRule) {
        let model_key = format!("models.{name}");
        let user_columns: Vec<(&String, &ColumnRule)> = rule
            .columns
            .iter()
            .filter(|(column, _)| self.written(&format!("{model_key}.columns.{column}")))
            .collect();
        if !self.written(&model_key) && user_columns.is_empty() {
            return;
        }
        let source = self.source;
        let Some(source_model) = source.models.get(name) else {
            self.report(
                &model_key,
                format!(
                    "model {name} is not in the source database (not in its ir_model); check the model's Odoo 16 name"
                ),
            );
            return;
        };
        if rule.policy == Some(Policy::Skip) {
            return;
        }
        let Some((target_table, target_columns)) = self.model_target_table(name, &model_key, rule)
        else {
            return;
        };
        let owner = Owner {
            key: model_key,
            source_columns: source_model
                .table
                .as_ref()
                .and_then(|t| source.tables.get(t))
                .map(|t| t.columns.iter().map(|c| c.name.as_str()).collect())
                .unwrap_or_default(),
            target_table,
            target_columns,
        };
        self.natural_key(&owner, rule);
        for (column, column_rule) in user_columns {
            self.model_column(&owner, name, source_model, column, column_rule);
        }
        self.lost_columns(&owner, &rule.dropped, &rule.carried_by);
    }

    /// The target table a model's rows are written into (its `table`, else the table of what it
    /// becomes) and that table's columns; `None`, reported at `rename` or `table`, when there is
    /// none.
    fn model_target_table(
        &mut self,
        name: &str,
        model_key: &str,
        rule: &ModelRule,
    ) -> Option<(String, Vec<&'a str>)> {
        let target_name = rule.rename.as_deref().unwrap_or(name);
        let target_table = rule.table.clone().or_else(|| {
            self.target
                .models
                .get(target_name)
                .and_then(|m| m.table.clone())
        });
        let Some(target_table) = target_table else {
            self.report(
                &format!("{model_key}.rename"),
                format!(
                    "model {target_name} (what {name} becomes) has no table in the target database; check `rename` and `table`"
                ),
            );
            return None;
        };
        let Some(columns) = self.target_columns(&target_table) else {
            let key = if rule.table.is_some() {
                format!("{model_key}.table")
            } else {
                format!("{model_key}.rename")
            };
            self.report(
                &key,
                format!("table {target_table} does not exist in the target database"),
            );
            return None;
        };
        Some((target_table, columns))
    }

    /// A user's `natural_key` names columns of the model's target table.
    fn natural_key(&mut self, owner: &Owner, rule: &ModelRule) {
        let natural_key_key = format!("{}.natural_key", owner.key);
        if !self.written(&natural_key_key) {
            return;
        }
        for column in rule.natural_key.iter().flatten() {
            if !owner.target_columns.contains(&column.as_str()) {
                self.report(
                    &natural_key_key,
                    format!(
                        "`natural_key`: column {column} does not exist in the target table {}; a natural key names target columns",
                        owner.target_table
                    ),
                );
            }
        }
    }

    /// A user's column rule of a model: the column must exist in the target table, what it reads
    /// (`from`, `property`) in the source, and the models it names (`references`, `keyed_by`) in
    /// the source.
    fn model_column(
        &mut self,
        owner: &Owner,
        name: &str,
        source_model: &Model,
        column: &str,
        column_rule: &ColumnRule,
    ) {
        let key = format!("{}.columns.{column}", owner.key);
        if !owner.target_columns.contains(&column) {
            self.report(
                &key,
                format!(
                    "column {column} of {name} does not exist in the target table {}; rules name target columns",
                    owner.target_table
                ),
            );
        }
        self.column_read(
            &key,
            column_rule,
            owner,
            &format!("the source table of {name}"),
        );
        self.source_model_named(
            &key,
            "references",
            column_rule.references.as_ref(),
            "name the Odoo 16 model whose ids the value holds",
        );
        self.source_model_named(
            &key,
            "keyed_by",
            column_rule.keyed_by.as_ref(),
            "name the Odoo 16 model whose ids key the object",
        );
        self.source_model_named(
            &key,
            "id_list",
            column_rule.id_list.as_ref(),
            "name the Odoo 16 model whose ids the list holds",
        );
        if let Some(field) = &column_rule.property
            && !source_model.fields.contains_key(field)
        {
            self.report(
                &key,
                format!(
                    "`property = \"{field}\"`: {name} has no field {field} in the source database"
                ),
            );
        }
    }

    /// A column rule's `from` (and `model_in`) names a column of the owner's source table (`the_source_table`, as
    /// the message names it).
    fn column_read(
        &mut self,
        key: &str,
        column_rule: &ColumnRule,
        owner: &Owner,
        the_source_table: &str,
    ) {
        if let Some(from) = &column_rule.from
            && !owner.source_columns.contains(&from.as_str())
        {
            self.report(
                key,
                format!("`from = \"{from}\"`: {the_source_table} has no column {from}"),
            );
        }
        if let Some(model_column) = &column_rule.model_in
            && !owner.source_columns.contains(&model_column.as_str())
        {
            self.report(
                key,
                format!(
                    "`model_in = \"{model_column}\"`: {the_source_table} has no column {model_column}"
                ),
            );
        }
    }

    /// A column rule's `setting` (`references`, `keyed_by`), when given, names a model of the
    /// source; else reported with `hint`.
    fn source_model_named(&mut self, key: &str, setting: &str, model: Option<&String>, hint: &str) {
        if let Some(model) = model
            && !self.source.models.contains_key(model)
            && self.rules.derived(model).is_none()
        {
            self.report(
                key,
                format!(
                    "`{setting} = \"{model}\"`: model {model} is not in the source database; {hint}"
                ),
            );
        }
    }

    /// The user's `dropped` and `carried_by` entries of a model or relation table name columns the
    /// target lost.
    fn lost_columns(
        &mut self,
        owner: &Owner,
        dropped: &BTreeMap<String, String>,
        carried_by: &BTreeMap<String, String>,
    ) {
        for (kind, entries) in [("dropped", dropped), ("carried_by", carried_by)] {
            for (key, message) in self.rules.lost_column_problems(
                &owner.key,
                kind,
                entries,
                &owner.source_columns,
                &owner.target_columns,
            ) {
                self.report(&key, message);
            }
        }
    }

    /// Two source models that would become one target model would write the same rows twice:
    /// reported at the user's rule that renames one of them, when the user wrote one.
    fn models_becoming_one(&mut self) {
        let (rules, source) = (self.rules, self.source);
        let mut becomes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for name in source.models.keys() {
            let rule = rules.models.get(name);
            if rule.and_then(|r| r.policy) == Some(Policy::Skip) {
                continue;
            }
            becomes
                .entry(rules.model_in_target(name))
                .or_default()
                .push(name);
        }
        for (target_model, sources) in becomes {
            let written_by_user: Vec<&&str> = sources
                .iter()
                .filter(|s| self.written(&format!("models.{s}")))
                .collect();
            if sources.len() > 1 && !written_by_user.is_empty() {
                // Named at the rule that renames, when the user wrote one.
                let culprit = written_by_user
                    .iter()
                    .find(|s| rules.models.get(***s).is_some_and(|r| r.rename.is_some()))
                    .unwrap_or(&written_by_user[0]);
                let key = format!("models.{culprit}.rename");
                self.report(
                    &key,
                    format!(
                        "conflicting rules: {} would all become {target_model}; rename one of them elsewhere or skip it",
                        sources.join(" and ")
                    ),
                );
            }
        }
    }

    /// Two source tables that a user's `table` or `rename` sends into one target table: reported
    /// at that rule.
    fn tables_written_into_one(&mut self) {
        let rules = self.rules;
        let mut written_into: BTreeMap<String, Vec<(String, Option<String>)>> = BTreeMap::new();
        for pair in pair_tables(self.source, self.target, rules) {
            let Some(target_table) = pair.target_table.filter(|_| pair.policy != Policy::Skip)
            else {
                continue;
            };
            let key = match pair.kind {
                TableKind::Model => pair
                    .source_model
                    .as_ref()
                    .filter(|m| rules.models.get(*m).is_some_and(|r| r.table.is_some()))
                    .map(|m| format!("models.{m}.table")),
                TableKind::Relation => rules
                    .tables
                    .get(&pair.source_table)
                    .filter(|r| r.rename.is_some())
                    .map(|_| format!("tables.{}.rename", pair.source_table)),
            }
            .filter(|k| self.written(k));
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
                self.report(
                    &key,
                    format!(
                        "conflicting rules: source tables {} would all be written into {target_table}; give one of them another target table or skip it",
                        names.join(" and ")
                    ),
                );
            }
        }
    }

    /// The relation tables the user's files write a rule for, one by one.
    fn tables(&mut self) {
        let rules = self.rules;
        for (name, rule) in &rules.tables {
            self.table(name, rule);
        }
    }

    /// One relation table's rule written by a user: the table must be in the source and, unless
    /// skipped, in the target (under its new name) with the columns its rules name.
    fn table(&mut self, name: &str, rule: &TableRule) {
        let key = format!("tables.{name}");
        if !self.written(&key) {
            return;
        }
        let source = self.source;
        let Some(source_table) = source.tables.get(name) else {
            self.report(&key, format!("table {name} is not in the source database"));
            return;
        };
        let target_table = rule.rename.as_deref().unwrap_or(name);
        match self.target_columns(target_table) {
            None if !rule.skip => self.report(
                &format!("{key}.rename"),
                format!("table {target_table} does not exist in the target database"),
            ),
            None => {}
            Some(target_columns) => {
                let owner = Owner {
                    key,
                    source_columns: source_table
                        .columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect(),
                    target_table: target_table.to_string(),
                    target_columns,
                };
                self.lost_columns(&owner, &rule.dropped, &rule.carried_by);
                self.table_columns(&owner, name, rule);
            }
        }
    }

    /// The column rules of a relation table: each column must exist in the target table, what it
    /// reads in the source table, the model it references in the source.
    fn table_columns(&mut self, owner: &Owner, name: &str, rule: &TableRule) {
        for (column, column_rule) in &rule.columns {
            let column_key = format!("{}.columns.{column}", owner.key);
            if !owner.target_columns.contains(&column.as_str()) {
                self.report(
                    &column_key,
                    format!(
                        "column {column} does not exist in the target table {}",
                        owner.target_table
                    ),
                );
            }
            self.column_read(
                &column_key,
                column_rule,
                owner,
                &format!("the source table {name}"),
            );
            self.source_model_named(
                &column_key,
                "references",
                column_rule.references.as_ref(),
                "name the Odoo 16 model whose ids the value holds",
            );
        }
    }

    /// The relations the user's files write: read from a source table, written into a target
    /// table that has their columns, referencing models of the source.
    fn relations(&mut self) {
        let rules = self.rules;
        for relation in &rules.relations {
            let key = format!("relations.{}.{}", relation.from, relation.to);
            if !self.written(&key) {
                continue;
            }
            if !self.source.tables.contains_key(&relation.from) {
                self.report(
                    &key,
                    format!(
                        "`from`: table {} is not in the source database",
                        relation.from
                    ),
                );
            }
            match self.target_columns(&relation.to) {
                None => self.report(
                    &key,
                    format!("`to`: table {} is not in the target database", relation.to),
                ),
                Some(columns) => self.relation_columns(&key, relation, &columns),
            }
        }
    }

    /// The columns of a relation exist in its target table, and the models they reference in the
    /// source.
    fn relation_columns(&mut self, key: &str, relation: &RelationRule, columns: &[&str]) {
        for (column, column_rule) in &relation.columns {
            if !columns.contains(&column.as_str()) {
                self.report(
                    key,
                    format!(
                        "column {column} does not exist in the target table {}",
                        relation.to
                    ),
                );
            }
            if let Some(model) = &column_rule.references
                && !self.source.models.contains_key(model)
                && self.rules.derived(model).is_none()
            {
                self.report(
                    key,
                    format!(
                        "column {column}: `references = \"{model}\"`: model {model} is not in the source database"
                    ),
                );
            }
        }
    }

    /// The user's external id rules restricted to models name models of the source.
    fn xmlid_rules(&mut self) {
        let rules = self.rules;
        for (index, rule) in rules.xmlids.iter().enumerate() {
            let key = format!("xmlids.{index}");
            if !self.written(&key) {
                continue;
            }
            for model in &rule.models {
                if !self.source.models.contains_key(model) {
                    self.report(
                        &key,
                        format!(
                            "`models`: model {model} is not in the source database; external id rules name Odoo 16 models"
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{catalog, remove_files, write_files};

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
        remove_files(paths);
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
        remove_files(paths);
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
        remove_files(paths);
    }
}
