//! `GET /passkeys/demo`: a page that tries passkeys out against this server's own API
//! through the browser's `navigator.credentials`, served only with `webauthn.demo_page =
//! true` (a 404 problem otherwise, like any unknown path).
//!
//! The page is one document: its script and style are inline and the Content-Security-Policy
//! admits exactly those two texts by their SHA-256, so nothing else can run or load on it,
//! not even a script injected into it, and it may call nothing but this origin.

use std::sync::LazyLock;

use actix_web::http::header::{CONTENT_SECURITY_POLICY, HeaderName, HeaderValue};
use actix_web::{HttpResponse, web};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::http::HttpOptions;
use crate::http::handlers::fallback;
use crate::http::problem::ApiError;

const PAGE: &str = include_str!("demo/page.html");
const SCRIPT: &str = include_str!("demo/demo.js");
const STYLE: &str = include_str!("demo/demo.css");

/// The assembled page and the policy that admits its inline script and style.
struct DemoPage {
    html: String,
    csp: String,
}

static DEMO: LazyLock<DemoPage> = LazyLock::new(|| DemoPage {
    html: PAGE.replacen("__STYLE__", STYLE, 1).replacen("__SCRIPT__", SCRIPT, 1),
    csp: format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE),
    ),
});

/// The CSP source expression for an inline text: `sha256-` and its base64 digest.
fn csp_hash(text: &str) -> String {
    format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes())))
}

/// The demo page, or 404 when `webauthn.demo_page` is off.
///
/// # Errors
/// 404 `NOT_FOUND` when the page is not enabled.
pub async fn demo_page(options: web::Data<HttpOptions>) -> Result<HttpResponse, ApiError> {
    if !options.passkey_demo {
        return fallback::not_found().await;
    }
    let csp = HeaderValue::from_str(&DEMO.csp).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((CONTENT_SECURITY_POLICY, csp))
        .insert_header((HeaderName::from_static("cross-origin-opener-policy"), "same-origin"))
        .body(DEMO.html.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_holds_its_script_and_style_and_the_policy_admits_exactly_them() {
        assert!(DEMO.html.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(DEMO.html.contains(&format!("<style>{STYLE}</style>")));
        assert!(!DEMO.html.contains("__SCRIPT__") && !DEMO.html.contains("__STYLE__"));
        // Python: base64.b64encode(hashlib.sha256(b"abc").digest())
        assert_eq!(csp_hash("abc"), "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
        assert!(DEMO.csp.contains(&format!("script-src '{}';", csp_hash(SCRIPT))));
        assert!(DEMO.csp.contains(&format!("style-src '{}';", csp_hash(STYLE))));
        assert!(!DEMO.csp.contains("unsafe"), "{}", DEMO.csp);
        assert!(!DEMO.html.contains("src=") && !DEMO.html.contains("href="), "nothing loaded from elsewhere");
    }
}
