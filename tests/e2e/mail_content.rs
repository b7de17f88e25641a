//! Mail goes out as `multipart/alternative`: the plain-text part first, then an HTML part that
//! says the same, with user-supplied values escaped.

use serde_json::json;

use portcullis_e2e::{Backend, PASSWORD, TestApp, code_in};

/// The raw message's HTML part, from its `Content-Type` header on.
fn html_part(raw: &str) -> &str {
    let at = raw.find("Content-Type: text/html").unwrap_or_else(|| panic!("no HTML part: {raw}"));
    &raw[at..]
}

async fn code_mail_has_a_text_and_an_html_part(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .post(
            "/api/v1/auth/register",
            json!({"name": "<b>Laura</b>", "email": "html@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let raw = app.mails_to("html@example.com", 1).await.remove(0).data;
    assert!(raw.contains("Content-Type: multipart/alternative;"), "{raw}");
    let text_at = raw.find("Content-Type: text/plain").expect("a text part");
    assert!(text_at < raw.find("Content-Type: text/html").expect("an HTML part"), "text first: {raw}");
    let code = code_in(&raw).expect("a code on a line of its own");
    let html = html_part(&raw);
    assert!(html.contains(&format!(">{code}</p>")), "{html}");
    assert!(html.contains("Hello &lt;b&gt;Laura&lt;&#x2f;b&gt;,") && !html.contains("<b>Laura"), "{html}");
    assert_eq!(code_in(html), None, "no bare code line in the HTML part: {html}");
}

async fn alert_html_links_the_sign_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.verified_login("alert-html@example.com").await;
    let raw = app.mails_to("alert-html@example.com", 2).await.remove(1).data;
    let html = html_part(&raw);
    assert!(html.contains("<a href=\"http://portcullis.test/api/v1/auth/sessions/revoke-from-alert?token="), "{html}");
    for needle in ["127.0.0.1", "Time (UTC)", "Sign this session out", "password"] {
        assert!(html.contains(needle), "{needle} missing: {html}");
    }
}

/// `mailer.templates_dir`: the operator's files replace the built-in templates of their name,
/// subject included, and the others stay.
async fn operator_templates_replace_the_built_in_ones(backend: Backend) {
    let templates = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, source: &str| std::fs::write(templates.path().join(name), source).expect("write");
    write("verification_code.subject.j2", "Ihr {{ product }} Code zur Bestaetigung\n");
    write("verification_code.txt.j2", "Hallo {{ name }},\n\nIhr Code:\n\n    {{ code }}\n\nGültig: {{ lifetime }}.\n");
    let dir = templates.path().to_owned();
    let app = TestApp::spawn_with(backend, move |s| s.mailer.templates_dir = Some(dir)).await;
    let r = app
        .post("/api/v1/auth/register", json!({"name": "Laura", "email": "de@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let raw = app.mails_to("de@example.com", 1).await.remove(0).data;
    assert!(raw.contains("Hallo Laura,"), "{raw}");
    assert!(raw.contains("Subject: Ihr Portcullis Code zur Bestaetigung\r\n"), "{raw}");
    let code = code_in(&raw).expect("the code on a line of its own");
    // The HTML part was not replaced: it is still the built-in one, with the same code.
    assert!(html_part(&raw).contains(&format!(">{code}</p>")), "{raw}");
    let r = app.post("/api/v1/auth/verify-email", json!({"email": "de@example.com", "code": code})).await;
    assert_eq!(r.status, 200, "the code in the replaced text works: {r:?}");
}

portcullis_e2e::on_both_backends!(
    code_mail_has_a_text_and_an_html_part,
    alert_html_links_the_sign_out,
    operator_templates_replace_the_built_in_ones,
);
