//! The password file, as libpq reads it: `passfile=` in the connection string, else `PGPASSFILE`,
//! else `~/.pgpass`. Each line is `host:port:database:user:password`; `*` alone matches anything;
//! `\:` and `\\` stand for `:` and `\`; lines starting with `#` are comments; the first line that
//! matches gives the password. A file that its group or others may read is ignored, with a
//! warning, as libpq does.

use std::path::{Path, PathBuf};

/// What a connection is looked up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub host: String,
    pub port: String,
    pub database: String,
    pub user: String,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.host, self.port, self.database, self.user
        )
    }
}

/// What the password file gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The first matching line's password.
    Found { path: PathBuf, password: String },
    /// The file was read; no line matches.
    NoMatch { path: PathBuf },
    /// The file exists but was not used, and why (the warning already given).
    Ignored { path: PathBuf, reason: String },
    /// No file (none named, or the named one does not exist).
    Absent,
}

/// The password file to read: `passfile` from the connection string, else `PGPASSFILE`, else
/// `~/.pgpass`.
pub fn file(passfile: Option<&str>) -> Option<PathBuf> {
    if let Some(path) = passfile.filter(|path| !path.is_empty()) {
        return Some(PathBuf::from(path));
    }
    if let Some(path) = std::env::var_os("PGPASSFILE").filter(|path| !path.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let home = std::env::var_os("HOME").filter(|home| !home.is_empty())?;
    Some(Path::new(&home).join(".pgpass"))
}

/// Looks `key` up in the file at `path`; a file readable by group or others, or not a plain file,
/// is ignored with a warning on the log.
pub fn lookup(path: &Path, key: &Key) -> Lookup {
    let Ok(metadata) = std::fs::metadata(path) else {
        return Lookup::Absent;
    };
    let refusal = if !metadata.is_file() {
        Some("it is not a plain file".to_string())
    } else {
        too_open(&metadata)
    };
    if let Some(reason) = refusal {
        tracing::warn!("password file {} is ignored: {reason}", path.display());
        return Lookup::Ignored {
            path: path.to_path_buf(),
            reason,
        };
    }
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(error) => {
            let reason = format!("it cannot be read ({error})");
            tracing::warn!("password file {} is ignored: {reason}", path.display());
            return Lookup::Ignored {
                path: path.to_path_buf(),
                reason,
            };
        }
    };
    match find(&text, key) {
        Some(password) => Lookup::Found {
            path: path.to_path_buf(),
            password,
        },
        None => Lookup::NoMatch {
            path: path.to_path_buf(),
        },
    }
}

#[cfg(unix)]
fn too_open(metadata: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "its group or others may access it (mode {:04o}); make it u=rw (chmod 0600) or less",
            mode & 0o7777
        )
    })
}

#[cfg(not(unix))]
fn too_open(_metadata: &std::fs::Metadata) -> Option<String> {
    None
}

/// The password of the first line of `text` that matches `key`.
pub fn find(text: &str, key: &Key) -> Option<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            parse_line(line)
        })
        .find(|entry| entry.matches(key))
        .map(|entry| entry.password)
}

/// One line: four fields, each a value or `*`, and the password.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    fields: [Field; 4],
    password: String,
}

#[derive(Debug, PartialEq, Eq)]
enum Field {
    Any,
    Exactly(String),
}

impl Entry {
    fn matches(&self, key: &Key) -> bool {
        let wanted = [&key.host, &key.port, &key.database, &key.user];
        self.fields
            .iter()
            .zip(wanted)
            .all(|(field, wanted)| match field {
                Field::Any => true,
                Field::Exactly(value) => value == wanted,
            })
    }
}

