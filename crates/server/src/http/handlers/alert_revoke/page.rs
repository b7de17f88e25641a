//! The two small HTML pages of the "Not you?" link: self-contained (no script, no style
//! sheet, image or font from elsewhere), and served with headers that keep them so.

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderValue};

/// Only the inline style and a form posting back to this origin; no framing (a framed
/// one-click button invites clickjacking), no referrer (the page URL carries the token).
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;\
line-height:1.5;color:#1a1a1a}button{font:inherit;padding:.6rem 1.2rem;cursor:pointer}";

/// `text` with the five HTML-special characters escaped, for text and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn document(product: &str, title: &str, body: &str) -> String {
    let (product, title) = (escape(product), escape(title));
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"robots\" content=\"noindex, nofollow\"><meta name=\"referrer\" content=\"no-referrer\">\
<title>{title} - {product}</title><style>{STYLE}</style></head>\n<body>\n<h1>{title}</h1>\n{body}\n\
<p><small>{product}</small></p>\n</body></html>\n"
    )
}

/// The page behind the mail's link: what the button does, and the button. `token` is only
/// echoed into the form, escaped.
pub fn confirm_form(product: &str, token: &str) -> String {
    let body = format!(
        "<p>Someone signed in to your account, and the email about it brought you here.</p>\n\
<p>If that was not you, sign that session out. We will also email you a code to reset your \
password: change it, because whoever signed in knows it.</p>\n\
<form method=\"post\" action=\"revoke-from-alert\">\
<input type=\"hidden\" name=\"token\" value=\"{}\">\
<button type=\"submit\">Sign this session out</button></form>\n\
<p>If it was you, close this page. Nothing has changed.</p>",
        escape(token)
    );
    document(product, "Not you?", &body)
}

/// The answer to the form: the same whether the link was valid, used or expired, so the page
/// reveals nothing.
pub fn done(product: &str) -> String {
    let body = "<p>If this link was still valid, that session is now signed out and a password \
reset code is on its way to your inbox. The link works once.</p>\n\
<p>Next, reset your password with the code, then review the sessions of your account.</p>";
    document(product, "Session signed out", body)
}

/// A 200 `text/html` answer with the headers above, never cached.
pub fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")))
        .insert_header((header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)))
        .insert_header((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .insert_header((header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_escaped_and_nothing_is_loaded_from_elsewhere() {
        let page = confirm_form("Portcullis", "\"><script>alert(1)</script>&'");
        assert!(page.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#39;\""), "{page}");
        assert!(!page.contains("<script"), "{page}");
        for page in [confirm_form("Portcullis", "abc"), done("Portcullis")] {
            for external in ["http:", "https:", "src=", "href=", "<link", "<script", "url("] {
                assert!(!page.contains(external), "{external} in {page}");
            }
        }
        assert!(confirm_form("P", "abc").contains("<form method=\"post\" action=\"revoke-from-alert\">"));
        assert!(confirm_form("A&B", "abc").contains("<title>Not you? - A&amp;B</title>"));
    }
}
