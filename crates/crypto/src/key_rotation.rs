//! Rotating the token key: a fresh key starts signing while the previous one keeps
//! verifying the tokens it signed until they have all expired.
//!
//! The keyring is written before the new key, so a crash in between leaves the old key both
//! current and retired (harmless) instead of lost (every live token invalid).

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::key_file::{self, KEY_LEN};
use crate::keyring::{self, RetiredKey};
use crate::{CryptoError, paseto_issuer};

/// Kept on top of the longest token lifetime before a retired key is dropped: covers clock
/// skew between instances and the time a rolling restart takes to reach every instance.
pub const RETIRED_KEY_MARGIN: Duration = Duration::from_secs(15 * 60);

/// What [`rotate_key_file`] did. Key ids only, never key bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRotation {
    /// The PASERK id of the key that signs from now on.
    pub new_key_id: String,
    /// The PASERK id of the key it replaced; `None` when there was no key file yet.
    pub retired_key_id: Option<String>,
    /// Retired keys now in the keyring, the one just retired included.
    pub retired_keys_kept: usize,
    /// Retired keys dropped because every token they signed has expired.
    pub retired_keys_dropped: usize,
}

/// Replaces the key in `key_file` with a fresh random one and moves the old key into the
/// keyring at [`crate::retired_keys_path`]`(key_file)`, stamped with `now`. Retired keys
/// older than `max_token_lifetime` + [`RETIRED_KEY_MARGIN`] are dropped: no token they
/// signed can still be valid. Both files are replaced atomically, mode `0600`.
///
/// Running servers keep their keys in memory: they use the new key once restarted.
///
/// # Errors
/// [`CryptoError`] when a file cannot be read, parsed or written. Nothing is changed when
/// reading fails.
pub fn rotate_key_file(
    key_file: &Path,
    max_token_lifetime: Duration,
    now: SystemTime,
) -> Result<KeyRotation, CryptoError> {
    let keyring_path = keyring::retired_keys_path(key_file);
    let current = key_file::load_if_present(key_file)?;
    let mut retired = keyring::read(&keyring_path)?;
    // The current key may already be listed after an interrupted rotation: list it once,
    // with the new time.
    retired.retain(|k| Some(k.key) != current);

    let now_secs = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let keep_for = max_token_lifetime.saturating_add(RETIRED_KEY_MARGIN).as_secs();
    let before = retired.len();
    // A time in the future (another machine's clock) counts as now: kept.
    retired.retain(|k| now_secs.saturating_sub(k.retired_at) <= keep_for);
    let dropped = before - retired.len();
    let retired_key_id = match current {
        Some(key) => {
            retired.push(RetiredKey { key, retired_at: now_secs });
            Some(paseto_issuer::key_id_of(&key)?)
        }
        None => None,
    };

    let new_key = fresh_key(current.as_ref())?;
    let new_key_id = paseto_issuer::key_id_of(&new_key)?;
    keyring::write(&keyring_path, &retired)?;
    crate::atomic_write::write_private(key_file, &new_key)?;
    Ok(KeyRotation { new_key_id, retired_key_id, retired_keys_kept: retired.len(), retired_keys_dropped: dropped })
}

