//! Secrets out of text that gets logged or shown: every adapter configured with a URL that
//! may carry a password (the database, the SMTP server) prints it through here.

/// `url` with the password of its user-info replaced by `***`, the user name kept:
/// `postgres://app:secret@db/p` becomes `postgres://app:***@db/p`. A URL without user-info,
/// or text that is not a URL, comes back unchanged. The user-info is everything before the
/// last `@` ahead of the first `/`, `?` or `#` of the authority, so a password holding `@`,
/// `:` or `/` percent-encoded (as it must be) is covered whole.
pub fn url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let (user_info, host) = rest.split_at(at);
    match user_info.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{host}"),
        // A lone user name may be a token (`smtp://apikey@host`): hidden too.
        None => format!("{scheme}://***{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::url_password;

    #[test]
    fn hides_passwords_and_keeps_the_rest() {
        for (url, shown) in [
            ("postgres://app:secret@127.0.0.1:5432/p", "postgres://app:***@127.0.0.1:5432/p"),
            ("postgress://app:secret@db/p?sslmode=require", "postgress://app:***@db/p?sslmode=require"),
            ("smtp://user:p%40ss%2Fword@mail:587?tls=required", "smtp://user:***@mail:587?tls=required"),
            ("smtps://apikey@mail", "smtps://***@mail"),
            ("smtp://u:a@b@mail:25", "smtp://u:***@mail:25"),
            ("postgres://db/p?user=x", "postgres://db/p?user=x"),
            ("postgres://db/p?password=x@y", "postgres://db/p?password=x@y"),
            ("sqlite://data/portcullis.db", "sqlite://data/portcullis.db"),
            ("data/p.db", "data/p.db"),
        ] {
            assert_eq!(url_password(url), shown, "{url}");
        }
    }
}
