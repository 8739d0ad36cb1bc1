//! Files and directories a test writes for the binary (rules files, reports, filestores), under
//! the system's temporary directory, named after the test and the process, removed when dropped
//! (also when the test fails).

use std::path::{Path, PathBuf};

/// A path under the temporary directory, removed (file or directory) when dropped.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// `<tmp>/<stem>-<pid><extension>`; nothing is created (for a file the binary writes).
    pub fn path_for(stem: &str, extension: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("{stem}-{}{extension}", std::process::id()));
        Scratch { path }
    }

    /// A file `<stem>-<pid><extension>` holding `text`.
    pub fn file(stem: &str, extension: &str, text: &str) -> Scratch {
        let scratch = Scratch::path_for(stem, extension);
        std::fs::write(&scratch.path, text)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", scratch.path.display()));
        scratch
    }

    /// An empty directory `<stem>-<pid>`.
    pub fn dir(stem: &str) -> Scratch {
        let scratch = Scratch::path_for(stem, "");
        let _ = std::fs::remove_dir_all(&scratch.path);
        std::fs::create_dir_all(&scratch.path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", scratch.path.display()));
        scratch
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path as a command-line argument.
    pub fn arg(&self) -> &str {
        self.path.to_str().expect("a UTF-8 temporary path")
    }

    /// A path inside this directory.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.path.is_dir() {
            let _ = std::fs::remove_dir_all(&self.path);
        } else {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A rules file `<stem>-<pid>.toml` holding `text`, for `--rules`.
pub fn rules_file(stem: &str, text: &str) -> Scratch {
    Scratch::file(stem, ".toml", text)
}
