//! The normalised email address every account is keyed by.

use std::fmt;

/// Longest address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// An email address, trimmed and lower-cased, syntactically plausible.
///
/// Matching is case-insensitive because the stored form is already lower case.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

/// Why a string is not an acceptable email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// Nothing but white space.
    #[error("email is required")]
    Empty,
    /// Longer than [`MAX_EMAIL_LEN`].
    #[error("email must be at most {MAX_EMAIL_LEN} characters")]
    TooLong,
    /// Not of the form `local@domain.tld`.
    #[error("email is not a valid address")]
    Invalid,
}

impl Email {
    /// Trims, lower-cases and checks the address.
    ///
    /// # Errors
    /// [`EmailError`] when the address is empty, too long or malformed.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let normalised = raw.trim().to_lowercase();
        if normalised.is_empty() {
            return Err(EmailError::Empty);
        }
        if normalised.chars().count() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = normalised.rsplit_once('@').ok_or(EmailError::Invalid)?;
        let domain_ok = !domain.is_empty()
            && domain.len() <= 253
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"\"(),:;<>[\\]".contains(c));
        if domain_ok && local_ok { Ok(Self(normalised)) } else { Err(EmailError::Invalid) }
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_space() {
        let e = Email::parse("  Laura@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "laura@example.com");
    }

    #[test]
    fn rejects_malformed() {
        for bad in
            ["", "   ", "no-at", "a@b", "@example.com", "a@.com", "a@b..com", "a b@c.com", "a@-x.com", "a..b@c.com"]
        {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn rejects_too_long() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn accepts_plus_and_subdomains() {
        assert!(Email::parse("first.last+tag@mail.example.co.uk").is_ok());
    }
}
