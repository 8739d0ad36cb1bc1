//! What the user's rules files say against each other, checked at load: a model, table, column,
//! external id or relation given two different names or values by two files
//! ([`Rules::conflicts_with`]), and `carried_by` entries naming no rule that reads the column.
//! Does not look at the databases (that is `checks`).

use std::collections::BTreeMap;

use super::Rules;
use super::format::{RelationRule, RulesFile, XmlidRule, line_in};

impl Rules {
    /// What a user's file says that an earlier user's file (or an earlier entry of the same list)
    /// already said otherwise: a model or table renamed twice differently, a model given two
    /// tables, a column given its value two different ways, the same external ids renamed to two
    /// names, one relation written twice differently. Each is named at its line here and at the
    /// earlier one.
    pub(super) fn conflicts_with(
        &mut self,
        name: &str,
        lines: &BTreeMap<Vec<String>, usize>,
        file: &RulesFile,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        for setting in settings_of(file) {
            let path: Vec<&str> = setting.path.iter().map(String::as_str).collect();
            let here = line_in(name, lines, &path);
            let Setting {
                key, what, value, ..
            } = setting;
            match self.user_settings.get(&key) {
                Some((earlier, there)) if *earlier != value => problems.push(format!(
                    "rules file {here}: conflicting rules: {what} {value} here but {earlier} at {there}; keep one of them"
                )),
                Some(_) => {}
                None => {
                    self.user_settings.insert(key, (value, here));
                }
            }
        }
        problems
    }

    /// The `carried_by` entries (of every file) whose rule does not exist or does not name the
    /// column in its SQL: such an entry would claim data is carried that is not.
    pub(super) fn carried_by_problems(&self) -> Vec<String> {
        let entries = self
            .models
            .iter()
            .map(|(m, r)| ("models", m, &r.carried_by))
            .chain(
                self.tables
                    .iter()
                    .map(|(t, r)| ("tables", t, &r.carried_by)),
            );
        let mut problems = Vec::new();
        for (section, owner, carried) in entries {
            for (column, by) in carried {
                let key = format!("{section}.{owner}.carried_by.{column}");
                let rule = by.rsplit_once('.').and_then(|(model, target_column)| {
                    self.models.get(model)?.columns.get(target_column)
                });
                let reads = rule
                    .and_then(|r| r.sql.as_deref())
                    .is_some_and(|sql| names_word(sql, column));
                if !reads {
                    let at = if self.locations.contains_key(&key) {
                        self.location_of(&key)
                    } else {
                        format!("{} ({key})", self.origin(&key).unwrap_or("?"))
                    };
                    problems.push(format!(
                        "rules file {at}: `carried_by.{column} = \"{by}\"`: no column rule {by} (`<odoo 16 model>.<target column>`) whose `sql` reads {column}; name the rule that carries it, or list it under `dropped`"
                    ));
                }
            }
        }
        problems
    }
}

/// One thing a rules file sets that two files may not set differently.
struct Setting {
    /// What is set, as a key (`models.<model>.rename`, `xmlids <module>.<name> [<models>]`, …).
    key: String,
    /// Where it is written, as a key path of the file (see [`line_in`]).
    path: Vec<String>,
    /// What it is, for the message (`model x is renamed`).
    what: String,
    /// What it is set to (`to "y"`).
    value: String,
}

impl Setting {
    /// A setting whose key is its key path.
    fn at(path: &[&str], what: String, value: String) -> Setting {
        Setting {
            key: path.join("."),
            path: path.iter().map(|p| p.to_string()).collect(),
            what,
            value,
        }
    }
}

/// Everything a file sets that two files may not set differently: model renames and tables,
/// table renames, column values, external id renames, relations, in that order.
fn settings_of(file: &RulesFile) -> Vec<Setting> {
    let mut settings = name_settings(file);
    settings.extend(column_settings(file));
    settings.extend(file.xmlids.iter().enumerate().map(xmlid_setting));
    settings.extend(file.relations.iter().enumerate().map(relation_setting));
    settings
}

/// What models become (`rename`, `table`) and what relation tables become (`rename`).
fn name_settings(file: &RulesFile) -> Vec<Setting> {
    let mut settings = Vec::new();
    for (model, rule) in &file.models {
        if let Some(rename) = &rule.rename {
            settings.push(Setting::at(
                &["models", model, "rename"],
                format!("model {model} is renamed"),
                format!("to \"{rename}\""),
            ));
        }
        if let Some(table) = &rule.table {
            settings.push(Setting::at(
                &["models", model, "table"],
                format!("model {model} is written"),
                format!("into table {table}"),
            ));
        }
    }
    for (table, rule) in &file.tables {
        if let Some(rename) = &rule.rename {
            settings.push(Setting::at(
                &["tables", table, "rename"],
                format!("table {table} is renamed"),
                format!("to {rename}"),
            ));
        }
    }
    settings
}

