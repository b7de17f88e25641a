//! The text of every message Portcullis sends. Plain text: it renders everywhere and cannot
//! hide a link behind other words.

use std::time::Duration;

use crate::model::{Enrichment, Timestamp};

/// A subject and a body.
pub struct MailText {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// The verification code mail.
pub fn verification_code(product: &str, name: &str, code: &str, ttl: Duration) -> MailText {
    MailText {
        // The code stays out of the subject: subjects end up in logs, previews and notifications.
        subject: format!("Your {product} verification code"),
        body: format!(
            "Hello {name},\n\nYour verification code is:\n\n    {code}\n\nIt expires in {} minutes and works once.\n\
             If you did not create an account, ignore this message.\n\n-- {product}\n",
            ttl.as_secs() / 60
        ),
    }
}

/// The mail to a verified owner when someone tries to register their address again.
pub fn signup_attempt(product: &str, name: &str) -> MailText {
    MailText {
        subject: format!("Someone tried to sign up for {product} with your address"),
        body: format!(
            "Hello {name},\n\nSomeone tried to create a new {product} account with this email address,\n\
             which already has an account. Nothing was changed.\n\n\
             If this was you, sign in instead, or reset your password if you forgot it.\n\
             If it was not you, you can ignore this message.\n\n-- {product}\n"
        ),
    }
}

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

/// The new-sign-in security mail, with the one-click "Not you?" link.
pub fn new_sign_in(
    product: &str,
    name: &str,
    facts: &SignInFacts<'_>,
    revoke_url: &str,
    reset_hint_url: &str,
) -> MailText {
    MailText {
        subject: format!("New sign-in to your {product} account"),
        body: format!(
            "Hello {name},\n\nYour account was just signed in to.\n\n\
             Device:     {}\nLocation:   {}\nIP address: {}\nTime (UTC): {}\n\n\
             If this was you, there is nothing to do.\n\n\
             Not you? Sign this session out with one click:\n{revoke_url}\n\n\
             Then change your password: request a reset code at {reset_hint_url}\n\
             (POST /api/v1/auth/forgot-password) or change it while signed in.\n\n-- {product}\n",
            facts.device_line(),
            facts.location_line(),
            facts.enrichment.ip_address,
            facts.at.to_rfc3339(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Device, Location};

    fn enrichment(device: Device, location: Option<Location>) -> Enrichment {
        Enrichment { ip_address: "81.2.69.142".parse().unwrap(), user_agent: None, device, location }
    }

    #[test]
    fn describes_known_and_unknown_devices_and_places() {
        let e = enrichment(Device::default(), None);
        let f = SignInFacts { enrichment: &e, at: Timestamp::from_unix_millis(0) };
        assert_eq!(f.device_line(), "an unknown device");
        assert_eq!(f.location_line(), "an unknown location");

        let e = enrichment(
            Device {
                browser: Some("Firefox".into()),
                browser_version: Some("128".into()),
                os: Some("Linux".into()),
                ..Device::default()
            },
            Some(Location {
                city: Some("London".into()),
                country: Some("United Kingdom".into()),
                ..Location::default()
            }),
        );
        let f = SignInFacts { enrichment: &e, at: Timestamp::from_unix_millis(0) };
        assert_eq!(f.device_line(), "Firefox 128 on Linux");
        assert_eq!(f.location_line(), "London, United Kingdom");
    }

    #[test]
    fn alert_mail_states_everything_and_links() {
        let e = enrichment(Device::default(), None);
        let f = SignInFacts { enrichment: &e, at: Timestamp::from_unix_millis(0) };
        let m = new_sign_in("Portcullis", "Laura", &f, "https://x/revoke?token=t", "https://x");
        for needle in
            ["81.2.69.142", "1970-01-01T00:00:00.000Z", "https://x/revoke?token=t", "unknown device", "password"]
        {
            assert!(m.body.contains(needle), "{needle}");
        }
    }
}
