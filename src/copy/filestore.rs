//! Attachments' files: Odoo keeps the content of `ir_attachment` rows with a `store_fname` in its
//! filestore (`<data_dir>/filestore/<database>/<xx>/<sha1>`), outside the database. The files of
//! migrated attachments are hard-linked (same filesystem) or copied from the source filestore to
//! the target's; a file already present with the same content is left alone, and a file missing
//! from the source is reported.

use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use tokio_postgres::Client;

/// What the transfer of the files did.
#[derive(Debug, Default)]
pub struct Transfer {
    pub linked: u64,
    pub copied: u64,
    pub present: u64,
    pub missing: Vec<String>,
}

/// The `store_fname` of every attachment the migration created or wrote over (a matched record's
/// field, such as a company logo, that takes the source's content), as stored in the target.
pub async fn migrated_files(target: &Client) -> Result<Vec<String>> {
    Ok(target
        .query(
            "SELECT DISTINCT a.store_fname FROM ir_attachment a \
             JOIN odoo_migrate.id_map m ON m.model = 'ir.attachment' AND m.target_id = a.id \
             WHERE a.store_fname IS NOT NULL AND a.store_fname <> '' \
               AND (m.how = 'created' OR EXISTS (SELECT 1 FROM odoo_migrate.before_images b \
                    WHERE b.run_id = m.run_id AND b.table_name = 'ir_attachment' AND b.target_id = a.id)) \
             ORDER BY 1",
            &[],
        )
        .await
        .context("cannot list the migrated attachments")?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// A relative path inside a filestore, refusing anything that would leave it (`..`, absolute).
fn inside(root: &Path, store_fname: &str) -> Option<PathBuf> {
    let relative = Path::new(store_fname);
    if relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        Some(root.join(relative))
    } else {
        None
    }
}

/// Brings the files of `names` from `source_root` into `target_root`.
pub fn transfer(source_root: &Path, target_root: &Path, names: &[String]) -> Result<Transfer> {
    let mut transfer = Transfer::default();
    for name in names {
        let (Some(from), Some(to)) = (inside(source_root, name), inside(target_root, name)) else {
            transfer
                .missing
                .push(format!("{name} (not a filestore path)"));
            continue;
        };
        if !from.is_file() {
            transfer.missing.push(name.clone());
            continue;
        }
        if to.is_file() {
            if same_content(&from, &to)? {
                transfer.present += 1;
                continue;
            }
            // Same name, other content: the target's file is damaged; replace it.
            fs::remove_file(&to).with_context(|| format!("cannot replace {}", to.display()))?;
        }
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        if fs::hard_link(&from, &to).is_ok() {
            transfer.linked += 1;
        } else {
            fs::copy(&from, &to)
                .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
            transfer.copied += 1;
        }
    }
    Ok(transfer)
}

/// Names of `names` that have no file under `root`.
pub fn absent(root: &Path, names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|name| !inside(root, name).is_some_and(|p| p.is_file()))
        .cloned()
        .collect()
}

fn same_content(a: &Path, b: &Path) -> Result<bool> {
    let (meta_a, meta_b) = (fs::metadata(a)?, fs::metadata(b)?);
    if meta_a.len() != meta_b.len() {
        return Ok(false);
    }
    let (mut file_a, mut file_b) = (fs::File::open(a)?, fs::File::open(b)?);
    let (mut buffer_a, mut buffer_b) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let read = file_a.read(&mut buffer_a)?;
        if read == 0 {
            return Ok(true);
        }
        file_b.read_exact(&mut buffer_b[..read])?;
        if buffer_a[..read] != buffer_b[..read] {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_linked_once_and_missing_ones_reported() {
        let root = std::env::temp_dir().join(format!("om-filestore-{}", std::process::id()));
        let (source, target) = (root.join("source"), root.join("target"));
        fs::create_dir_all(source.join("ab")).unwrap();
        fs::write(source.join("ab/abcdef"), b"content").unwrap();
        let names = vec![
            "ab/abcdef".to_string(),
            "cd/cdef01".to_string(),
            "../escape".to_string(),
        ];
        let first = transfer(&source, &target, &names).unwrap();
        assert_eq!(first.linked + first.copied, 1);
        assert_eq!(first.missing.len(), 2);
        assert_eq!(fs::read(target.join("ab/abcdef")).unwrap(), b"content");
        let second = transfer(&source, &target, &names).unwrap();
        assert_eq!(second.present, 1);
        assert_eq!(second.linked + second.copied, 0);
        assert_eq!(absent(&target, &names).len(), 2);
        fs::remove_dir_all(root).unwrap();
    }
}
