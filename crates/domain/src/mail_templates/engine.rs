//! The template engine's settings, the built-in templates, and the plain fallback used when a
//! template fails at render time.

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior, Value};

/// The built-in templates, by name. The `.html.j2` ones are HTML-escaped (minijinja's default
/// auto-escape callback looks at the name without the `.j2`); the `.txt.j2` and `.subject.j2`
/// ones are not.
pub(super) const BUILTIN: &[(&str, &str)] = &[
    ("layout.html.j2", include_str!("../../templates/layout.html.j2")),
    ("verification_code.subject.j2", include_str!("../../templates/verification_code.subject.j2")),
    ("verification_code.txt.j2", include_str!("../../templates/verification_code.txt.j2")),
    ("verification_code.html.j2", include_str!("../../templates/verification_code.html.j2")),
    ("signup_attempt.subject.j2", include_str!("../../templates/signup_attempt.subject.j2")),
    ("signup_attempt.txt.j2", include_str!("../../templates/signup_attempt.txt.j2")),
    ("signup_attempt.html.j2", include_str!("../../templates/signup_attempt.html.j2")),
    ("new_sign_in.subject.j2", include_str!("../../templates/new_sign_in.subject.j2")),
    ("new_sign_in.txt.j2", include_str!("../../templates/new_sign_in.txt.j2")),
    ("new_sign_in.html.j2", include_str!("../../templates/new_sign_in.html.j2")),
    ("password_reset_code.subject.j2", include_str!("../../templates/password_reset_code.subject.j2")),
    ("password_reset_code.txt.j2", include_str!("../../templates/password_reset_code.txt.j2")),
    ("password_reset_code.html.j2", include_str!("../../templates/password_reset_code.html.j2")),
    ("sign_in_code.subject.j2", include_str!("../../templates/sign_in_code.subject.j2")),
    ("sign_in_code.txt.j2", include_str!("../../templates/sign_in_code.txt.j2")),
    ("sign_in_code.html.j2", include_str!("../../templates/sign_in_code.html.j2")),
    ("email_change_code.subject.j2", include_str!("../../templates/email_change_code.subject.j2")),
    ("email_change_code.txt.j2", include_str!("../../templates/email_change_code.txt.j2")),
    ("email_change_code.html.j2", include_str!("../../templates/email_change_code.html.j2")),
    ("email_change_requested.subject.j2", include_str!("../../templates/email_change_requested.subject.j2")),
    ("email_change_requested.txt.j2", include_str!("../../templates/email_change_requested.txt.j2")),
    ("email_change_requested.html.j2", include_str!("../../templates/email_change_requested.html.j2")),
    ("email_in_use.subject.j2", include_str!("../../templates/email_in_use.subject.j2")),
    ("email_in_use.txt.j2", include_str!("../../templates/email_in_use.txt.j2")),
    ("email_in_use.html.j2", include_str!("../../templates/email_in_use.html.j2")),
    ("email_changed_new.subject.j2", include_str!("../../templates/email_changed_new.subject.j2")),
    ("email_changed_new.txt.j2", include_str!("../../templates/email_changed_new.txt.j2")),
    ("email_changed_new.html.j2", include_str!("../../templates/email_changed_new.html.j2")),
    ("email_changed_old.subject.j2", include_str!("../../templates/email_changed_old.subject.j2")),
    ("email_changed_old.txt.j2", include_str!("../../templates/email_changed_old.txt.j2")),
    ("email_changed_old.html.j2", include_str!("../../templates/email_changed_old.html.j2")),
    ("email_change_reverted.subject.j2", include_str!("../../templates/email_change_reverted.subject.j2")),
    ("email_change_reverted.txt.j2", include_str!("../../templates/email_change_reverted.txt.j2")),
    ("email_change_reverted.html.j2", include_str!("../../templates/email_change_reverted.html.j2")),
    ("password_changed.subject.j2", include_str!("../../templates/password_changed.subject.j2")),
    ("password_changed.txt.j2", include_str!("../../templates/password_changed.txt.j2")),
    ("password_changed.html.j2", include_str!("../../templates/password_changed.html.j2")),
    ("token_reuse.subject.j2", include_str!("../../templates/token_reuse.subject.j2")),
    ("token_reuse.txt.j2", include_str!("../../templates/token_reuse.txt.j2")),
    ("token_reuse.html.j2", include_str!("../../templates/token_reuse.html.j2")),
    ("recovery_code_used.subject.j2", include_str!("../../templates/recovery_code_used.subject.j2")),
    ("recovery_code_used.txt.j2", include_str!("../../templates/recovery_code_used.txt.j2")),
    ("recovery_code_used.html.j2", include_str!("../../templates/recovery_code_used.html.j2")),
    ("mfa_attempts_exceeded.subject.j2", include_str!("../../templates/mfa_attempts_exceeded.subject.j2")),
    ("mfa_attempts_exceeded.txt.j2", include_str!("../../templates/mfa_attempts_exceeded.txt.j2")),
    ("mfa_attempts_exceeded.html.j2", include_str!("../../templates/mfa_attempts_exceeded.html.j2")),
    ("mfa_changed.subject.j2", include_str!("../../templates/mfa_changed.subject.j2")),
    ("mfa_changed.txt.j2", include_str!("../../templates/mfa_changed.txt.j2")),
    ("mfa_changed.html.j2", include_str!("../../templates/mfa_changed.html.j2")),
];

/// An environment with the engine's settings and filters and no templates yet.
pub(super) fn configured() -> Environment<'static> {
    let mut env = Environment::new();
    // A misspelt variable is an error, not a silent blank in a security mail.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Block tags on lines of their own leave no blank lines behind, and the final newline
    // of a text body stays. The builder only fails on custom delimiters, which we do not set.
    if let Ok(syntax) =
        SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).keep_trailing_newline(true).build()
    {
        env.set_syntax(syntax);
    }
    env.add_filter("url", url_filter);
    env
}

/// One template's output, or minijinja's error (which never holds context values, so it is
/// safe to show).
pub(super) fn render_one(env: &Environment<'_>, name: &str, ctx: &Value) -> Result<String, minijinja::Error> {
    env.get_template(name).and_then(|t| t.render(ctx))
}

/// Every context value on a line of its own after its name, e.g. `code:` then `    123456`:
/// plain, but it still carries the code, link or facts the mail exists for.
pub(super) fn fallback_text(ctx: &Value) -> String {
    let mut out = String::new();
    if let Ok(keys) = ctx.try_iter() {
        for key in keys {
            let Ok(value) = ctx.get_item(&key) else { continue };
            if value.is_none() || value.is_undefined() {
                continue;
            }
            out.push_str(&format!("{}:\n    {value}\n\n", key.to_string().replace('_', " ")));
        }
    }
    out
}

/// The `url` filter, for server-built links in HTML: escaped for an attribute or text by hand
/// and marked safe, so minijinja does not also turn each `/` into `&#x2f;` (harmless to
/// browsers, but it makes the HTML source unreadable and unsearchable). Text templates print
/// links without it, as they are.
fn url_filter(u: String) -> Value {
    let mut out = String::with_capacity(u.len());
    for c in u.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    Value::from_safe_string(out)
}
