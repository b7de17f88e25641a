//! The content of every message Portcullis sends: a subject, a plain-text body and an HTML
//! body, from minijinja templates: the built-in ones in `crates/domain/templates/`, any of
//! which an embedder or operator can replace ([`MailTemplates::with_overrides`]).
//!
//! The text part is the reference: it renders everywhere and cannot hide a link behind other
//! words, so it states every fact and spells every link out. The HTML part says the same with
//! some layout; user-controlled values (display name, device, location) are HTML-escaped.
//! Subjects never hold a code: subjects end up in logs, previews and lock-screen
//! notifications, so a replaced subject template that prints one is refused.

mod engine;
mod facts;
mod set;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::time::Duration;

use minijinja::{Value, context};

use crate::model::{Enrichment, Timestamp};
pub use facts::{SignInFacts, SignedInWith};
pub use set::{MailTemplates, TEMPLATE_NAMES, TemplateError};

/// A subject, a plain-text body and, normally, an HTML body.
#[derive(Clone, Debug)]
pub struct MailText {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// HTML body; `None` only if its template failed to render (the mail then goes out as
    /// plain text rather than not at all).
    pub html: Option<String>,
}

/// One message about to be rendered: which templates, the built-in subject (used when the
/// subject template fails) and the values the templates may use.
struct Prepared {
    stem: &'static str,
    subject: String,
    ctx: Value,
    /// A value that must never appear in the subject (the code of a code mail).
    secret: Option<String>,
}

impl Prepared {
    fn new(stem: &'static str, subject: String, product: &str, name: &str, ctx: Value) -> Self {
        let ctx = context! { product => product, name => name, ..ctx };
        Self { stem, subject, ctx, secret: None }
    }

    fn with_secret(mut self, secret: &str) -> Self {
        self.secret = Some(secret.to_owned());
        self
    }
}

/// "7 days", "1 day": a link's lifetime in whole days, rounded down so a mail never promises
/// more time than the link has; under a day, as [`lifetime`] says it.
fn long_lifetime(ttl: Duration) -> String {
    match ttl.as_secs() / 86_400 {
        0 => lifetime(ttl),
        1 => "1 day".to_owned(),
        days => format!("{days} days"),
    }
}

/// "15 minutes", "1 minute": a code's lifetime in whole minutes, rounded up so a mail never
/// promises more time than the code has.
fn lifetime(ttl: Duration) -> String {
    let minutes = ttl.as_secs().div_ceil(60).max(1);
    if minutes == 1 { "1 minute".to_owned() } else { format!("{minutes} minutes") }
}

impl MailTemplates {
    /// The verification code mail.
    pub fn verification_code(&self, product: &str, name: &str, code: &str, ttl: Duration) -> MailText {
        self.render(prepare_verification_code(product, name, code, ttl))
    }

    /// The mail to a verified owner when someone tries to register their address again.
    pub fn signup_attempt(&self, product: &str, name: &str) -> MailText {
        self.render(prepare_signup_attempt(product, name))
    }

    /// The new-sign-in security mail, with the one-click "Not you?" link and what to do next:
    /// change the password (`base_url` is the public URL, where a reset code is requested),
    /// or, after a passkey sign-in, review the passkeys (the template's `passkey` is true).
    pub fn new_sign_in(
        &self,
        product: &str,
        name: &str,
        facts: &SignInFacts<'_>,
        with: SignedInWith,
        revoke_url: &str,
        base_url: &str,
    ) -> MailText {
        self.render(prepare_new_sign_in(product, name, facts, with, revoke_url, base_url))
    }

    /// The notice that a recovery code signed the user in, with how many are left.
    pub fn recovery_code_used(&self, product: &str, name: &str, remaining: u32) -> MailText {
        self.render(prepare_recovery_code_used(product, name, remaining))
    }

    /// The notice that the first step was right but the second factor's codes were wrong too
    /// many times: whoever tried knows the password, or (`first` being
    /// [`SignedInWith::EmailCode`]) can read the mailbox, and the advice says which to
    /// secure.
    pub fn mfa_attempts_exceeded(&self, product: &str, name: &str, first: SignedInWith) -> MailText {
        self.render(prepare_mfa_attempts_exceeded(product, name, first))
    }

