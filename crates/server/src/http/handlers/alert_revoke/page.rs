//! The two pages of the "Not you?" link, on the frame of [`crate::http::link_page`].

use crate::http::link_page::{document, escape};

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
