//! Reading, and on first start creating, the 32-byte secret key files.
//!
//! A missing key is created rather than reported so that a fresh installation works without a
//! manual step, while later starts reuse the same key (tokens and stored digests stay valid
//! across restarts). Such a key is marked as a development key (its first line is
//! [`DEVELOPMENT_MARKER`]), and a production start refuses it (see [`key_file_kind`]).
//! Nothing here logs, and errors carry the path only, never the bytes.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use crate::CryptoError;

/// Length of every secret key in this crate.
pub(crate) const KEY_LEN: usize = 32;

/// The first line of a key file the server created by itself on a first start.
pub const DEVELOPMENT_MARKER: &str = "# portcullis development key";

/// What a key file's path holds, as a production start judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileKind {
    /// No file: a development start would create one.
    Missing,
    /// A key the server created by itself on a first start.
    Development,
    /// A key put there by an operator (or by `portcullis keys rotate`).
    Provisioned,
}

/// Reads the key file at `path` and says what it is.
///
/// # Errors
/// The file cannot be read, or holds no key in a recognised format.
pub fn key_file_kind(path: &Path) -> Result<KeyFileKind, CryptoError> {
    match load_if_present(path)? {
        None => Ok(KeyFileKind::Missing),
        Some(_) => {
            let bytes = fs::read(path).map_err(|source| CryptoError::KeyFile { path: path.to_owned(), source })?;
            Ok(if bytes.starts_with(DEVELOPMENT_MARKER.as_bytes()) {
                KeyFileKind::Development
            } else {
                KeyFileKind::Provisioned
            })
        }
    }
}

/// Reads the key at `path`, creating a fresh random one (mode `0600`, parent directories
/// `0700`) when the file does not exist.
pub(crate) fn load_or_create(path: &Path) -> Result<[u8; KEY_LEN], CryptoError> {
    match fs::read(path) {
        Ok(bytes) => parse(&bytes).ok_or_else(|| CryptoError::KeyFileFormat { path: path.to_owned() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match create(path)? {
            Some(key) => Ok(key),
            // Another process created the file between our read and our create: use theirs,
            // so that both end up with the same key.
            None => load_existing(path),
        },
        Err(source) => Err(CryptoError::KeyFile { path: path.to_owned(), source }),
    }
}

fn load_existing(path: &Path) -> Result<[u8; KEY_LEN], CryptoError> {
    let bytes = fs::read(path).map_err(|source| CryptoError::KeyFile { path: path.to_owned(), source })?;
    parse(&bytes).ok_or_else(|| CryptoError::KeyFileFormat { path: path.to_owned() })
}

/// Reads the key at `path`; `None` when the file does not exist.
pub(crate) fn load_if_present(path: &Path) -> Result<Option<[u8; KEY_LEN]>, CryptoError> {
    match fs::read(path) {
        Ok(bytes) => parse(&bytes).map(Some).ok_or_else(|| CryptoError::KeyFileFormat { path: path.to_owned() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CryptoError::KeyFile { path: path.to_owned(), source }),
    }
}

/// 32 fresh bytes from the OS generator.
pub(crate) fn random_key() -> Result<[u8; KEY_LEN], CryptoError> {
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(key)
}

/// Creates the missing parent directories of `path`, mode `0700`.
pub(crate) fn create_parent_dirs(path: &Path) -> Result<(), CryptoError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let mut dirs = fs::DirBuilder::new();
        dirs.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dirs, 0o700);
        dirs.create(parent).map_err(|source| CryptoError::KeyFile { path: path.to_owned(), source })?;
    }
    Ok(())
}