    /// The notice that the account's second factors changed; `change` says how, in one
    /// sentence ("A second factor, Phone, was added to your account.").
    pub fn mfa_changed(&self, product: &str, name: &str, change: &str) -> MailText {
        self.render(prepare_mfa_changed(product, name, change))
    }

    /// The password reset code mail.
    pub fn password_reset_code(&self, product: &str, name: &str, code: &str, ttl: Duration) -> MailText {
        self.render(prepare_password_reset_code(product, name, code, ttl))
    }

    /// The code that signs in without the password (`POST /auth/login/code`).
    pub fn sign_in_code(&self, product: &str, name: &str, code: &str, ttl: Duration) -> MailText {
        self.render(prepare_sign_in_code(product, name, code, ttl))
    }

    /// The code that confirms a new address, mailed to that address.
    pub fn email_change_code(&self, product: &str, name: &str, code: &str, ttl: Duration) -> MailText {
        self.render(prepare_email_change_code(product, name, code, ttl))
    }

    /// The notice to the account's address that a move to `new_email` was asked for, with
    /// what to do if it was not the owner (`base_url` is where a reset code is requested).
    pub fn email_change_requested(&self, product: &str, name: &str, new_email: &str, base_url: &str) -> MailText {
        self.render(prepare_email_change_requested(product, name, new_email, base_url))
    }

    /// To an address that is taken (or kept for a reversal) when another account asked to
    /// move to it: sent instead of the code, so the requester's answer is the same.
    pub fn email_in_use(&self, product: &str, name: &str) -> MailText {
        self.render(prepare_email_in_use(product, name))
    }

    /// To the new address once the account moved there.
    pub fn email_changed_new(&self, product: &str, name: &str) -> MailText {
        self.render(prepare_email_changed_new(product, name))
    }

    /// To the old address once the account moved away: the new address, and the single-use
    /// link (`revert_url`, working for `revert_ttl`) that moves it back and signs every
    /// session out.
    pub fn email_changed_old(
        &self,
        product: &str,
        name: &str,
        new_email: &str,
        revert_url: &str,
        revert_ttl: Duration,
    ) -> MailText {
        self.render(prepare_email_changed_old(product, name, new_email, revert_url, revert_ttl))
    }

    /// To the restored address after its link undid a change, with how many second factors
    /// added since were removed.
    pub fn email_change_reverted(&self, product: &str, name: &str, base_url: &str, factors_removed: usize) -> MailText {
        self.render(prepare_email_change_reverted(product, name, base_url, factors_removed))
    }

    /// The notice that the password was changed at `at`, from the request described by `from`
    /// when known, with what to do if it was not the owner (`base_url` is the public URL, where
    /// a reset code is requested).
    pub fn password_changed(
        &self,
        product: &str,
        name: &str,
        at: Timestamp,
        from: Option<&Enrichment>,
        base_url: &str,
    ) -> MailText {
        self.render(prepare_password_changed(product, name, at, from, base_url))
    }

    /// The notice that a session was signed out because one of its refresh tokens was
    /// presented again after it had been exchanged: `session` describes the session's
    /// sign-in, `reuse` the request that presented the spent token.
    pub fn token_reuse(
        &self,
        product: &str,
        name: &str,
        session: &SignInFacts<'_>,
        reuse: &SignInFacts<'_>,
        base_url: &str,
    ) -> MailText {
        self.render(prepare_token_reuse(product, name, session, reuse, base_url))
    }
}

fn prepare_recovery_code_used(product: &str, name: &str, remaining: u32) -> Prepared {
    Prepared::new(
        "recovery_code_used",
        format!("A recovery code was used to sign in to {product}"),
        product,
        name,
        context! { remaining => remaining },
    )
}

fn prepare_mfa_attempts_exceeded(product: &str, name: &str, first: SignedInWith) -> Prepared {
    let email_code = first == SignedInWith::EmailCode;
    let subject = if email_code {
        format!("A {product} sign-in code was used, but the second step failed")
    } else {
        format!("Your {product} password was used, but the second step failed")
    };
    Prepared::new("mfa_attempts_exceeded", subject, product, name, context! { email_code })
}