/// Where each column of a model or relation table gets its value from, when its rule says.
fn column_settings(file: &RulesFile) -> Vec<Setting> {
    let columns = file
        .models
        .iter()
        .map(|(m, r)| ("models", m, &r.columns))
        .chain(file.tables.iter().map(|(t, r)| ("tables", t, &r.columns)));
    let mut settings = Vec::new();
    for (section, owner, columns) in columns {
        for (column, rule) in columns {
            if let Some(source) = rule.value_source() {
                settings.push(Setting::at(
                    &[section, owner, "columns", column],
                    format!("column {column} of {owner} gets its value"),
                    format!("from `{source}`"),
                ));
            }
        }
    }
    settings
}

/// What the external ids of an `[[xmlids]]` entry (the `index`-th of its file) become: the same
/// external ids given twice, in one file or two, must say the same.
fn xmlid_setting((index, rule): (usize, &XmlidRule)) -> Setting {
    let mut models = rule.models.clone();
    models.sort();
    let names = rule.name.as_deref().unwrap_or("*");
    let prefixed = if rule.company_prefixed {
        " (company-prefixed)"
    } else {
        ""
    };
    Setting {
        key: format!(
            "xmlids {}.{names}{prefixed} [{}]",
            rule.module,
            models.join(",")
        ),
        path: vec!["xmlids#".to_string(), index.to_string()],
        what: format!(
            "external ids {}.{names}{prefixed}{} become",
            rule.module,
            if models.is_empty() {
                String::new()
            } else {
                format!(" of {}", models.join(", "))
            }
        ),
        value: format!(
            "{}.{}",
            rule.to_module.as_deref().unwrap_or(&rule.module),
            rule.to_name.as_deref().unwrap_or(names)
        ),
    }
}

/// How a `[[relations]]` entry (the `index`-th of its file) fills its table: the same pair of
/// tables given twice, in one file or two, must say the same.
fn relation_setting((index, rule): (usize, &RelationRule)) -> Setting {
    let columns: Vec<String> = rule
        .columns
        .iter()
        .map(|(column, c)| {
            let keys: Vec<String> = c
                .value_source()
                .into_iter()
                .chain(
                    c.references
                        .as_ref()
                        .map(|r| format!("references = \"{r}\"")),
                )
                .collect();
            format!("{column} = {{ {} }}", keys.join(", "))
        })
        .collect();
    Setting {
        key: format!("relations {} {}", rule.from, rule.to),
        path: vec!["relations#".to_string(), index.to_string()],
        what: format!("the relation from {} to {} is", rule.from, rule.to),
        value: format!(
            "filtered by `{}` with `{}`",
            rule.filter.as_deref().unwrap_or("true"),
            columns.join("; ")
        ),
    }
}

