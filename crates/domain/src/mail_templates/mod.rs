//! The content of every message Portcullis sends: a subject, a plain-text body and an HTML
//! body, from the minijinja templates in `crates/domain/templates/`.
//!
//! The text part is the reference: it renders everywhere and cannot hide a link behind other
//! words, so it states every fact and spells every link out. The HTML part says the same with
//! some layout; user-controlled values (display name, device, location) are HTML-escaped.
//! Subjects are built here, not in templates, and never hold a code: subjects end up in logs,
//! previews and lock-screen notifications.

mod engine;
mod facts;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::time::Duration;

use minijinja::{Value, context};

use crate::model::{Enrichment, Timestamp};
pub use facts::SignInFacts;

/// A subject, a plain-text body and, normally, an HTML body.
pub struct MailText {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// HTML body; `None` only if its template failed to render (the mail then goes out as
    /// plain text rather than not at all).
    pub html: Option<String>,
}

impl MailText {
    /// Renders the `stem` templates with `ctx` plus the fields every template uses.
    fn render(stem: &str, subject: String, product: &str, name: &str, ctx: Value) -> Self {
        let ctx = context! { subject => subject.as_str(), product => product, name => name, ..ctx };
        let (body, html) = engine::render(stem, &ctx);
        Self { subject, body, html }
    }
}

/// "15 minutes", "1 minute": a code's lifetime in whole minutes, rounded up so a mail never
/// promises more time than the code has.
fn lifetime(ttl: Duration) -> String {
    let minutes = ttl.as_secs().div_ceil(60).max(1);
    if minutes == 1 { "1 minute".to_owned() } else { format!("{minutes} minutes") }
}

/// The verification code mail.
pub fn verification_code(product: &str, name: &str, code: &str, ttl: Duration) -> MailText {
    MailText::render(
        "verification_code",
        format!("Your {product} verification code"),
        product,
        name,
        context! { code => code, lifetime => lifetime(ttl) },
    )
}

/// The mail to a verified owner when someone tries to register their address again.
pub fn signup_attempt(product: &str, name: &str) -> MailText {
    MailText::render(
        "signup_attempt",
        format!("Someone tried to sign up for {product} with your address"),
        product,
        name,
        context! {},
    )
}

/// The new-sign-in security mail, with the one-click "Not you?" link and how to change the
/// password (`base_url` is the public URL, where a reset code is requested).
pub fn new_sign_in(product: &str, name: &str, facts: &SignInFacts<'_>, revoke_url: &str, base_url: &str) -> MailText {
    MailText::render(
        "new_sign_in",
        format!("New sign-in to your {product} account"),
        product,
        name,
        context! {
            device => facts.device_line(),
            location => facts.location_line(),
            ip => facts.enrichment.ip_address.to_string(),
            time => facts.at.to_rfc3339(),
            revoke_url => revoke_url,
            base_url => base_url,
        },
    )
}

/// The password reset code mail.
pub fn password_reset_code(product: &str, name: &str, code: &str, ttl: Duration) -> MailText {
    MailText::render(
        "password_reset_code",
        format!("Your {product} password reset code"),
        product,
        name,
        context! { code => code, lifetime => lifetime(ttl) },
    )
}

/// The notice that the password was changed at `at`, from the request described by `from`
/// when known, with what to do if it was not the owner (`base_url` is the public URL, where a
/// reset code is requested).
pub fn password_changed(
    product: &str,
    name: &str,
    at: Timestamp,
    from: Option<&Enrichment>,
    base_url: &str,
) -> MailText {
    let facts = from.map(|enrichment| SignInFacts { enrichment, at });
    let ip: Option<IpAddr> = from.map(|e| e.ip_address);
    MailText::render(
        "password_changed",
        format!("Your {product} password was changed"),
        product,
        name,
        context! {
            time => at.to_rfc3339(),
            ip => ip.map(|ip| ip.to_string()),
            device => facts.as_ref().map(SignInFacts::device_line),
            location => facts.as_ref().map(SignInFacts::location_line),
            base_url => base_url,
        },
    )
}

/// The notice that a session was signed out because one of its refresh tokens was presented
/// again after it had been exchanged: `session` describes the session's sign-in, `reuse` the
/// request that presented the spent token.
pub fn token_reuse(
    product: &str,
    name: &str,
    session: &SignInFacts<'_>,
    reuse: &SignInFacts<'_>,
    base_url: &str,
) -> MailText {
    MailText::render(
        "token_reuse",
        format!("We signed out one of your {product} sessions"),
        product,
        name,
        context! {
            signed_in_at => session.at.to_rfc3339(),
            device => session.device_line(),
            location => session.location_line(),
            time => reuse.at.to_rfc3339(),
            ip => reuse.enrichment.ip_address.to_string(),
            base_url => base_url,
        },
    )
}
