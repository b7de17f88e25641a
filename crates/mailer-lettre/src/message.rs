//! Turns an [`OutgoingMail`] into a lettre [`Message`]: one plain-text UTF-8 part, or a
//! `multipart/alternative` of that text part and an HTML part.

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use portcullis_domain::model::OutgoingMail;
use portcullis_domain::ports::MailError;

/// RFC 5322 §2.1.1: a line is at most 998 octets without its CRLF.
const MAX_LINE_OCTETS: usize = 998;

/// `<{id}@portcullis>`: stable across retries, so a receiver that saw the first try can
/// recognise a redelivery as the same message.
pub(crate) fn message_id(mail: &OutgoingMail) -> String {
    format!("<{}@portcullis>", mail.id)
}

/// How the body is put on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyStyle {
    /// 7bit or 8bit when the text allows (see [`text_body`]).
    Readable,
    /// lettre's ASCII-only choice (7bit, quoted-printable or base64), for servers without 8BITMIME.
    AsciiSafe,
}

/// Builds the message sent for `mail`.
///
/// An address lettre cannot represent is a [`MailError::Permanent`]: retrying cannot fix it.
pub(crate) fn build(from: &Mailbox, mail: &OutgoingMail, style: BodyStyle) -> Result<Message, MailError> {
    let address = mail
        .to
        .as_str()
        .parse()
        // The address is left out of the error: it ends up in logs.
        .map_err(|e| MailError::Permanent(format!("recipient address not accepted: {e}")))?;
    let name = mail.to_name.as_deref().map(one_line).filter(|n| !n.is_empty());
    let builder = Message::builder()
        .from(from.clone())
        .to(Mailbox::new(name, address))
        .subject(one_line(&mail.subject))
        .message_id(Some(message_id(mail)))
        .date_now()
        // RFC 3834: tells vacation responders and the like not to answer.
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".to_owned()));
    let body = |text: &str| match style {
        BodyStyle::Readable => text_body(text),
        BodyStyle::AsciiSafe => Body::new(text.to_owned()),
    };
    match &mail.html_body {
        None => builder.header(ContentType::TEXT_PLAIN).body(body(&mail.body)),
        // RFC 2046 §5.1.4: alternatives go from plainest to richest, and a reader shows the
        // last one it can. Text first also keeps the code and links of the text part first in
        // the raw message, where people reading `.eml` files and the e2e tests look.
        Some(html) => builder.multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(body(&mail.body)))
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(body(html))),
        ),
    }
    .map_err(|e| MailError::Permanent(format!("cannot build message: {e}")))
}

/// Header values are one line: a CR or LF from a name or subject must not start a new header.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_owned()
}