/// Whether `text` holds `word` with no identifier character on either side.
fn names_word(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(is_ident)
            && !text[at + word.len()..].chars().next().is_some_and(is_ident)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::exit::Status;
    use crate::rules::testing::{remove_files, write_files};

    #[test]
    fn two_files_renaming_one_model_or_column_differently_are_refused_with_both_places() {
        let paths = write_files(
            "conflict",
            &[
                (
                    "a.toml",
                    "[models.\"x.thing\"]\nrename = \"x.one\"\ncolumns.x_code = { from = \"x_ref\" }\n\n[tables.x_rel]\nrename = \"x_rel_a\"\n",
                ),
                (
                    "b.toml",
                    "# the same rules, written again elsewhere\n[models.\"x.thing\"]\nnatural_key = [\"x_code\"]\nrename = \"x.two\"\n\n[models.\"x.thing\".columns.x_code]\nsql = \"s.x_ref || 'b'\"\n[tables.x_rel]\nrename = \"x_rel_a\"\n",
                ),
            ],
        );
        let error = Rules::load(&paths).unwrap_err();
        assert_eq!(crate::io::exit::status_of(&error), Status::Usage);
        let message = error.to_string();
        let (a, b) = (paths[0].display(), paths[1].display());
        assert!(
            message.contains(&format!(
                "rules file {b}:4: conflicting rules: model x.thing is renamed to \"x.two\" here but to \"x.one\" at {a}:2; keep one of them"
            )),
            "{message}"
        );
        assert!(
            message.contains(&format!(
                "rules file {b}:6: conflicting rules: column x_code of x.thing gets its value from `sql = \"s.x_ref || 'b'\"` here but from `from = \"x_ref\"` at {a}:3"
            )),
            "{message}"
        );
        // The same rename written twice is no conflict.
        assert!(!message.contains("x_rel"), "{message}");
        assert_eq!(message.lines().count(), 2, "{message}");

        // A user's file still overrides the default pack.
        let paths = write_files(
            "override",
            &[(
                "c.toml",
                "[models.\"mail.channel\"]\nrename = \"mail.channel\"\n",
            )],
        );
        let rules = Rules::load(&paths).expect("overriding the default pack is allowed");
        assert_eq!(rules.model_in_target("mail.channel"), "mail.channel");
        remove_files(paths);
    }

    #[test]
    fn external_ids_or_relations_given_twice_differently_are_refused_with_both_places() {
        let paths = write_files(
            "lists",
            &[
                (
                    "a.toml",
                    "[[xmlids]]\nmodule = \"x_old\"\nname = \"tag_a\"\nto_module = \"x_new\"\n\n[[relations]]\nfrom = \"x_link\"\nto = \"x_pair_rel\"\ncolumns.a_id = { sql = \"s.a\", references = \"x.a\" }\n\n[[xmlids]]\nmodule = \"x_old\"\nname = \"tag_a\"\nto_module = \"x_other\"\n",
                ),
                (
                    "b.toml",
                    "[[relations]]\nfrom = \"x_link\"\nto = \"x_pair_rel\"\nfilter = \"s.a IS NOT NULL\"\ncolumns.a_id = { sql = \"s.a\", references = \"x.a\" }\n\n[[xmlids]]\nmodule = \"x_old\"\nname = \"tag_a\"\nto_module = \"x_new\"\n",
                ),
            ],
        );
        let message = Rules::load(&paths).unwrap_err().to_string();
        let (a, b) = (paths[0].display(), paths[1].display());
        assert_eq!(
            message,
            format!(
                "rules file {a}:11: conflicting rules: external ids x_old.tag_a become x_other.tag_a here but x_new.tag_a at {a}:1; keep one of them\n\
                 rules file {b}:1: conflicting rules: the relation from x_link to x_pair_rel is filtered by `s.a IS NOT NULL` with \
                 `a_id = {{ sql = \"s.a\", references = \"x.a\" }}` here but filtered by `true` with \
                 `a_id = {{ sql = \"s.a\", references = \"x.a\" }}` at {a}:6; keep one of them"
            )
        );
        remove_files(paths);
    }

    #[test]
    fn a_carried_by_entry_must_name_a_rule_that_reads_the_column() {
        let paths = write_files(
            "carried",
            &[(
                "mine.toml",
                "[models.\"x.line\"]\ncarried_by.x_rate = \"x.head.x_rate\"\ncarried_by.x_days = \"x.head.x_rate\"\ncarried_by.x_gone = \"x.nowhere.x_gone\"\n\n[models.\"x.head\"]\ncolumns.x_rate = { sql = \"(SELECT l.x_rate FROM x_line l WHERE l.head_id = s.id)\" }\n",
            )],
        );
        let message = Rules::load(&paths).unwrap_err().to_string();
        let file = paths[0].display();
        assert_eq!(
            message,
            format!(
                "rules file {file}:3: `carried_by.x_days = \"x.head.x_rate\"`: no column rule x.head.x_rate (`<odoo 16 model>.<target column>`) whose `sql` reads x_days; name the rule that carries it, or list it under `dropped`\n\
                 rules file {file}:4: `carried_by.x_gone = \"x.nowhere.x_gone\"`: no column rule x.nowhere.x_gone (`<odoo 16 model>.<target column>`) whose `sql` reads x_gone; name the rule that carries it, or list it under `dropped`"
            )
        );
        let fine = write_files(
            "carried_fine",
            &[(
                "mine.toml",
                "[models.\"account.payment.term.line\"]\ncarried_by.discount_days = \"account.payment.term.discount_days\"\n",
            )],
        );
        let rules = Rules::load(&fine).expect("the rule it names exists in the default pack");
        assert_eq!(
            rules.carried_column("models.account.payment.term.line", "discount_days"),
            Some((
                "account.payment.term.discount_days",
                fine[0].display().to_string().as_str()
            ))
        );
        remove_files(paths.into_iter().chain(fine));
    }
}
