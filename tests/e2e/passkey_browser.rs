//! The `/passkeys/demo` page in headless Chromium with a virtual authenticator (CDP
//! `WebAuthn.addVirtualAuthenticator`): a real browser's `navigator.credentials` and its own
//! WebAuthn JSON encodings against the server, through the page a person would use. SQLite
//! only: the ceremonies' store side runs on both stores in `passkeys.rs`.

use std::time::Duration;

use portcullis_e2e::browser::{Browser, chromium};
use portcullis_e2e::{Backend, PASSWORD, TestApp};
use serde_json::{Value, json};

/// A port nobody listens on now: the page's origin, and so `webauthn.origins`, must name
/// it before the server binds it. Chosen below Linux's ephemeral range (32768 and up),
/// where the listeners other tests bind to port 0 never land, so it stays free meanwhile.
fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    loop {
        let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
        let port = 20_000 + u16::try_from(random % 12_000).unwrap();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Sets the page's input `id` to `value`.
async fn fill(browser: &mut Browser, page: &str, id: &str, value: &str) {
    let script = format!("document.getElementById({}).value = {}; true", json!(id), json!(value));
    assert_eq!(browser.eval(page, &script).await, json!(true));
}

/// Clicks button `id` and waits for its step to finish; the page's status (`state`,
/// `message`).
async fn click(browser: &mut Browser, page: &str, id: &str) -> (String, String) {
    let script = format!(
        "document.getElementById('status').dataset.step = ''; document.getElementById({}).click(); true",
        json!(id)
    );
    assert_eq!(browser.eval(page, &script).await, json!(true));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = browser
            .eval(page, "(() => { const s = document.getElementById('status'); return [s.dataset.step, s.dataset.state, s.textContent]; })()")
            .await;
        let field = |i: usize| status[i].as_str().unwrap_or_default().to_owned();
        if field(0) == id && field(1) != "busy" {
            return (field(1), field(2));
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} did not finish in 30 s: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks `id` and asserts the step succeeded.
async fn step(browser: &mut Browser, page: &str, id: &str) {
    let (state, message) = click(browser, page, id).await;
    assert_eq!(state, "done", "{id}: {message}");
}

/// The signed-in box: whether signed in, the session's aal and amr.
async fn who(browser: &mut Browser, page: &str) -> Value {
    browser.eval(page, "(() => { const w = document.getElementById('who').dataset; return {signedIn: w.signedIn, aal: w.aal, amr: w.amr}; })()").await
}

#[actix_web::test]
async fn the_demo_page_signs_up_adds_a_passkey_and_signs_in_with_it_in_chromium() {
    let Some(binary) = chromium() else { return };
    let port = free_port();
    let origin = format!("http://localhost:{port}");
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.server.addr = ([127, 0, 0, 1], port).into();
        s.webauthn.rp_id = "localhost".to_owned();
        s.webauthn.origins = vec![origin.clone()];
        s.webauthn.demo_page = true;
    })
    .await;
    let mut browser = Browser::launch(&binary).await;
    let page = browser.new_page().await;
    browser.call(Some(&page), "WebAuthn.enable", json!({})).await;
    browser.call(Some(&page), "Page.enable", json!({})).await;
    // Every Content-Security-Policy violation on the page, recorded from before its own
    // script runs (a script added over the protocol is not subject to the page's policy).
    browser
        .call(
            Some(&page),
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": "window.violations = []; document.addEventListener('securitypolicyviolation', \
                   (e) => window.violations.push(e.violatedDirective));"}),
        )
        .await;

    // Once with the browser's own JSON methods, once with the page's hand-written encoding.
    for encoding in ["native", "manual"] {
        // An authenticator per account: with two accounts' passkeys on one, the account
        // picker (played by the virtual authenticator) would choose between them.
        let authenticator = browser
            .call(
                Some(&page),
                "WebAuthn.addVirtualAuthenticator",
                json!({"options": {
                    "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                    "hasUserVerification": true, "isUserVerified": true, "automaticPresenceSimulation": true,
                }}),
            )
            .await["authenticatorId"]
            .clone();
        let email = format!("browser-{encoding}@example.com");
        browser.goto(&page, &format!("{origin}/passkeys/demo?encoding={encoding}")).await;
        assert_eq!(browser.eval(&page, "document.body.dataset.encoding").await, json!(encoding));
        // The policy admits the page's own script and style: both took effect, unreported.
        assert_eq!(browser.eval(&page, "getComputedStyle(document.body).maxWidth").await, json!("640px"));
        assert_eq!(browser.eval(&page, "window.violations").await, json!([]));

        fill(&mut browser, &page, "name", "Browser User").await;
        fill(&mut browser, &page, "email", &email).await;
        fill(&mut browser, &page, "password", PASSWORD).await;
        step(&mut browser, &page, "signup").await;
        let code = app.code(&email, 1).await;
        fill(&mut browser, &page, "code", &code).await;
        step(&mut browser, &page, "verify").await;
        step(&mut browser, &page, "login").await;
        assert_eq!(who(&mut browser, &page).await, json!({"signedIn": "true", "aal": "1", "amr": "pwd"}));

        // The first passkey: created by the browser, stored by the server, codes shown once.
        step(&mut browser, &page, "add-passkey").await;
        let codes = browser.eval(&page, "document.getElementById('recovery-codes').hidden ? '' : document.getElementById('recovery-codes').textContent").await;
        assert_eq!(codes.as_str().unwrap().lines().count(), 11, "a heading and ten codes: {codes}");
        let stored =
            browser.call(Some(&page), "WebAuthn.getCredentials", json!({"authenticatorId": authenticator})).await;
        let credentials = stored["credentials"].as_array().unwrap();
        assert_eq!(credentials.len(), 1, "{stored}");
        assert_eq!(credentials[0]["rpId"], json!("localhost"), "{stored}");
        assert_eq!(credentials[0]["isResidentCredential"], json!(true), "resident key preferred: {stored}");

        // Signed out, then in again with the passkey alone: no address typed.
        step(&mut browser, &page, "logout").await;
        step(&mut browser, &page, "passkey-login").await;
        let signed_in = who(&mut browser, &page).await;
        assert_eq!(signed_in["aal"], json!("2"), "the virtual authenticator verifies the user: {signed_in}");
        assert!(["hwk", "swk"].contains(&signed_in["amr"].as_str().unwrap()), "{signed_in}");
        let text = browser.eval(&page, "document.getElementById('who').textContent").await;
        assert!(text.as_str().unwrap().contains(&email), "the discoverable credential named this account: {text}");

        // The password now needs the passkey as its second step, which the page does.
        step(&mut browser, &page, "logout").await;
        step(&mut browser, &page, "login").await;
        let signed_in = who(&mut browser, &page).await;
        assert_eq!(signed_in["aal"], json!("2"), "{signed_in}");
        assert!(signed_in["amr"].as_str().unwrap().starts_with("pwd "), "{signed_in}");
        step(&mut browser, &page, "logout").await;
        browser
            .call(Some(&page), "WebAuthn.removeVirtualAuthenticator", json!({"authenticatorId": authenticator}))
            .await;
    }

    // The page's policy holds in the browser: a script injected into the page does not run
    // (Trusted Types refuse its text; `script-src` admits only the page's own by hash, as
    // `demo.rs` checks), and the browser reports the violation.
    let injected = browser
        .eval(
            &page,
            "(() => { try { const s = document.createElement('script'); s.textContent = 'window.injected = 1'; \
             document.body.appendChild(s); } catch (e) { return 'refused: ' + e.name; } \
             return window.injected === 1 ? 'ran' : 'blocked'; })()",
        )
        .await;
    assert_ne!(injected, json!("ran"), "an injected script ran");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let violations = browser.eval(&page, "window.violations").await;
        if violations.as_array().is_some_and(|v| !v.is_empty()) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no violation reported: {violations}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn the_demo_page_is_served_only_when_enabled_and_loads_nothing_from_elsewhere() {
    let off = TestApp::spawn(Backend::Sqlite).await;
    off.get("/passkeys/demo", None).await.assert_problem(404, "NOT_FOUND");

    let on = TestApp::spawn_with(Backend::Sqlite, |s| s.webauthn.demo_page = true).await;
    let page = on.get("/passkeys/demo", None).await;
    assert_eq!(page.status, 200, "{page:?}");
    let header = |name: &str| page.header(name).unwrap_or_default();
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    assert!(page.text.contains("navigator.credentials"), "{}", page.text);
    let csp = header("content-security-policy");
    for directive in
        ["default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"]
    {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe") && !csp.contains("http"), "{csp}");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("cache-control"), "no-store");
}