/// A body (text or HTML), kept readable on the wire whenever RFC 5322 allows.
///
/// lettre's automatic choice switches to quoted-printable as soon as a line reaches 76
/// characters or a character is not ASCII, which soft-wraps long links and escapes accented
/// names. Readers of the `.eml` files (people and e2e tests) then see `=\r\n` in the middle of a
/// sign-out link. 7bit (ASCII) and 8bit (UTF-8) allow lines up to 998 octets, so those are used
/// when the text fits; 8bit needs the server's 8BITMIME, which every current MTA offers.
/// Anything else (very long lines, stray control characters) falls back to lettre's choice.
fn text_body(text: &str) -> Body {
    let lf = text.replace("\r\n", "\n");
    let fits = lf.split('\n').all(|line| line.len() <= MAX_LINE_OCTETS)
        && !lf.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
    if !fits {
        return Body::new(text.to_owned());
    }
    let encoding = if lf.is_ascii() { ContentTransferEncoding::SevenBit } else { ContentTransferEncoding::EightBit };
    // Checked above: CRLF line ends only, no NUL, no line over the limit.
    Body::dangerous_pre_encoded(lf.replace('\n', "\r\n").into_bytes(), encoding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_domain::model::{Email, MailId, Timestamp};

    fn mail(to_name: Option<&str>, subject: &str, body: &str) -> OutgoingMail {
        OutgoingMail {
            id: MailId::new_v7(),
            to: Email::parse("laura@example.com").unwrap(),
            to_name: to_name.map(str::to_owned),
            subject: subject.to_owned(),
            body: body.to_owned(),
            html_body: None,
            attempts: 0,
            next_attempt_at: Timestamp::from_unix_millis(0),
            created_at: Timestamp::from_unix_millis(0),
        }
    }

    fn from() -> Mailbox {
        "Portcullis <no-reply@localhost>".parse().unwrap()
    }

    fn formatted(m: &Message) -> String {
        String::from_utf8(m.formatted()).unwrap()
    }

    #[test]
    fn sets_the_headers() {
        let mail = mail(Some("Laura Palmer"), "Your code", "Hello\n\n    123456\n");
        let msg = build(&from(), &mail, BodyStyle::Readable).unwrap();
        let text = formatted(&msg);
        let headers = msg.headers();
        assert_eq!(headers.get_raw("From"), Some("Portcullis <no-reply@localhost>"));
        assert_eq!(headers.get_raw("To"), Some("Laura Palmer <laura@example.com>"));
        assert_eq!(headers.get_raw("Subject"), Some("Your code"));
        assert_eq!(headers.get_raw("Message-ID"), Some(format!("<{}@portcullis>", mail.id).as_str()));
        assert!(headers.get_raw("Date").is_some());
        assert_eq!(headers.get_raw("Auto-Submitted"), Some("auto-generated"));
        assert!(text.contains("Content-Type: text/plain; charset=utf-8\r\n"), "{text}");
        assert!(text.contains("Content-Transfer-Encoding: 7bit\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nHello\r\n\r\n    123456\r\n"), "{text}");
        let envelope = msg.envelope();
        assert_eq!(envelope.to().iter().map(ToString::to_string).collect::<Vec<_>>(), ["laura@example.com"]);
        assert_eq!(envelope.from().map(ToString::to_string).as_deref(), Some("no-reply@localhost"));
    }

    #[test]
    fn same_mail_same_message_id() {
        let mail = mail(None, "s", "b");
        let a = build(&from(), &mail, BodyStyle::Readable).unwrap();
        let b = build(&from(), &mail, BodyStyle::Readable).unwrap();
        assert_eq!(a.headers().get_raw("Message-ID"), b.headers().get_raw("Message-ID"));
    }

    #[test]
    fn no_name_gives_bare_address() {
        let msg = build(&from(), &mail(Some("  "), "s", "b"), BodyStyle::Readable).unwrap();
        assert_eq!(msg.headers().get_raw("To"), Some("laura@example.com"));
        let msg = build(&from(), &mail(None, "s", "b"), BodyStyle::Readable).unwrap();
        assert_eq!(msg.headers().get_raw("To"), Some("laura@example.com"));
    }

    #[test]
    fn utf8_subject_name_and_body() {
        let msg = build(
            &from(),
            &mail(Some("Zoë Ångström"), "Votre code : 654321 — ça marche", "Bonjour Zoë,\n\n    654321\n"),
            BodyStyle::Readable,
        )
        .unwrap();
        let text = formatted(&msg);
        // Header values are RFC 2047 encoded on the wire, and decode back to the original.
        assert_eq!(msg.headers().get_raw("Subject"), Some("Votre code : 654321 — ça marche"));
        assert!(text.contains("Subject: Votre code : 654321 =?utf-8?"), "{text}");
        assert!(text.contains("To: =?utf-8?"), "{text}");
        assert!(text.is_ascii() || text.contains("Content-Transfer-Encoding: 8bit\r\n"), "{text}");
        assert!(text.contains("Bonjour Zoë,\r\n\r\n    654321\r\n"), "{text}");
    }

    #[test]
    fn ascii_safe_style_for_servers_without_8bitmime() {
        let msg =
            build(&from(), &mail(Some("Zoë"), "Zoë", "Bonjour Zoë,\n\n    654321\n"), BodyStyle::AsciiSafe).unwrap();
        let text = formatted(&msg);
        assert!(text.is_ascii(), "{text}");
        assert!(text.contains("    654321"), "{text}");
    }

    #[test]
    fn long_link_is_not_wrapped() {
        let link = format!("https://auth.example.com/v1/sessions/revoke?token={}", "x".repeat(120));
        let msg = build(&from(), &mail(None, "s", &format!("Not you? {link}\n")), BodyStyle::Readable).unwrap();
        let text = formatted(&msg);
        assert!(text.contains(&link), "{text}");
    }

    #[test]
    fn overlong_line_falls_back_to_an_encoding() {
        let body = "y".repeat(MAX_LINE_OCTETS + 1);
        let msg = build(&from(), &mail(None, "s", &body), BodyStyle::Readable).unwrap();
        let text = formatted(&msg);
        assert!(text.lines().all(|l| l.len() <= MAX_LINE_OCTETS), "a line exceeds the limit");
    }

    #[test]
    fn header_injection_is_flattened() {
        let msg =
            build(&from(), &mail(Some("Eve\r\nBcc: x@evil.test"), "Hi\r\nBcc: y@evil.test", "b"), BodyStyle::Readable)
                .unwrap();
        let text = formatted(&msg);
        assert!(!text.contains("\r\nBcc:"), "{text}");
        assert_eq!(msg.envelope().to().len(), 1);
    }

    #[test]
    fn html_body_makes_text_then_html_alternatives() {
        let mut mail = mail(Some("Laura"), "Your code", "Hello Laura,\n\n    123456\n");
        mail.html_body = Some("<p>Hello Laura, caf\u{e9}</p>\n<p style=\"font-size:28px\">123456</p>\n".to_owned());
        let msg = build(&from(), &mail, BodyStyle::Readable).unwrap();
        let text = formatted(&msg);
        assert_eq!(msg.headers().get_raw("Message-ID"), Some(format!("<{}@portcullis>", mail.id).as_str()));
        assert_eq!(msg.headers().get_raw("Auto-Submitted"), Some("auto-generated"));
        assert!(text.contains("Content-Type: multipart/alternative;"), "{text}");
        let plain = text.find("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n");
        let html = text.find("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n");
        assert!(matches!((plain, html), (Some(p), Some(h)) if p < h), "text part first: {text}");
        assert!(text.contains("\r\n\r\nHello Laura,\r\n\r\n    123456\r\n"), "{text}");
        assert!(text.contains("<p>Hello Laura, caf\u{e9}</p>\r\n<p style=\"font-size:28px\">123456</p>\r\n"), "{text}");
        // The only bare six-digit line of the raw message is the text part's code.
        assert_eq!(text.lines().filter(|l| l.trim() == "123456").count(), 1, "{text}");
    }

    #[test]
    fn html_alternative_in_ascii_safe_style() {
        let mut mail = mail(Some("Zo\u{eb}"), "s", "Bonjour Zo\u{eb},\n\n    654321\n");
        mail.html_body = Some("<p>Bonjour Zo\u{eb}</p>".to_owned());
        let text = formatted(&build(&from(), &mail, BodyStyle::AsciiSafe).unwrap());
        assert!(text.is_ascii(), "{text}");
        assert!(text.contains("    654321") && text.contains("Content-Type: text/html; charset=utf-8"), "{text}");
    }
}
