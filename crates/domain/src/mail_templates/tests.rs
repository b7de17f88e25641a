use std::time::Duration;

use super::*;
use crate::model::{Device, Location};

const TTL: Duration = Duration::from_secs(15 * 60);

fn builtin() -> MailTemplates {
    MailTemplates::default()
}

fn enrichment(device: Device, location: Option<Location>) -> Enrichment {
    Enrichment { ip_address: "81.2.69.142".parse().unwrap(), user_agent: None, device, location }
}

fn firefox_in_london() -> Enrichment {
    enrichment(
        Device {
            browser: Some("Firefox".into()),
            browser_version: Some("128".into()),
            os: Some("Linux".into()),
            ..Device::default()
        },
        Some(Location { city: Some("London".into()), country: Some("United Kingdom".into()), ..Location::default() }),
    )
}

/// A device string an attacker controls (it comes from the User-Agent).
fn hostile_device() -> Enrichment {
    enrichment(Device { browser: Some("<img src=x onerror=alert(1)>".into()), ..Device::default() }, None)
}

fn html(m: &MailText) -> &str {
    m.html.as_deref().expect("an HTML part")
}

fn every_mail(name: &str) -> Vec<MailText> {
    let e = firefox_in_london();
    let at = Timestamp::from_unix_millis(0);
    vec![
        builtin().verification_code("Portcullis", name, "123456", TTL),
        builtin().signup_attempt("Portcullis", name),
        builtin().new_sign_in(
            "Portcullis",
            name,
            &SignInFacts { enrichment: &e, at },
            SignedInWith::Password,
            "https://x/revoke?token=t",
            "https://x",
        ),
        builtin().password_reset_code("Portcullis", name, "654321", TTL),
        builtin().sign_in_code("Portcullis", name, "246810", TTL),
        builtin().password_changed("Portcullis", name, at, Some(&e), "https://x"),
        builtin().password_changed("Portcullis", name, at, None, "https://x"),
        builtin().token_reuse(
            "Portcullis",
            name,
            &SignInFacts { enrichment: &e, at },
            &SignInFacts { enrichment: &e, at },
            "https://x",
        ),
    ]
}

fn assert_contains(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(haystack.contains(needle), "{needle:?} missing from:\n{haystack}");
    }
}

#[test]
fn every_template_renders_both_parts() {
    for m in every_mail("Laura") {
        assert!(m.body.starts_with("Hello Laura,\n\n"), "{}", m.body);
        assert!(m.body.ends_with("\n-- Portcullis\n"), "{}", m.body);
        assert!(!m.body.contains('<') && !m.body.contains("&amp;"), "text part has markup: {}", m.body);
        assert!(!m.body.contains("\n\n\n"), "leftover blank lines: {:?}", m.body);
        let h = html(&m);
        assert!(h.starts_with("<!DOCTYPE html>"), "{h}");
        assert!(h.trim_end().ends_with("</html>"), "{h}");
        assert_contains(h, &["Hello Laura,", "&mdash; Portcullis", &format!("<title>{}</title>", m.subject)]);
    }
}

#[test]
fn html_escapes_the_display_name() {
    for m in every_mail("<script>alert(1)</script>") {
        let h = html(&m);
        assert!(h.contains("Hello &lt;script&gt;alert(1)&lt;&#x2f;script&gt;,"), "{h}");
        assert!(!h.contains("<script>"), "{h}");
        // The text part is not HTML and is not escaped.
        assert!(m.body.starts_with("Hello <script>alert(1)</script>,"), "{}", m.body);
    }
}

#[test]
fn html_escapes_device_strings() {
    let e = hostile_device();
    let at = Timestamp::from_unix_millis(0);
    let alert = builtin().new_sign_in(
        "P",
        "L",
        &SignInFacts { enrichment: &e, at },
        SignedInWith::Password,
        "https://x/r?token=t",
        "https://x",
    );
    let changed = builtin().password_changed("P", "L", at, Some(&e), "https://x");
    for m in [alert, changed] {
        assert!(html(&m).contains("&lt;img src=x onerror=alert(1)&gt;"), "{}", html(&m));
        assert!(!html(&m).contains("<img"), "{}", html(&m));
        assert!(m.body.contains("Device:     <img src=x onerror=alert(1)>\n"), "{}", m.body);
    }
}

#[test]
fn subjects_never_hold_the_code() {
    for m in every_mail("Laura") {
        assert!(!m.subject.contains("123456") && !m.subject.contains("654321"), "{}", m.subject);
        assert!(m.subject.contains("Portcullis"), "{}", m.subject);
    }
}

