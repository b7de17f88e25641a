//! New passwords under the contract's policy, and the secret wrapper for any password.

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

use super::Email;

/// Hard upper bound on a new password, in characters.
pub const MAX_PASSWORD_LEN: usize = 128;
/// Default lower bound (NIST SP 800-63B rev. 4, password-only sign-in).
pub const DEFAULT_MIN_PASSWORD_LEN: usize = 15;
/// The lowest minimum configuration may set.
pub const LOWEST_MIN_PASSWORD_LEN: usize = 8;

/// What new passwords must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_length: usize,
}

impl PasswordPolicy {
    /// A policy with the given minimum, clamped to `8..=128`.
    pub fn new(min_length: usize) -> Self {
        Self { min_length: min_length.clamp(LOWEST_MIN_PASSWORD_LEN, MAX_PASSWORD_LEN) }
    }

    /// The minimum length in characters.
    pub fn min_length(&self) -> usize {
        self.min_length
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self::new(DEFAULT_MIN_PASSWORD_LEN)
    }
}

/// Why a new password was refused. Never carries the password itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Shorter than the policy's minimum.
    #[error("password must be at least {0} characters")]
    TooShort(usize),
    /// Longer than [`MAX_PASSWORD_LEN`].
    #[error("password must be at most {MAX_PASSWORD_LEN} characters")]
    TooLong,
    /// Equal to the account's email address.
    #[error("password must not be the email address")]
    EqualsEmail,
    /// On a common-password list or trivially guessable.
    #[error("password is too common or too easy to guess")]
    TooCommon,
}

/// A password as typed at login: never validated, never printed.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    /// Wraps a raw password, NFKC-normalised so that login matches what registration hashed.
    pub fn new(raw: &str) -> Self {
        Self(SecretString::from(raw.nfkc().collect::<String>()))
    }

    /// The normalised password, for the hasher only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

/// A password that satisfies the policy, ready to be hashed.
#[derive(Clone, Debug)]
pub struct NewPassword(Password);

impl NewPassword {
    /// Normalises (NFKC) and checks a new password against `policy` and the owner's `email`
    /// (when known: a registration with a malformed address still gets its password checked).
    ///
    /// # Errors
    /// [`PasswordError`] naming the first rule broken.
    pub fn parse(raw: &str, email: Option<&Email>, policy: PasswordPolicy) -> Result<Self, PasswordError> {
        let password = Password::new(raw);
        let text = password.expose();
        let chars = text.chars().count();
        if chars < policy.min_length() {
            return Err(PasswordError::TooShort(policy.min_length()));
        }
        if chars > MAX_PASSWORD_LEN {
            return Err(PasswordError::TooLong);
        }
        if email.is_some_and(|email| text.trim().to_lowercase() == email.as_str()) {
            return Err(PasswordError::EqualsEmail);
        }
        if is_common(text, email) {
            return Err(PasswordError::TooCommon);
        }
        Ok(Self(password))
    }

    /// The validated password.
    pub fn as_password(&self) -> &Password {
        &self.0
    }
}

/// True when zxcvbn finds the password on one of its frequency lists (common passwords,
/// names, words) as a single token, or rates it as guessable within a million tries
/// (repeats, sequences, keyboard walks).
fn is_common(text: &str, email: Option<&Email>) -> bool {
    let inputs: Vec<&str> =
        email.map_or_else(Vec::new, |e| vec![e.as_str(), e.as_str().split('@').next().unwrap_or_default()]);
    let entropy = zxcvbn::zxcvbn(text, &inputs);
    if u8::from(entropy.score()) < 2 {
        return true;
    }
    let sequence = entropy.sequence();
    sequence.len() == 1 && matches!(sequence[0].pattern, zxcvbn::matching::patterns::MatchPattern::Dictionary(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("laura@example.com").unwrap()
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let policy = PasswordPolicy::new(15);
        // 15 multi-byte characters are enough.
        assert!(NewPassword::parse("ÿęşñøŵğţüķłżžčđ", Some(&email()), policy).is_ok());
        assert_eq!(NewPassword::parse("short pass", Some(&email()), policy).unwrap_err(), PasswordError::TooShort(15));
        let long: String = std::iter::repeat_n("Ab3$xY9!", 17).collect();
        assert_eq!(NewPassword::parse(&long, Some(&email()), policy).unwrap_err(), PasswordError::TooLong);
    }

    #[test]
    fn nfkc_normalises_before_counting_and_hashing() {
        // U+FB01 LATIN SMALL LIGATURE FI becomes "fi" under NFKC.
        let a = Password::new("\u{FB01}sh");
        assert_eq!(a.expose(), "fish");
    }

    #[test]
    fn rejects_email_as_password() {
        let policy = PasswordPolicy::new(8);
        assert_eq!(
            NewPassword::parse("Laura@Example.com", Some(&email()), policy).unwrap_err(),
            PasswordError::EqualsEmail
        );
    }

    #[test]
    fn rejects_common_and_repetitive_passwords() {
        let policy = PasswordPolicy::new(8);
        for bad in ["password", "aaaaaaaaaaaaaaaa", "1234567890123456", "qwertyuiop", "iloveyou"] {
            assert_eq!(NewPassword::parse(bad, Some(&email()), policy).err(), Some(PasswordError::TooCommon), "{bad}");
        }
    }

    #[test]
    fn accepts_a_passphrase() {
        assert!(NewPassword::parse("correct horse battery staple", Some(&email()), PasswordPolicy::default()).is_ok());
    }

    #[test]
    fn policy_minimum_is_clamped() {
        assert_eq!(PasswordPolicy::new(3).min_length(), 8);
        assert_eq!(PasswordPolicy::new(500).min_length(), 128);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let p = Password::new("hunter2-hunter2-hunter2");
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
