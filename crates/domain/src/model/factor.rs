//! Second factors: what an account has besides its password, and what a session proved.

use super::{FactorId, Timestamp, TotpStep, UserId};

/// What kind of second factor a [`Factor`] is. Recovery codes are not factors of their own:
/// they come with the first active factor and go with the last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FactorKind {
    /// An authenticator app (RFC 6238).
    Totp,
    /// A passkey (WebAuthn); its credential is a [`super::Passkey`] beside the factor row.
    Webauthn,
}

impl FactorKind {
    /// Storage and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Webauthn => "webauthn",
        }
    }
    /// Parses the storage name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "totp" => Some(Self::Totp),
            "webauthn" => Some(Self::Webauthn),
            _ => None,
        }
    }
}

/// The label a user gives a factor ("Phone", "YubiKey"): trimmed, 1 to 64 characters, no
/// control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactorName(String);

/// The name is empty, too long, or holds control characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("name must be 1 to 64 characters without control characters")]
pub struct FactorNameError;

impl FactorName {
    /// Longest name, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Checks and trims a name.
    ///
    /// # Errors
    /// [`FactorNameError`] when it is empty after trimming, longer than
    /// [`FactorName::MAX_CHARS`], or holds a control character.
    pub fn parse(raw: &str) -> Result<Self, FactorNameError> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS || name.chars().any(char::is_control) {
            return Err(FactorNameError);
        }
        Ok(Self(name.to_owned()))
    }
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the store keeps of a secret the server must read back (a TOTP factor's seed): the
/// secret encrypted and authenticated by a [`crate::ports::SecretCipher`]. `Debug` shows
/// only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(pub Vec<u8>);

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedSecret({} bytes)", self.0.len())
    }
}

/// A second factor of an account. It starts pending (`confirmed_at` is `None`): only a code
/// from the authenticator activates it, so a seed the user never scanned cannot lock them
/// out.
#[derive(Clone, Debug, PartialEq)]
pub struct Factor {
    /// Id; also the context its secret is sealed under, so a sealed seed copied onto another
    /// row does not open.
    pub id: FactorId,
    /// Owner.
    pub user_id: UserId,
    /// Kind.
    pub kind: FactorKind,
    /// The user's label.
    pub name: FactorName,
    /// The sealed seed.
    pub secret: SealedSecret,
    /// Creation time (a pending factor expires counted from it).
    pub created_at: Timestamp,
    /// When a code activated it; `None` while pending.
    pub confirmed_at: Option<Timestamp>,
    /// The last TOTP step accepted from it (the confirming code's included): that step and
    /// every earlier one are refused from then on.
    pub last_used_step: Option<TotpStep>,
    /// When it last signed the user in.
    pub last_used_at: Option<Timestamp>,
}

impl Factor {
    /// Active: confirmed, so it is required at sign-in.
    pub fn is_active(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// How sure a session is of who holds it (NIST SP 800-63B authenticator assurance levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Aal {
    /// One factor (a password).
    One,
    /// Two factors (a password and a code), or a user-verified passkey.
    Two,
}

impl Aal {
    /// The number in tokens and API bodies.
    pub fn as_u8(self) -> u8 {
        match self {
            Self::One => 1,
            Self::Two => 2,
        }
    }
    /// Parses the number.
    pub fn from_u8(level: u8) -> Option<Self> {
        match level {
            1 => Some(Self::One),
            2 => Some(Self::Two),
            _ => None,
        }
    }
}

/// One way a session's holder proved who they are (RFC 8176 names where one exists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// A password (`pwd`).
    Password,
    /// A one-time code from an authenticator app (`otp`).
    Totp,
    /// A recovery code (`recovery_code`; RFC 8176 has no name for it).
    RecoveryCode,
    /// A passkey bound to one device (`hwk`: its key never leaves the authenticator).
    HardwareKey,
    /// A passkey synced between devices (`swk`: backed up, so the key exists elsewhere).
    SoftwareKey,
    /// A one-time code mailed to the account's address (`email`; RFC 8176 has no name for
    /// it, and its `otp` already stands for the authenticator app here).
    EmailCode,
}

impl AuthMethod {
    /// The `amr` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::Totp => "otp",
            Self::RecoveryCode => "recovery_code",
            Self::HardwareKey => "hwk",
            Self::SoftwareKey => "swk",
            Self::EmailCode => "email",
        }
    }
    /// Parses an `amr` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pwd" => Some(Self::Password),
            "otp" => Some(Self::Totp),
            "recovery_code" => Some(Self::RecoveryCode),
            "hwk" => Some(Self::HardwareKey),
            "swk" => Some(Self::SoftwareKey),
            "email" => Some(Self::EmailCode),
            _ => None,
        }
    }
}

/// A recovery code as stored: only its keyed digest.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRecoveryCode {
    /// Keyed digest of the normalised code ([`super::RecoveryCode::expose`]).
    pub digest: super::SecretDigest,
    /// When it signed the user in; a used code never works again.
    pub used_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(FactorName::parse("  Phone ").unwrap().as_str(), "Phone");
        assert!(FactorName::parse(&"é".repeat(64)).is_ok());
        for bad in ["", "   ", "a\u{7}b", "line\nbreak"] {
            assert!(FactorName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(FactorName::parse(&"é".repeat(65)).is_err());
    }

    #[test]
    fn kinds_and_methods_round_trip() {
        for kind in [FactorKind::Totp, FactorKind::Webauthn] {
            assert_eq!(FactorKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(FactorKind::parse("sms"), None);
        for method in [
            AuthMethod::Password,
            AuthMethod::Totp,
            AuthMethod::RecoveryCode,
            AuthMethod::HardwareKey,
            AuthMethod::SoftwareKey,
        ] {
            assert_eq!(AuthMethod::parse(method.as_str()), Some(method));
        }
        assert_eq!(AuthMethod::Totp.as_str(), "otp");
        for level in [Aal::One, Aal::Two] {
            assert_eq!(Aal::from_u8(level.as_u8()), Some(level));
        }
        assert_eq!(Aal::from_u8(3), None);
        assert!(Aal::Two > Aal::One);
    }

    #[test]
    fn sealed_secret_debug_shows_only_its_length() {
        assert_eq!(format!("{:?}", SealedSecret(vec![7; 57])), "SealedSecret(57 bytes)");
    }
}