/// A random key different from `current` (a repeat is astronomically unlikely, but a
/// rotation that changes nothing would be a silent failure).
fn fresh_key(current: Option<&[u8; KEY_LEN]>) -> Result<[u8; KEY_LEN], CryptoError> {
    loop {
        let key = key_file::random_key()?;
        if Some(&key) != current {
            return Ok(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use portcullis_domain::model::{SessionId, Timestamp, UserId};
    use portcullis_domain::ports::{AccessClaims, TokenError, TokenIssuer};

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::{PasetoIssuer, retired_keys_path};

    const TTL: Duration = Duration::from_secs(900);

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn claims_at(secs: u64) -> AccessClaims {
        let issued_at = Timestamp::from_unix_millis(i64::try_from(secs * 1000).unwrap());
        AccessClaims {
            user_id: UserId::new_v7(),
            session_id: SessionId::new_v7(),
            issued_at,
            expires_at: issued_at.plus(TTL),
            aal: portcullis_domain::model::Aal::One,
            amr: vec![portcullis_domain::model::AuthMethod::Password],
        }
    }

    #[test]
    fn tokens_of_the_previous_key_stay_valid_and_new_ones_use_the_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("token.key");
        let before = PasetoIssuer::from_key_file(&key_file).unwrap();
        let claims = claims_at(1_772_945_000);
        let old_token = before.issue(&claims).unwrap();

        let rotation = rotate_key_file(&key_file, TTL, at(1_772_945_100)).unwrap();
        assert_eq!(rotation.retired_key_id.as_deref(), Some(before.key_id()));
        assert_ne!(rotation.new_key_id, before.key_id());
        assert_eq!((rotation.retired_keys_kept, rotation.retired_keys_dropped), (1, 0));

        let after = PasetoIssuer::from_key_file(&key_file).unwrap();
        assert_eq!(after.key_id(), rotation.new_key_id);
        assert_eq!(after.retired_key_ids().collect::<Vec<_>>(), vec![before.key_id()]);
        assert_eq!(after.verify(&old_token, claims.issued_at).unwrap(), claims);
        let new_token = after.issue(&claims).unwrap();
        assert!(new_token.ends_with(&URL_SAFE_NO_PAD.encode(format!(r#"{{"kid":"{}"}}"#, rotation.new_key_id))));
        assert_eq!(before.verify(&new_token, claims.issued_at), Err(TokenError::Invalid));

        let keyring = fs::read_to_string(retired_keys_path(&key_file)).unwrap();
        assert!(keyring.lines().any(|l| l.ends_with(" 1772945100")), "{}", keyring.lines().count());
        #[cfg(unix)]
        for path in [key_file.clone(), retired_keys_path(&key_file)] {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "{}", path.display());
        }
    }

    #[test]
    fn retired_keys_older_than_the_window_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("token.key");
        let first = PasetoIssuer::from_key_file(&key_file).unwrap();
        let t0 = 1_772_945_000;
        let first_token = first.issue(&claims_at(t0)).unwrap();
        let window = (TTL + RETIRED_KEY_MARGIN).as_secs();

        let second = rotate_key_file(&key_file, TTL, at(t0)).unwrap();
        // Exactly at the window's end the first key is still kept ...
        let third = rotate_key_file(&key_file, TTL, at(t0 + window)).unwrap();
        assert_eq!((third.retired_keys_kept, third.retired_keys_dropped), (2, 0));
        // ... one second later it goes; the second key, retired just now, stays.
        let fourth = rotate_key_file(&key_file, TTL, at(t0 + window + 1)).unwrap();
        assert_eq!((fourth.retired_keys_kept, fourth.retired_keys_dropped), (2, 1));

        let issuer = PasetoIssuer::from_key_file(&key_file).unwrap();
        let held: Vec<_> = issuer.retired_key_ids().collect();
        assert!(!held.contains(&first.key_id()));
        assert_eq!(held, vec![second.new_key_id.as_str(), third.new_key_id.as_str()]);
        assert_eq!(issuer.key_id(), fourth.new_key_id);
        assert_eq!(issuer.verify(&first_token, claims_at(t0).issued_at), Err(TokenError::Invalid));
    }

    #[test]
    fn a_longer_token_lifetime_keeps_keys_longer() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("token.key");
        rotate_key_file(&key_file, TTL, at(1_000)).unwrap();
        rotate_key_file(&key_file, TTL, at(2_000)).unwrap();
        let day = Duration::from_secs(86_400);
        let later = rotate_key_file(&key_file, day, at(2_000 + 3_600)).unwrap();
        assert_eq!((later.retired_keys_kept, later.retired_keys_dropped), (2, 0));
    }

    #[test]
    fn without_a_key_file_a_first_key_is_written_and_nothing_retired() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("new/token.key");
        let rotation = rotate_key_file(&key_file, TTL, at(1)).unwrap();
        assert_eq!(rotation.retired_key_id, None);
        assert_eq!(rotation.retired_keys_kept, 0);
        assert_eq!(PasetoIssuer::from_key_file(&key_file).unwrap().key_id(), rotation.new_key_id);
    }

    #[test]
    fn an_interrupted_rotation_lists_the_current_key_once() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("token.key");
        let current = key_file::load_or_create(&key_file).unwrap();
        // The keyring was written, then the process died before replacing the key file.
        keyring::write(&retired_keys_path(&key_file), &[RetiredKey { key: current, retired_at: 10 }]).unwrap();
        let rotation = rotate_key_file(&key_file, TTL, at(20)).unwrap();
        assert_eq!((rotation.retired_keys_kept, rotation.retired_keys_dropped), (1, 0));
        assert_eq!(
            keyring::read(&retired_keys_path(&key_file)).unwrap(),
            vec![RetiredKey { key: current, retired_at: 20 }]
        );
    }

    #[test]
    fn an_unreadable_keyring_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("token.key");
        let current = key_file::load_or_create(&key_file).unwrap();
        let stored = fs::read(&key_file).unwrap();
        fs::write(retired_keys_path(&key_file), "garbage\n").unwrap();
        assert!(matches!(rotate_key_file(&key_file, TTL, at(1)), Err(CryptoError::KeyringFormat { line: 1, .. })));
        assert_eq!(fs::read(&key_file).unwrap(), stored);
        assert_eq!(key_file::load_or_create(&key_file).unwrap(), current);
        assert_eq!(fs::read_to_string(retired_keys_path(&key_file)).unwrap(), "garbage\n");
        // The server refuses to start on it too, rather than forgetting keys.
        assert!(matches!(PasetoIssuer::from_key_file(&key_file), Err(CryptoError::KeyringFormat { .. })));
    }
}
