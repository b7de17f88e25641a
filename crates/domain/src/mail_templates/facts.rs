//! Plain-words descriptions of where and with what something happened.

use crate::model::{Enrichment, Timestamp};

/// What the new-sign-in alert says, shared by the mail and the in-app notification.
pub struct SignInFacts<'a> {
    /// Where and with what.
    pub enrichment: &'a Enrichment,
    /// When.
    pub at: Timestamp,
}

impl SignInFacts<'_> {
    /// "Chrome 120 on Mac OS X 14" or "an unknown device".
    pub fn device_line(&self) -> String {
        let d = &self.enrichment.device;
        let join = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => Some(format!("{a} {b}")),
            (Some(a), None) => Some(a.clone()),
            _ => None,
        };
        match (join(&d.browser, &d.browser_version), join(&d.os, &d.os_version)) {
            (Some(b), Some(o)) => format!("{b} on {o}"),
            (Some(b), None) => b,
            (None, Some(o)) => o,
            (None, None) => "an unknown device".to_owned(),
        }
    }

    /// "London, England, United Kingdom" or "an unknown location".
    pub fn location_line(&self) -> String {
        let Some(loc) = &self.enrichment.location else {
            return "an unknown location".to_owned();
        };
        let parts: Vec<&str> =
            [&loc.city, &loc.region, &loc.country].into_iter().filter_map(|p| p.as_deref()).collect();
        if parts.is_empty() { "an unknown location".to_owned() } else { parts.join(", ") }
    }
}

/// What a new sign-in was made with, which decides the alert's advice: after a password,
/// change it; after a passkey (which cannot be guessed), review the passkeys; after a mailed
/// code, secure the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignedInWith {
    /// A password, with or without a second factor.
    Password,
    /// A passkey and no password.
    Passkey,
    /// A code mailed to the account's address, with or without a second factor.
    EmailCode,
}
