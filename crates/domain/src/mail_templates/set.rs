//! [`MailTemplates`]: the compiled set of templates a service renders its mail with.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use minijinja::{Environment, Value, context};

use super::engine::{self, BUILTIN};
use super::{MailText, Prepared, SignInFacts};
use crate::model::{Enrichment, Timestamp};

/// Every template name a set holds, and so every name an override may use: for each message,
/// `<message>.subject.j2` (one line), `<message>.txt.j2` and `<message>.html.j2`, plus
/// `layout.html.j2`, the frame the HTML parts extend.
pub const TEMPLATE_NAMES: &[&str] = &[
    "layout.html.j2",
    "verification_code.subject.j2",
    "verification_code.txt.j2",
    "verification_code.html.j2",
    "signup_attempt.subject.j2",
    "signup_attempt.txt.j2",
    "signup_attempt.html.j2",
    "new_sign_in.subject.j2",
    "new_sign_in.txt.j2",
    "new_sign_in.html.j2",
    "password_reset_code.subject.j2",
    "password_reset_code.txt.j2",
    "password_reset_code.html.j2",
    "sign_in_code.subject.j2",
    "sign_in_code.txt.j2",
    "sign_in_code.html.j2",
    "email_change_code.subject.j2",
    "email_change_code.txt.j2",
    "email_change_code.html.j2",
    "email_change_requested.subject.j2",
    "email_change_requested.txt.j2",
    "email_change_requested.html.j2",
    "email_in_use.subject.j2",
    "email_in_use.txt.j2",
    "email_in_use.html.j2",
    "email_changed_new.subject.j2",
    "email_changed_new.txt.j2",
    "email_changed_new.html.j2",
    "email_changed_old.subject.j2",
    "email_changed_old.txt.j2",
    "email_changed_old.html.j2",
    "email_change_reverted.subject.j2",
    "email_change_reverted.txt.j2",
    "email_change_reverted.html.j2",
    "password_changed.subject.j2",
    "password_changed.txt.j2",
    "password_changed.html.j2",
    "token_reuse.subject.j2",
    "token_reuse.txt.j2",
    "token_reuse.html.j2",
    "recovery_code_used.subject.j2",
    "recovery_code_used.txt.j2",
    "recovery_code_used.html.j2",
    "mfa_attempts_exceeded.subject.j2",
    "mfa_attempts_exceeded.txt.j2",
    "mfa_attempts_exceeded.html.j2",
    "mfa_changed.subject.j2",
    "mfa_changed.txt.j2",
    "mfa_changed.html.j2",
];

/// Why a set of templates was refused. Each names the template (its file name).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TemplateError {
    /// Not one of [`TEMPLATE_NAMES`] (a typo would otherwise be silently ignored).
    #[error("{name}: not a mail template name (expected one of {})", TEMPLATE_NAMES.join(", "))]
    UnknownName {
        /// The name given.
        name: String,
    },
    /// The template does not parse.
    #[error("{name}: syntax error: {message}")]
    Syntax {
        /// The template.
        name: String,
        /// What minijinja reports, with the line.
        message: String,
    },
    /// The template uses a variable its message does not provide.
    #[error("{name}: unknown variable `{variable}` (this message provides {known})")]
    UnknownVariable {
        /// The template.
        name: String,
        /// The variable.
        variable: String,
        /// The variables it may use, comma-separated.
        known: String,
    },
    /// The template fails when rendered with sample values.
    #[error("{name}: does not render: {message}")]
    Render {
        /// The template.
        name: String,
        /// What minijinja reports.
        message: String,
    },
    /// A subject template prints the code the message carries.
    #[error("{name}: a subject must not show the code (subjects reach logs and lock screens)")]
    CodeInSubject {
        /// The template.
        name: String,
    },
}