/// The code stands alone on a line of the text part (people and tests look for it there) and
/// never on a bare line of the HTML part, where a mail client or a test could take it for the
/// text part's.
fn assert_code_placement(m: &MailText, code: &str) {
    assert!(m.body.lines().any(|l| l.trim() == code), "{}", m.body);
    let h = html(m);
    assert!(h.contains(&format!(">{code}</p>")), "{h}");
    assert!(h.lines().all(|l| l.trim() != code), "{h}");
}

#[test]
fn verification_code_mail() {
    let m = builtin().verification_code("Portcullis", "Laura", "123456", TTL);
    assert_eq!(m.subject, "Your Portcullis verification code");
    assert_code_placement(&m, "123456");
    for part in [m.body.as_str(), html(&m)] {
        assert_contains(part, &["15 minutes", "works once", "If you did not create an account, ignore this message."]);
    }
}

#[test]
fn lifetimes_round_up_to_whole_minutes() {
    assert_eq!(lifetime(Duration::from_secs(1)), "1 minute");
    assert_eq!(lifetime(Duration::from_secs(60)), "1 minute");
    assert_eq!(lifetime(Duration::from_secs(61)), "2 minutes");
    assert_eq!(lifetime(Duration::from_secs(600)), "10 minutes");
}

#[test]
fn link_lifetimes_round_down_to_whole_days() {
    assert_eq!(long_lifetime(Duration::from_secs(7 * 86_400)), "7 days");
    assert_eq!(long_lifetime(Duration::from_secs(2 * 86_400 - 1)), "1 day");
    assert_eq!(long_lifetime(Duration::from_secs(3_600)), "60 minutes");
}

#[test]
fn email_change_mails() {
    let code = builtin().email_change_code("Portcullis", "Laura", "135790", TTL);
    assert_eq!(code.subject, "Confirm your new Portcullis email address");
    assert_code_placement(&code, "135790");
    let asked = builtin().email_change_requested("Portcullis", "Laura", "new@example.com", "https://x");
    assert_eq!(asked.subject, "A change of your Portcullis email address was requested");
    let in_use = builtin().email_in_use("Portcullis", "Laura");
    assert_eq!(in_use.subject, "Someone tried to use your address for another Portcullis account");
    let new = builtin().email_changed_new("Portcullis", "Laura");
    assert_eq!(new.subject, "This is now your Portcullis email address");
    let old = builtin().email_changed_old(
        "Portcullis",
        "Laura",
        "new@example.com",
        "https://x/revert?token=t&a=1",
        Duration::from_secs(7 * 86_400),
    );
    assert_eq!(old.subject, "Your Portcullis email address was changed");
    let back = builtin().email_change_reverted("Portcullis", "Laura", "https://x", 2);
    let back_alone = builtin().email_change_reverted("Portcullis", "Laura", "https://x", 0);
    assert!(!back_alone.body.contains("second factor"), "{}", back_alone.body);
    assert_eq!(back.subject, "Your Portcullis email address was restored");
    for part in [code.body.as_str(), html(&code)] {
        assert_contains(part, &["move a Portcullis account to this email address", "15 minutes", "works once"]);
    }
    for part in [asked.body.as_str(), html(&asked)] {
        assert_contains(
            part,
            &["new@example.com", "does not change until that code is entered", "request a reset code"],
        );
    }
    for part in [in_use.body.as_str(), html(&in_use)] {
        assert_contains(part, &["already taken", "Nothing was changed"]);
    }
    assert_contains(
        &old.body,
        &["new@example.com", "https://x/revert?token=t&a=1", "for 7 days", "signs every session out"],
    );
    assert_contains(html(&old), &["https://x/revert?token=t&amp;a=1", "for 7 days"]);
    for part in [back.body.as_str(), html(&back)] {
        assert_contains(
            part,
            &["uses this email address again", "signed out", "forgot-password", "2 second factors added since"],
        );
    }
    assert_contains(&new.body, &["now uses this email address"]);
}