/// Options that create a new file, mode `0600` from the start: set at creation, not
/// afterwards, so a key is never readable by others even for an instant.
pub(crate) fn private_create_new() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Writes a new random key with `create_new`, so an existing file is never overwritten.
/// Returns `None` when the file appeared in the meantime.
fn create(path: &Path) -> Result<Option<[u8; KEY_LEN]>, CryptoError> {
    let io_err = |source| CryptoError::KeyFile { path: path.to_owned(), source };
    create_parent_dirs(path)?;
    let key = random_key()?;
    let mut file = match private_create_new().open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(io_err(e)),
    };
    let text = format!(
        "{DEVELOPMENT_MARKER}: created by `portcullis serve` on a first start; a production start refuses it\n{}\n",
        to_hex(&key)
    );
    if let Err(e) = file.write_all(text.as_bytes()).and_then(|()| file.sync_all()) {
        // A truncated key file would fail every later start with a format error; better to
        // leave no file and try again next time.
        drop(file);
        let _ = fs::remove_file(path);
        return Err(io_err(e));
    }
    Ok(Some(key))
}

/// Raw 32 bytes, or text holding 64 hex digits or base64 of 32 bytes after any `#` comment
/// lines.
pub(crate) fn parse(bytes: &[u8]) -> Option<[u8; KEY_LEN]> {
    // Raw first: a text key is at least 43 bytes long, so the lengths cannot be confused.
    if let Ok(key) = <[u8; KEY_LEN]>::try_from(bytes) {
        return Some(key);
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<String>();
    let text = text.trim();
    if text.len() == 2 * KEY_LEN
        && let Some(key) = parse_hex(text)
    {
        return Some(key);
    }
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .and_then(|decoded| <[u8; KEY_LEN]>::try_from(decoded.as_slice()).ok())
}

/// `key` as 64 lower-case hex digits, the text format [`parse`] reads back.
pub(crate) fn to_hex(key: &[u8; KEY_LEN]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex(text: &str) -> Option<[u8; KEY_LEN]> {
    let mut key = [0u8; KEY_LEN];
    for (byte, pair) in key.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_key_file_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/keys/token.key");
        assert_eq!(key_file_kind(&path).unwrap(), KeyFileKind::Missing);
        let first = load_or_create(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(DEVELOPMENT_MARKER), "{text}");
        assert!(text.ends_with(&format!("\n{}\n", to_hex(&first))), "stored as hex after the marker line");
        assert_eq!(key_file_kind(&path).unwrap(), KeyFileKind::Development);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dir_mode = fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
            assert_eq!(dir_mode & 0o077, 0, "created directories are private");
        }
        assert_eq!(load_or_create(&path).unwrap(), first);
        assert_ne!(first, [0u8; KEY_LEN]);
    }

    #[test]
    fn reads_hex_and_base64_text() {
        let key: [u8; KEY_LEN] = std::array::from_fn(|i| u8::try_from(i * 7).unwrap());
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(parse(format!("{hex}\n").as_bytes()), Some(key));
        assert_eq!(parse(hex.to_uppercase().as_bytes()), Some(key));
        assert_eq!(parse(format!("{}\n", STANDARD.encode(key)).as_bytes()), Some(key));
        assert_eq!(parse(URL_SAFE_NO_PAD.encode(key).as_bytes()), Some(key));
    }

    #[test]
    fn a_key_written_by_an_operator_is_provisioned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.key");
        fs::write(&path, format!("# made with openssl rand -hex 32\n{}\n", "ab".repeat(KEY_LEN))).unwrap();
        assert_eq!(key_file_kind(&path).unwrap(), KeyFileKind::Provisioned);
        assert_eq!(load_or_create(&path).unwrap(), [0xab; KEY_LEN]);
        fs::write(&path, [b'#'; KEY_LEN]).unwrap();
        assert_eq!(key_file_kind(&path).unwrap(), KeyFileKind::Provisioned, "raw bytes are never a comment");
        fs::write(&path, "# only a comment\n").unwrap();
        assert!(matches!(key_file_kind(&path), Err(CryptoError::KeyFileFormat { .. })));
    }

    #[test]
    fn rejects_other_contents_without_echoing_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        fs::write(&path, "not-a-key-but-a-secret-looking-string\n").unwrap();
        let err = load_or_create(&path).unwrap_err();
        assert!(matches!(err, CryptoError::KeyFileFormat { .. }));
        assert!(!err.to_string().contains("secret-looking"));
        assert_eq!(parse(&[0u8; 31]), None);
        assert_eq!(parse(&[b'g'; 64]), None);
    }
}
