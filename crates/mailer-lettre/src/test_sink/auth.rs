//! SMTP AUTH for the sink: the PLAIN (RFC 4616) and LOGIN mechanisms, server side.
//!
//! Only what a client needs to be tested against: the sink knows one user and password and
//! tells right from wrong. The base64 decoder is local so test support adds no dependency.

/// `334` prompt of the LOGIN mechanism: base64 of `Username:`.
pub(super) const LOGIN_USER_PROMPT: &[u8] = b"334 VXNlcm5hbWU6\r\n";
/// `334` prompt of the LOGIN mechanism: base64 of `Password:`.
pub(super) const LOGIN_PASSWORD_PROMPT: &[u8] = b"334 UGFzc3dvcmQ6\r\n";

/// The mechanism named in `AUTH <mechanism> [initial-response]`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Mechanism {
    /// `AUTH PLAIN`: one message `authzid NUL user NUL password`.
    Plain,
    /// `AUTH LOGIN`: user and password in two rounds.
    Login,
}

/// Splits `AUTH PLAIN dGVzdA==` into the mechanism and the optional initial response;
/// `None` for a mechanism the sink does not offer.
pub(super) fn parse_command(command: &str) -> Option<(Mechanism, Option<&str>)> {
    let mut words = command.split_whitespace().skip(1);
    let mechanism = match words.next()?.to_ascii_uppercase().as_str() {
        "PLAIN" => Mechanism::Plain,
        "LOGIN" => Mechanism::Login,
        _ => return None,
    };
    // `=` is the RFC 4954 spelling of an empty initial response.
    let initial = words.next().map(|r| if r == "=" { "" } else { r });
    Some((mechanism, initial))
}

/// Decodes a PLAIN response into user and password (the authorisation identity is ignored).
pub(super) fn decode_plain(response: &str) -> Option<(String, String)> {
    let bytes = decode_base64(response)?;
    let mut parts = bytes.split(|b| *b == 0);
    let _authzid = parts.next()?;
    let user = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let password = String::from_utf8(parts.next()?.to_vec()).ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some((user, password))
}

/// Decodes one base64 line of the LOGIN exchange as UTF-8.
pub(super) fn decode_text(response: &str) -> Option<String> {
    String::from_utf8(decode_base64(response)?).ok()
}

/// Standard base64 with padding (RFC 4648 §4), which is what SASL uses; `None` if malformed.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim().as_bytes();
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for chunk in text.chunks(4) {
        let padding = chunk.iter().rev().take_while(|b| **b == b'=').count();
        if padding > 2 {
            return None;
        }
        let mut group: u32 = 0;
        for &c in &chunk[..4 - padding] {
            group = (group << 6) | u32::from(sextet(c)?);
        }
        group <<= 6 * padding;
        let bytes = group.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - padding]);
    }
    Some(out)
}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(decode_base64("").as_deref(), Some(&b""[..]));
        assert_eq!(decode_base64("Zg==").as_deref(), Some(&b"f"[..]));
        assert_eq!(decode_base64("Zm8=").as_deref(), Some(&b"fo"[..]));
        assert_eq!(decode_base64("Zm9v").as_deref(), Some(&b"foo"[..]));
        assert_eq!(decode_base64("VXNlcm5hbWU6").as_deref(), Some(&b"Username:"[..]));
        assert_eq!(decode_base64("Zm9"), None);
        assert_eq!(decode_base64("Zm9*"), None);
    }

    #[test]
    fn decodes_plain_and_commands() {
        // "\0mailer\0hunter2"
        assert_eq!(decode_plain("AG1haWxlcgBodW50ZXIy"), Some(("mailer".to_owned(), "hunter2".to_owned())));
        assert_eq!(decode_plain("bWFpbGVy"), None);
        assert_eq!(parse_command("AUTH plain AG1h"), Some((Mechanism::Plain, Some("AG1h"))));
        assert_eq!(parse_command("AUTH LOGIN"), Some((Mechanism::Login, None)));
        assert_eq!(parse_command("AUTH PLAIN ="), Some((Mechanism::Plain, Some(""))));
        assert_eq!(parse_command("AUTH CRAM-MD5"), None);
    }
}
