//! Replacing a secret file all at once: a reader (a starting server) sees the old contents or
//! the new ones, never a half-written key, and a crash leaves at worst a stray temporary file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::CryptoError;
use crate::key_file;

/// Writes `contents` to a private (`0600`) temporary file in `path`'s directory, flushes it
/// to disk, then renames it over `path`. Missing parent directories are created (`0700`).
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> Result<(), CryptoError> {
    let io_err = |source| CryptoError::KeyFile { path: path.to_owned(), source };
    key_file::create_parent_dirs(path)?;
    let temp = temp_path(path)?;
    let written = key_file::private_create_new().open(&temp).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| fs::rename(&temp, path)) {
        let _ = fs::remove_file(&temp);
        return Err(io_err(e));
    }
    sync_parent(path);
    Ok(())
}

/// `.<name>.<random>.tmp` beside `path`: same directory, so the rename stays on one file
/// system and is atomic; random, so two writers never share a temporary file.
fn temp_path(path: &Path) -> Result<PathBuf, CryptoError> {
    let name = path.file_name().ok_or_else(|| CryptoError::KeyFile {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
    })?;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| CryptoError::Random(e.to_string()))?;
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    Ok(path.with_file_name(format!(".{}.{suffix}.tmp", name.to_string_lossy())))
}

/// Makes the rename itself durable. Best effort: the new contents are already in place and
/// readable, and not every platform lets a directory be opened for syncing.
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(parent) = path.parent() {
        let dir = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
        if let Ok(dir) = fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_contents_privately_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/secret");
        write_private(&path, b"first").unwrap();
        write_private(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secret")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a non-empty directory: the rename fails after the temporary file
        // was written, and that file must be cleaned up.
        let path = dir.path().join("target");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), b"x").unwrap();
        assert!(matches!(write_private(&path, b"new"), Err(CryptoError::KeyFile { .. })));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(fs::read(path.join("inside")).unwrap(), b"x");
    }
}