/// Splits a line at its first four unescaped colons; `None` when it has fewer (libpq skips it).
fn parse_line(line: &str) -> Option<Entry> {
    let mut fields = Vec::with_capacity(4);
    let mut rest = line;
    for _ in 0..4 {
        // `*` followed by the separator is the wildcard; `\*` is a literal star.
        if let Some(after) = rest.strip_prefix("*:") {
            fields.push(Field::Any);
            rest = after;
            continue;
        }
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let mut end = None;
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, escaped)) => value.push(escaped),
                    None => return None,
                },
                ':' => {
                    end = Some(index);
                    break;
                }
                other => value.push(other),
            }
        }
        let end = end?;
        fields.push(Field::Exactly(value));
        rest = &rest[end + 1..];
    }
    let fields: [Field; 4] = fields.try_into().ok()?;
    Some(Entry {
        fields,
        password: unescape(rest),
    })
}

/// libpq's de-escaping of the password: a backslash takes the next character as it is.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => out.push(escaped),
                None => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(host: &str, port: &str, database: &str, user: &str) -> Key {
        Key {
            host: host.into(),
            port: port.into(),
            database: database.into(),
            user: user.into(),
        }
    }

    #[test]
    fn lines_are_split_at_unescaped_colons_and_unescaped() {
        let entry = parse_line(r"db\:1:5432:*:od\\oo:pa\:ss:word\\").unwrap();
        assert_eq!(
            entry.fields,
            [
                Field::Exactly("db:1".into()),
                Field::Exactly("5432".into()),
                Field::Any,
                Field::Exactly(r"od\oo".into()),
            ]
        );
        // After the fourth colon, everything is the password, colons included.
        assert_eq!(entry.password, r"pa:ss:word\");
        assert_eq!(parse_line("a:b:c:d:").unwrap().password, "");
        assert_eq!(parse_line("too:few:fields"), None);
        // An escaped star is a star, not the wildcard.
        let entry = parse_line(r"\*:*:*:*:pw").unwrap();
        assert_eq!(entry.fields[0], Field::Exactly("*".into()));
        assert!(!entry.matches(&key("db", "5432", "x", "u")));
        assert!(entry.matches(&key("*", "5432", "x", "u")));
        // A star inside a field is literal as well.
        let entry = parse_line("db*:*:*:*:pw").unwrap();
        assert_eq!(entry.fields[0], Field::Exactly("db*".into()));
    }

    #[test]
    fn the_first_matching_line_wins_and_comments_are_skipped() {
        let text = "\
# host:port:database:user:password
db.example:5432:prod:odoo:first\r
*:5432:prod:odoo:second
*:*:*:odoo:third
*:*:*:*:fallback
";
        assert_eq!(
            find(text, &key("db.example", "5432", "prod", "odoo")).as_deref(),
            Some("first")
        );
        assert_eq!(
            find(text, &key("other", "5432", "prod", "odoo")).as_deref(),
            Some("second")
        );
        assert_eq!(
            find(text, &key("other", "5433", "prod", "odoo")).as_deref(),
            Some("third")
        );
        assert_eq!(
            find(text, &key("other", "5433", "prod", "admin")).as_deref(),
            Some("fallback")
        );
        assert_eq!(
            find("db:5432:prod:odoo:x\n", &key("DB", "5432", "prod", "odoo")),
            None
        );
        assert_eq!(find("#*:*:*:*:commented\n", &key("h", "1", "d", "u")), None);
    }

    #[test]
    fn a_file_others_may_read_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("odoo-migrate-pgpass-{}", std::process::id()));
        std::fs::write(&path, "*:*:*:*:secret\n").expect("temp file");
        let wanted = key("h", "5432", "d", "u");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = lookup(&path, &wanted);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let closed = lookup(&path, &wanted);
        let _ = std::fs::remove_file(&path);

        match open {
            Lookup::Ignored { reason, .. } => assert!(reason.contains("0600"), "{reason}"),
            other => panic!("a 0644 file is used: {other:?}"),
        }
        assert_eq!(
            closed,
            Lookup::Found {
                path: path.clone(),
                password: "secret".into()
            }
        );
        assert_eq!(lookup(&path, &wanted), Lookup::Absent);
    }
}