#[test]
fn second_factor_mails() {
    let used = builtin().recovery_code_used("Portcullis", "Laura", 7);
    assert_eq!(used.subject, "A recovery code was used to sign in to Portcullis");
    for part in [used.body.as_str(), html(&used)] {
        assert_contains(part, &["recovery codes was just used", "7", "reset your password"]);
    }
    let changed = builtin().mfa_changed("Portcullis", "Laura", "A second factor, <Phone>, was removed.");
    assert_eq!(changed.subject, "Your Portcullis sign-in settings changed");
    assert_contains(&changed.body, &["A second factor, <Phone>, was removed.", "reset your\npassword now"]);
    assert_contains(html(&changed), &["A second factor, &lt;Phone&gt;, was removed."]);
    let failed = builtin().mfa_attempts_exceeded("Portcullis", "Laura", SignedInWith::Password);
    assert_eq!(failed.subject, "Your Portcullis password was used, but the second step failed");
    for part in [failed.body.as_str(), html(&failed)] {
        assert_contains(part, &["entered your Portcullis password correctly", "nobody was signed in", "change it now"]);
        assert!(!part.contains("mailbox"), "{part}");
    }
    let failed = builtin().mfa_attempts_exceeded("Portcullis", "Laura", SignedInWith::EmailCode);
    assert_eq!(failed.subject, "A Portcullis sign-in code was used, but the second step failed");
    for part in [failed.body.as_str(), html(&failed)] {
        assert_contains(part, &["sign-in code mailed to your address", "nobody was signed in", "secure your mailbox"]);
        assert!(!part.contains("knows your password"), "{part}");
    }
}

#[test]
fn signup_attempt_mail() {
    let m = builtin().signup_attempt("Portcullis", "Laura");
    assert_eq!(m.subject, "Someone tried to sign up for Portcullis with your address");
    for part in [m.body.as_str(), html(&m)] {
        assert_contains(
            part,
            &["Nothing was changed.", "sign in instead", "reset your password", "ignore this message"],
        );
    }
}

#[test]
fn describes_known_and_unknown_devices_and_places() {
    let e = enrichment(Device::default(), None);
    let f = SignInFacts { enrichment: &e, at: Timestamp::from_unix_millis(0) };
    assert_eq!(f.device_line(), "an unknown device");
    assert_eq!(f.location_line(), "an unknown location");

    let e = firefox_in_london();
    let f = SignInFacts { enrichment: &e, at: Timestamp::from_unix_millis(0) };
    assert_eq!(f.device_line(), "Firefox 128 on Linux");
    assert_eq!(f.location_line(), "London, United Kingdom");
}

#[test]
fn alert_mail_states_everything_and_links() {
    let e = enrichment(Device::default(), None);
    let f = SignInFacts { enrichment: &e, at: Timestamp::from_unix_millis(0) };
    let m = builtin().new_sign_in(
        "Portcullis",
        "Laura",
        &f,
        SignedInWith::Password,
        "https://x/revoke?token=t&x=1",
        "https://x",
    );
    assert_eq!(m.subject, "New sign-in to your Portcullis account");
    assert_contains(
        &m.body,
        &[
            "Device:     an unknown device\n",
            "Location:   an unknown location\n",
            "IP address: 81.2.69.142\n",
            "Time (UTC): 1970-01-01T00:00:00.000Z\n",
            "Not you? Sign this session out with one click:\nhttps://x/revoke?token=t&x=1\n",
            "change your password",
            "POST /api/v1/auth/forgot-password",
        ],
    );
    assert_contains(
        html(&m),
        &[
            "<td>an unknown device</td>",
            "<td>an unknown location</td>",
            "<td>81.2.69.142</td>",
            "<td>1970-01-01T00:00:00.000Z</td>",
            "Not you?",
            // Links stay readable in the source: `&` escaped, `/` not.
            "<a href=\"https://x/revoke?token=t&amp;x=1\"",
            ">Sign this session out</a>",
            "<a href=\"https://x\">https://x</a>",
            "change your password",
        ],
    );
}

#[test]
fn a_passkey_sign_in_alert_advises_reviewing_passkeys_not_the_password() {
    let e = firefox_in_london();
    let f = SignInFacts { enrichment: &e, at: Timestamp::from_unix_millis(0) };
    let m = builtin().new_sign_in("Portcullis", "Laura", &f, SignedInWith::Passkey, "https://x/r?token=t", "https://x");
    for part in [m.body.as_str(), html(&m)] {
        assert_contains(part, &["with a passkey", "Not you?", "GET /api/v1/users/me/passkeys"]);
        assert!(!part.contains("change your password"), "{part}");
    }
}

#[test]
fn an_email_code_sign_in_alert_advises_securing_the_mailbox() {
    let e = firefox_in_london();
    let f = SignInFacts { enrichment: &e, at: Timestamp::from_unix_millis(0) };
    let m =
        builtin().new_sign_in("Portcullis", "Laura", &f, SignedInWith::EmailCode, "https://x/r?token=t", "https://x");
    for part in [m.body.as_str(), html(&m)] {
        assert_contains(
            part,
            &["with a code mailed to you", "Not you?", "password\nof your mailbox", "forgot-password"],
        );
        assert!(!part.contains("with a passkey"), "{part}");
    }
}

