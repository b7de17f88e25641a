//! The keyring of retired token keys: a text file beside the token key file
//! (`<key_file>.retired`), one key per line.
//!
//! ```text
//! # Retired Portcullis token keys: <key as 64 hex digits> <unix time retired>
//! 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 1772945185
//! ```
//!
//! Blank lines and lines starting with `#` are ignored; the key may also be written in any
//! text form a key file accepts (hex or base64). A line that does not parse refuses the whole
//! file rather than silently dropping a key that live tokens may still need.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::CryptoError;
use crate::atomic_write;
use crate::key_file::{self, KEY_LEN};

/// The first line of every keyring we write.
const HEADER: &str = "# Retired Portcullis token keys: <key as 64 hex digits> <unix time retired>";

/// A key that no longer signs but still verifies.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RetiredKey {
    /// The key.
    pub(crate) key: [u8; KEY_LEN],
    /// When it stopped signing, in seconds since the Unix epoch.
    pub(crate) retired_at: u64,
}

impl std::fmt::Debug for RetiredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetiredKey").field("retired_at", &self.retired_at).finish_non_exhaustive()
    }
}

/// Where the keyring of `key_file` lives: the same path with `.retired` appended
/// (`data/token.key` → `data/token.key.retired`).
pub fn retired_keys_path(key_file: &Path) -> PathBuf {
    let mut path = key_file.as_os_str().to_owned();
    path.push(".retired");
    PathBuf::from(path)
}

/// Reads the keyring; a missing file is an empty keyring.
pub(crate) fn read(path: &Path) -> Result<Vec<RetiredKey>, CryptoError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(CryptoError::KeyFile { path: path.to_owned(), source }),
    };
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(number, line)| {
            parse_line(line).ok_or_else(|| CryptoError::KeyringFormat { path: path.to_owned(), line: number })
        })
        .collect()
}

fn parse_line(line: &str) -> Option<RetiredKey> {
    let mut fields = line.split_whitespace();
    let key = key_file::parse(fields.next()?.as_bytes())?;
    let retired_at = fields.next()?.parse().ok()?;
    fields.next().is_none().then_some(RetiredKey { key, retired_at })
}

/// Replaces the keyring with `keys`, atomically, mode `0600`.
pub(crate) fn write(path: &Path, keys: &[RetiredKey]) -> Result<(), CryptoError> {
    let mut text = String::from(HEADER);
    text.push('\n');
    for key in keys {
        text.push_str(&format!("{} {}\n", key_file::to_hex(&key.key), key.retired_at));
    }
    atomic_write::write_private(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_path_appends_a_suffix() {
        assert_eq!(retired_keys_path(Path::new("data/token.key")), PathBuf::from("data/token.key.retired"));
        assert_eq!(retired_keys_path(Path::new("token")), PathBuf::from("token.retired"));
    }

    #[test]
    fn round_trips_and_a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.key.retired");
        assert_eq!(read(&path).unwrap(), vec![]);
        let keys = vec![
            RetiredKey { key: [7; KEY_LEN], retired_at: 1_772_945_185 },
            RetiredKey { key: [8; KEY_LEN], retired_at: 1_772_946_000 },
        ];
        write(&path, &keys).unwrap();
        assert_eq!(read(&path).unwrap(), keys);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# "));
        assert!(text.contains(&format!("{} 1772945185\n", "07".repeat(KEY_LEN))));
    }

    #[test]
    fn accepts_comments_blank_lines_and_base64_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        fs::write(&path, "# note\n\n  AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE= 5  \n").unwrap();
        assert_eq!(read(&path).unwrap(), vec![RetiredKey { key: [1; KEY_LEN], retired_at: 5 }]);
    }

    #[test]
    fn a_bad_line_refuses_the_file_naming_the_line_but_not_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        let good = format!("{} 1\n", "07".repeat(KEY_LEN));
        for bad in [
            format!("{}\n", "07".repeat(KEY_LEN)),
            format!("{} soon\n", "07".repeat(KEY_LEN)),
            format!("{} 1 extra\n", "07".repeat(KEY_LEN)),
            "secret-looking-garbage 1\n".to_owned(),
        ] {
            fs::write(&path, format!("{good}{bad}")).unwrap();
            let err = read(&path).unwrap_err();
            assert!(matches!(err, CryptoError::KeyringFormat { line: 2, .. }), "{bad:?}: {err:?}");
            assert!(!err.to_string().contains("07070707"));
            assert!(!err.to_string().contains("secret-looking"));
        }
    }
}
