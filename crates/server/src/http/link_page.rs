//! The small HTML pages behind mailed links (the "Not you?" link, the address-change revert
//! link): self-contained (no script, no style sheet, image or font from elsewhere), and
//! served with headers that keep them so. A `GET` of such a link only shows a page whose
//! button `POST`s the token back: mail scanners and link previews fetch links on their own.

use actix_web::{HttpRequest, HttpResponse};

use crate::http::dto::opaque_token;
use crate::http::problem::ApiError;
use crate::http::query;
use actix_web::http::StatusCode;
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

/// The `token` of a mailed link's query string, checked like a posted one.
///
/// # Errors
/// `VALIDATION_ERROR` when it is missing, empty or over 512 characters, or the query is
/// malformed.
pub fn query_token(req: &HttpRequest) -> Result<String, ApiError> {
    let pairs = query::pairs(req.query_string())?;
    let raw = pairs.iter().find(|(name, _)| name == "token").map_or("", |(_, value)| value.as_str());
    Ok(opaque_token("token", raw)?.to_owned())
}

/// A whole page: `title` (escaped here) over `body` (HTML the caller escaped).
pub fn document(product: &str, title: &str, body: &str) -> String {
    let (product, title) = (escape(product), escape(title));
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"robots\" content=\"noindex, nofollow\"><meta name=\"referrer\" content=\"no-referrer\">\
<title>{title} - {product}</title><style>{STYLE}</style></head>\n<body>\n<h1>{title}</h1>\n{body}\n\
<p><small>{product}</small></p>\n</body></html>\n"
    )
}

/// A 200 `text/html` answer with the headers above, never cached.
pub fn html(body: String) -> HttpResponse {
    html_with_status(StatusCode::OK, body)
}

/// A `text/html` answer with this status and the headers above, never cached.
pub fn html_with_status(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
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
    fn titles_are_escaped_and_nothing_is_loaded_from_elsewhere() {
        let page = document("A&B", "<Title>", "<p>body</p>");
        assert!(page.contains("<title>&lt;Title&gt; - A&amp;B</title>"), "{page}");
        for external in ["http:", "https:", "src=", "href=", "<link", "<script", "url("] {
            assert!(!page.contains(external), "{external} in {page}");
        }
        assert_eq!(escape("\"><script>&'"), "&quot;&gt;&lt;script&gt;&amp;&#39;");
    }
}