#[test]
fn alert_mail_names_known_device_and_place() {
    let e = firefox_in_london();
    let f = SignInFacts { enrichment: &e, at: Timestamp::from_unix_millis(0) };
    let m =
        builtin().new_sign_in("Portcullis", "Laura", &f, SignedInWith::Password, "https://x/r?token=t", "https://x");
    for part in [m.body.as_str(), html(&m)] {
        assert_contains(part, &["Firefox 128 on Linux", "London, United Kingdom"]);
    }
}

#[test]
fn password_reset_code_mail() {
    let m = builtin().password_reset_code("Portcullis", "Laura", "654321", TTL);
    assert_eq!(m.subject, "Your Portcullis password reset code");
    assert_code_placement(&m, "654321");
    for part in [m.body.as_str(), html(&m)] {
        assert_contains(
            part,
            &["reset the password", "15 minutes", "works once", "ignore this message", "your password has not changed"],
        );
    }
}

#[test]
fn sign_in_code_mail() {
    let m = builtin().sign_in_code("Portcullis", "Laura", "246810", TTL);
    assert_eq!(m.subject, "Your Portcullis sign-in code");
    assert_code_placement(&m, "246810");
    for part in [m.body.as_str(), html(&m)] {
        assert_contains(
            part,
            &["sign in to your Portcullis account", "15 minutes", "works once", "ignore this message"],
        );
    }
}

#[test]
fn password_changed_mail_with_request_details() {
    let e = firefox_in_london();
    let m = builtin().password_changed("Portcullis", "Laura", Timestamp::from_unix_millis(0), Some(&e), "https://x");
    assert_eq!(m.subject, "Your Portcullis password was changed");
    assert_contains(
        &m.body,
        &[
            "Time (UTC): 1970-01-01T00:00:00.000Z\nIP address: 81.2.69.142\nDevice:     Firefox 128 on Linux\n\
             Location:   London, United Kingdom\n\nIf this was you",
            "If it was not you",
            "request a reset code at https://x (POST /api/v1/auth/forgot-password)",
        ],
    );
    assert_contains(
        html(&m),
        &[
            "<td>1970-01-01T00:00:00.000Z</td>",
            "<td>81.2.69.142</td>",
            "<td>Firefox 128 on Linux</td>",
            "<td>London, United Kingdom</td>",
            "If it was not you",
            "<a href=\"https://x\">https://x</a>",
            "POST /api/v1/auth/forgot-password",
        ],
    );
}

#[test]
fn password_changed_mail_without_request_details() {
    let m = builtin().password_changed("Portcullis", "Laura", Timestamp::from_unix_millis(0), None, "https://x");
    assert!(m.body.contains("Time (UTC): 1970-01-01T00:00:00.000Z\n\nIf this was you"), "{}", m.body);
    for part in [m.body.as_str(), html(&m)] {
        assert!(!part.contains("IP address") && !part.contains("Device"), "{part}");
        assert_contains(part, &["If it was not you", "https://x"]);
    }
}

#[test]
fn a_missing_template_falls_back_to_the_facts() {
    let ctx = context! { code => "123456", revoke_url => "https://x/r?token=t", nothing => () };
    let message = Prepared { stem: "no_such_template", subject: "Fallback".to_owned(), ctx, secret: None };
    let MailText { subject, body: text, html } = builtin().render(message);
    assert_eq!((subject.as_str(), html), ("Fallback", None));
    assert_contains(&text, &["code:\n    123456\n", "revoke url:\n    https://x/r?token=t\n"]);
    assert!(!text.contains("nothing"), "{text}");
}

#[test]
fn token_reuse_mail_describes_session_and_reuse() {
    let session = firefox_in_london();
    let mut reuse = enrichment(Device::default(), None);
    reuse.ip_address = "203.0.113.9".parse().unwrap();
    let m = builtin().token_reuse(
        "Portcullis",
        "Laura",
        &SignInFacts { enrichment: &session, at: Timestamp::from_unix_millis(0) },
        &SignInFacts { enrichment: &reuse, at: Timestamp::from_unix_millis(60_000) },
        "https://x",
    );
    assert_eq!(m.subject, "We signed out one of your Portcullis sessions");
    assert_contains(
        &m.body,
        &[
            "Session signed in at (UTC): 1970-01-01T00:00:00.000Z",
            "Device:     Firefox 128 on Linux",
            "Location:   London, United Kingdom",
            "Token presented again at (UTC): 1970-01-01T00:01:00.000Z, from IP address 203.0.113.9",
            "request a reset code at https://x",
        ],
    );
    assert_contains(html(&m), &["<td>203.0.113.9</td>", "<td>Firefox 128 on Linux</td>", "<a href=\"https://x\">"]);
}