/// The compiled mail templates of a service. Cheap to clone.
///
/// [`MailTemplates::default`] is the built-in English set. Replace any of its templates with
/// [`MailTemplates::with_overrides`], which checks the whole result before anything is sent:
/// every template parses, uses only the variables its message provides, renders with sample
/// values, and no subject shows a code. A service takes a set with
/// [`crate::Portcullis::with_mail_templates`].
///
/// ```
/// use portcullis_domain::mail_templates::{MailTemplates, TemplateError};
///
/// let branded = MailTemplates::with_overrides([(
///     "verification_code.subject.j2".to_owned(),
///     "Ihr {{ product }}-Bestätigungscode".to_owned(),
/// )])
/// .unwrap();
/// let mail = branded.verification_code("Acme", "Laura", "493817", std::time::Duration::from_secs(900));
/// assert_eq!(mail.subject, "Ihr Acme-Bestätigungscode");
///
/// let typo = MailTemplates::with_overrides([("verification_code.txt.j2".to_owned(), "{{ cdoe }}".to_owned())]);
/// assert!(matches!(typo, Err(TemplateError::UnknownVariable { .. })));
/// ```
#[derive(Clone)]
pub struct MailTemplates {
    env: Arc<Environment<'static>>,
}

impl fmt::Debug for MailTemplates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailTemplates").finish_non_exhaustive()
    }
}

impl Default for MailTemplates {
    /// The built-in set, compiled once per process.
    fn default() -> Self {
        static BUILT_IN: OnceLock<Arc<Environment<'static>>> = OnceLock::new();
        let env = BUILT_IN.get_or_init(|| {
            let mut env = engine::configured();
            for (name, source) in BUILTIN {
                // The tests render every built-in template, so none fails to parse.
                let _ = env.add_template(name, source);
            }
            Arc::new(env)
        });
        Self { env: Arc::clone(env) }
    }
}

impl MailTemplates {
    /// The built-in set with each `(name, source)` replacing the template of that name.
    ///
    /// # Errors
    /// [`TemplateError`] naming the first template that is unknown, does not parse, uses a
    /// variable its message lacks, fails with sample values, or shows a code in a subject.
    pub fn with_overrides(overrides: impl IntoIterator<Item = (String, String)>) -> Result<Self, TemplateError> {
        let mut env = engine::configured();
        for (name, source) in BUILTIN {
            env.add_template(name, source)
                .map_err(|e| TemplateError::Syntax { name: (*name).to_owned(), message: e.to_string() })?;
        }
        for (name, source) in overrides {
            if !TEMPLATE_NAMES.contains(&name.as_str()) {
                return Err(TemplateError::UnknownName { name });
            }
            if let Err(e) = env.add_template_owned(name.clone(), source) {
                return Err(TemplateError::Syntax { name, message: e.to_string() });
            }
        }
        let set = Self { env: Arc::new(env) };
        set.check()?;
        Ok(set)
    }

    /// Renders one message. Never fails, by design: a mail that must go out (a code, a
    /// security alert) matters more than its looks. A failed subject takes the built-in
    /// wording, a failed HTML part is dropped (the mail goes out as plain text), and a failed
    /// text part is replaced by the facts listed without a template.
    pub(super) fn render(&self, message: Prepared) -> MailText {
        let Prepared { stem, subject: fallback_subject, ctx, secret } = message;
        let subject = engine::render_one(&self.env, &format!("{stem}.subject.j2"), &ctx)
            .ok()
            .map(|s| one_line(&s))
            .filter(|s| !s.is_empty() && secret.as_deref().is_none_or(|code| !s.contains(code)))
            .unwrap_or(fallback_subject);
        let ctx = context! { subject => subject.as_str(), ..ctx };
        let body = engine::render_one(&self.env, &format!("{stem}.txt.j2"), &ctx)
            .unwrap_or_else(|_| engine::fallback_text(&ctx));
        let html = engine::render_one(&self.env, &format!("{stem}.html.j2"), &ctx).ok();
        MailText { subject, body, html }
    }

