//! Secrets out of text that gets logged or shown: every adapter configured with a URL that
//! may carry a password (the database, the SMTP server) prints it through here.

/// Query parameters whose values are secrets (tokio-postgres and libpq read these).
const SECRET_PARAMETERS: [&str; 2] = ["password", "sslpassword"];

/// `url` with its user-info replaced by `***` (`postgres://app:secret@db/p` becomes
/// `postgres://***@db/p`), and the values of `password` and `sslpassword` query parameters
/// likewise. The user name goes too: for some services (an SMTP relay's API key, a cloud
/// access key id) it is half of the credential. A URL without either, or text that is not
/// a URL, comes back unchanged. The user-info is everything before the last `@` ahead of
/// the first `/`, `?` or `#`, so a password holding `@`, `:` or `/` percent-encoded (as it
/// must be) is covered whole.
pub fn url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let rest = match rest[..authority_end].rfind('@') {
        Some(at) => format!("***{}", &rest[at..]),
        None => rest.to_owned(),
    };
    let Some((before, query)) = rest.split_once('?') else {
        return format!("{scheme}://{rest}");
    };
    let (query, fragment) = query.split_once('#').map_or((query, None), |(q, f)| (q, Some(f)));
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_PARAMETERS.contains(&name.to_ascii_lowercase().as_str()) => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    let fragment = fragment.map(|f| format!("#{f}")).unwrap_or_default();
    format!("{scheme}://{before}?{}{fragment}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::url_password;

    #[test]
    fn hides_credentials_and_keeps_the_rest() {
        for (url, shown) in [
            ("postgres://app:secret@127.0.0.1:5432/p", "postgres://***@127.0.0.1:5432/p"),
            ("postgress://app:secret@db/p?sslmode=require", "postgress://***@db/p?sslmode=require"),
            ("smtp://user:p%40ss%2Fword@mail:587?tls=required", "smtp://***@mail:587?tls=required"),
            ("smtps://apikey@mail", "smtps://***@mail"),
            ("smtp://u:a@b@mail:25", "smtp://***@mail:25"),
            ("postgres://db/p?user=x", "postgres://db/p?user=x"),
            (
                "postgres://db/p?user=x&password=s3cret&sslmode=require",
                "postgres://db/p?user=x&password=***&sslmode=require",
            ),
            ("postgres://db/p?PASSWORD=s3cret#f", "postgres://db/p?PASSWORD=***#f"),
            ("postgres://u@db/p?sslpassword=s3cret", "postgres://***@db/p?sslpassword=***"),
            ("sqlite://data/portcullis.db", "sqlite://data/portcullis.db"),
            ("data/p.db", "data/p.db"),
        ] {
            assert_eq!(url_password(url), shown, "{url}");
        }
    }
}