/// Overrides: each refusal names the file, and a valid override is what renders.
mod overrides {
    use super::*;

    fn with(name: &str, source: &str) -> Result<MailTemplates, TemplateError> {
        MailTemplates::with_overrides([(name.to_owned(), source.to_owned())])
    }

    #[test]
    fn a_replaced_text_part_renders_and_the_rest_stay_built_in() {
        let set =
            with("verification_code.txt.j2", "Hallo {{ name }}, Ihr Code: {{ code }} ({{ lifetime }})\n").unwrap();
        let m = set.verification_code("Acme", "Laura", "123456", TTL);
        assert_eq!(m.body, "Hallo Laura, Ihr Code: 123456 (15 minutes)\n");
        assert_eq!(m.subject, "Your Acme verification code");
        assert_contains(html(&m), &["123456", "Laura"]);
        assert_eq!(set.signup_attempt("Acme", "L").body, builtin().signup_attempt("Acme", "L").body);
    }

    #[test]
    fn the_layout_can_be_replaced_for_every_html_part() {
        let set = with("layout.html.j2", "<main>{{ product }}{% block content %}{% endblock %}</main>").unwrap();
        for m in [set.signup_attempt("Acme", "L"), set.password_reset_code("Acme", "L", "123456", TTL)] {
            assert!(html(&m).starts_with("<main>Acme"), "{}", html(&m));
        }
    }

    #[test]
    fn a_syntax_error_names_the_file() {
        let err = with("new_sign_in.html.j2", "{% if device %}unclosed").unwrap_err();
        assert!(matches!(&err, TemplateError::Syntax { name, .. } if name == "new_sign_in.html.j2"), "{err:?}");
        assert!(err.to_string().starts_with("new_sign_in.html.j2: syntax error"), "{err}");
    }

    #[test]
    fn a_missing_variable_names_the_file_and_the_variable_even_on_a_branch_not_taken() {
        let err = with("password_changed.txt.j2", "{% if false %}{{ revoke_url }}{% endif %}").unwrap_err();
        let expected = TemplateError::UnknownVariable {
            name: "password_changed.txt.j2".to_owned(),
            variable: "revoke_url".to_owned(),
            known: String::new(),
        };
        assert!(
            matches!(&err, TemplateError::UnknownVariable { name, variable, .. }
                if *name == "password_changed.txt.j2" && variable == "revoke_url"),
            "{err:?} is not like {expected:?}"
        );
        // The layout sees only what every message has.
        let err = with("layout.html.j2", "{{ code }}{% block content %}{% endblock %}").unwrap_err();
        assert!(matches!(&err, TemplateError::UnknownVariable { name, .. } if name == "layout.html.j2"), "{err:?}");
    }

    #[test]
    fn an_unknown_file_name_is_refused_rather_than_ignored() {
        let err = with("verification_cod.txt.j2", "x").unwrap_err();
        assert_eq!(err, TemplateError::UnknownName { name: "verification_cod.txt.j2".to_owned() });
    }

    #[test]
    fn a_template_that_fails_with_sample_values_is_refused() {
        let err = with("token_reuse.txt.j2", "{{ ip|no_such_filter }}").unwrap_err();
        assert!(
            matches!(&err, TemplateError::Syntax { name, .. } | TemplateError::Render { name, .. }
            if name == "token_reuse.txt.j2"),
            "{err:?}"
        );
    }

    #[test]
    fn a_subject_that_shows_the_code_is_refused() {
        for name in ["verification_code.subject.j2", "password_reset_code.subject.j2"] {
            let err = with(name, "Code {{ code }}").unwrap_err();
            assert_eq!(err, TemplateError::CodeInSubject { name: name.to_owned() });
        }
    }

    #[test]
    fn subjects_are_one_line() {
        let set = with("signup_attempt.subject.j2", "Someone\r\nBcc: evil@example.com\n").unwrap();
        assert_eq!(set.signup_attempt("Acme", "L").subject, "Someone Bcc: evil@example.com");
    }
}