    /// Every template against every message with sample values: see [`Self::with_overrides`].
    fn check(&self) -> Result<(), TemplateError> {
        let frame: BTreeSet<String> = ["subject", "product", "name"].into_iter().map(str::to_owned).collect();
        self.check_variables("layout.html.j2", &frame)?;
        for message in samples() {
            let stem = message.stem;
            let mut known = keys(&message.ctx);
            known.insert("subject".to_owned());
            for part in ["subject", "txt", "html"] {
                let name = format!("{stem}.{part}.j2");
                let provided = if part == "subject" {
                    // The subject is rendered first, so it cannot print itself.
                    known.iter().filter(|k| *k != "subject").cloned().collect()
                } else {
                    known.clone()
                };
                self.check_variables(&name, &provided)?;
                let ctx = context! { subject => "Sample subject", ..message.ctx.clone() };
                let out = engine::render_one(&self.env, &name, &ctx)
                    .map_err(|e| TemplateError::Render { name: name.clone(), message: e.to_string() })?;
                if part == "subject" && message.secret.as_deref().is_some_and(|code| out.contains(code)) {
                    return Err(TemplateError::CodeInSubject { name });
                }
            }
        }
        Ok(())
    }

    /// Fails when template `name` reads a variable outside `provided`, on any branch (not
    /// only on the ones the sample values take).
    fn check_variables(&self, name: &str, provided: &BTreeSet<String>) -> Result<(), TemplateError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| TemplateError::Syntax { name: name.to_owned(), message: e.to_string() })?;
        let mut used: Vec<String> = template.undeclared_variables(false).into_iter().collect();
        used.sort();
        match used.into_iter().find(|v| !provided.contains(v)) {
            None => Ok(()),
            Some(variable) => Err(TemplateError::UnknownVariable {
                name: name.to_owned(),
                variable,
                known: provided.iter().cloned().collect::<Vec<_>>().join(", "),
            }),
        }
    }
}

/// A subject on one line: line breaks (a template's trailing newline, or an injected header)
/// become spaces, and the ends are trimmed.
fn one_line(s: &str) -> String {
    s.split(['\r', '\n']).map(str::trim).filter(|part| !part.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The variable names of a context.
fn keys(ctx: &Value) -> BTreeSet<String> {
    ctx.try_iter().map(|keys| keys.map(|k| k.to_string()).collect()).unwrap_or_default()
}

/// Every message with sample values, taking each optional part both ways.
fn samples() -> Vec<Prepared> {
    let enrichment = Enrichment {
        ip_address: std::net::IpAddr::from([192, 0, 2, 1]),
        user_agent: Some("Sample/1.0".to_owned()),
        device: crate::model::Device::default(),
        location: None,
    };
    let at = Timestamp::from_unix_millis(0);
    let facts = SignInFacts { enrichment: &enrichment, at };
    let ttl = Duration::from_secs(900);
    let (product, name, code) = ("Sample", "Sample User", "493817");
    vec![
        super::prepare_verification_code(product, name, code, ttl),
        super::prepare_signup_attempt(product, name),
        super::prepare_new_sign_in(
            product,
            name,
            &facts,
            super::SignedInWith::Password,
            "https://example.com/revoke?token=t",
            "https://example.com",
        ),
        super::prepare_new_sign_in(
            product,
            name,
            &facts,
            super::SignedInWith::Passkey,
            "https://example.com/revoke?token=t",
            "https://example.com",
        ),
        super::prepare_password_reset_code(product, name, code, ttl),
        super::prepare_sign_in_code(product, name, code, ttl),
        super::prepare_email_change_code(product, name, code, ttl),
        super::prepare_email_change_requested(product, name, "new@example.com", "https://example.com"),
        super::prepare_email_in_use(product, name),
        super::prepare_email_changed_new(product, name),
        super::prepare_email_changed_old(
            product,
            name,
            "new@example.com",
            "https://example.com/revert?token=t",
            Duration::from_secs(7 * 86_400),
        ),
        super::prepare_email_change_reverted(product, name, "https://example.com", 1),
        super::prepare_password_changed(product, name, at, Some(&enrichment), "https://example.com"),
        super::prepare_password_changed(product, name, at, None, "https://example.com"),
        super::prepare_token_reuse(product, name, &facts, &facts, "https://example.com"),
        super::prepare_recovery_code_used(product, name, 9),
        super::prepare_mfa_attempts_exceeded(product, name, super::SignedInWith::Password),
        super::prepare_mfa_attempts_exceeded(product, name, super::SignedInWith::EmailCode),
        super::prepare_mfa_changed(product, name, "A second factor was added to your account."),
    ]
}