fn prepare_mfa_changed(product: &str, name: &str, change: &str) -> Prepared {
    Prepared::new(
        "mfa_changed",
        format!("Your {product} sign-in settings changed"),
        product,
        name,
        context! { change => change },
    )
}

fn prepare_verification_code(product: &str, name: &str, code: &str, ttl: Duration) -> Prepared {
    Prepared::new(
        "verification_code",
        format!("Your {product} verification code"),
        product,
        name,
        context! { code => code, lifetime => lifetime(ttl) },
    )
    .with_secret(code)
}

fn prepare_signup_attempt(product: &str, name: &str) -> Prepared {
    Prepared::new(
        "signup_attempt",
        format!("Someone tried to sign up for {product} with your address"),
        product,
        name,
        context! {},
    )
}

fn prepare_new_sign_in(
    product: &str,
    name: &str,
    facts: &SignInFacts<'_>,
    with: SignedInWith,
    revoke_url: &str,
    base_url: &str,
) -> Prepared {
    Prepared::new(
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
            passkey => with == SignedInWith::Passkey,
            email_code => with == SignedInWith::EmailCode,
        },
    )
}

fn prepare_password_reset_code(product: &str, name: &str, code: &str, ttl: Duration) -> Prepared {
    Prepared::new(
        "password_reset_code",
        format!("Your {product} password reset code"),
        product,
        name,
        context! { code => code, lifetime => lifetime(ttl) },
    )
    .with_secret(code)
}

fn prepare_sign_in_code(product: &str, name: &str, code: &str, ttl: Duration) -> Prepared {
    Prepared::new(
        "sign_in_code",
        format!("Your {product} sign-in code"),
        product,
        name,
        context! { code => code, lifetime => lifetime(ttl) },
    )
    .with_secret(code)
}

fn prepare_email_change_code(product: &str, name: &str, code: &str, ttl: Duration) -> Prepared {
    Prepared::new(
        "email_change_code",
        format!("Confirm your new {product} email address"),
        product,
        name,
        context! { code => code, lifetime => lifetime(ttl) },
    )
    .with_secret(code)
}

fn prepare_email_change_requested(product: &str, name: &str, new_email: &str, base_url: &str) -> Prepared {
    Prepared::new(
        "email_change_requested",
        format!("A change of your {product} email address was requested"),
        product,
        name,
        context! { new_email => new_email, base_url => base_url },
    )
}

fn prepare_email_in_use(product: &str, name: &str) -> Prepared {
    Prepared::new(
        "email_in_use",
        format!("Someone tried to use your address for another {product} account"),
        product,
        name,
        context! {},
    )
}

fn prepare_email_changed_new(product: &str, name: &str) -> Prepared {
    Prepared::new("email_changed_new", format!("This is now your {product} email address"), product, name, context! {})
}

fn prepare_email_changed_old(
    product: &str,
    name: &str,
    new_email: &str,
    revert_url: &str,
    revert_ttl: Duration,
) -> Prepared {
    Prepared::new(
        "email_changed_old",
        format!("Your {product} email address was changed"),
        product,
        name,
        context! { new_email => new_email, revert_url => revert_url, revert_lifetime => long_lifetime(revert_ttl) },
    )
}

fn prepare_email_change_reverted(product: &str, name: &str, base_url: &str, factors_removed: usize) -> Prepared {
    Prepared::new(
        "email_change_reverted",
        format!("Your {product} email address was restored"),
        product,
        name,
        context! { base_url => base_url, factors_removed => factors_removed },
    )
}

fn prepare_password_changed(
    product: &str,
    name: &str,
    at: Timestamp,
    from: Option<&Enrichment>,
    base_url: &str,
) -> Prepared {
    let facts = from.map(|enrichment| SignInFacts { enrichment, at });
    let ip: Option<IpAddr> = from.map(|e| e.ip_address);
    Prepared::new(
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

fn prepare_token_reuse(
    product: &str,
    name: &str,
    session: &SignInFacts<'_>,
    reuse: &SignInFacts<'_>,
    base_url: &str,
) -> Prepared {
    Prepared::new(
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
