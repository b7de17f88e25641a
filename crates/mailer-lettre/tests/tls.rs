//! SMTP over TLS (implicit and STARTTLS) and with AUTH, against the in-process sink: the mail
//! arrives, the sink saw it encrypted and/or authenticated, and failures have the right class.
#![expect(clippy::unwrap_used, reason = "helpers outside #[test] fns; a failed setup should fail the test loudly")]

use std::io::Write;
use std::time::Duration;

use portcullis_domain::model::{Email, MailId, OutgoingMail, Timestamp};
use portcullis_domain::ports::{MailError, MailTransport};
use portcullis_mailer_lettre::test_sink::{ReceivedMail, SinkOptions, SinkTls, SmtpSink};
use portcullis_mailer_lettre::{LettreMailer, MailerError, MailerSettings, TransportKind};
use tempfile::NamedTempFile;

const CODE: &str = "730164";
const USER: &str = "mailer";
const PASSWORD: &str = "hunter2";

fn mail(to: &str) -> OutgoingMail {
    OutgoingMail {
        id: MailId::new_v7(),
        to: Email::parse(to).unwrap(),
        to_name: Some("Laura Palmer".to_owned()),
        subject: "New sign-in to your account".to_owned(),
        body: format!("Hello Laura,\n\nA new device signed in. Code: {CODE}\n\n-- Portcullis\n"),
        html_body: None,
        attempts: 0,
        next_attempt_at: Timestamp::from_unix_millis(0),
        created_at: Timestamp::from_unix_millis(0),
    }
}

async fn sink(tls: SinkTls, auth: bool) -> SmtpSink {
    let auth = auth.then(|| (USER.to_owned(), PASSWORD.to_owned()));
    SmtpSink::start_with(SinkOptions { tls, auth }).await.unwrap()
}

/// The sink's CA in a temporary PEM file, as an operator would configure a private CA.
fn ca_file(sink: &SmtpSink) -> NamedTempFile {
    let mut file = NamedTempFile::new().unwrap();
    file.write_all(sink.ca_pem().unwrap().as_bytes()).unwrap();
    file
}

fn mailer(url: String, ca: Option<&NamedTempFile>) -> LettreMailer {
    LettreMailer::new(&MailerSettings {
        transport: TransportKind::Smtp,
        smtp_url: url,
        tls_ca_file: ca.map(|f| f.path().to_owned()),
        timeout: Duration::from_secs(5),
        ..MailerSettings::default()
    })
    .unwrap()
}

/// Sends one mail and returns what the sink got, checking the content made it intact.
async fn deliver(sink: &SmtpSink, mailer: &LettreMailer) -> ReceivedMail {
    let sent = mail("laura@example.com");
    mailer.send(sent.clone()).await.unwrap();
    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    let received = got[0].clone();
    assert_eq!(received.from, "no-reply@localhost");
    assert_eq!(received.to, ["laura@example.com"]);
    assert_eq!(received.header("Subject").as_deref(), Some("New sign-in to your account"));
    assert_eq!(received.header("Message-ID"), Some(format!("<{}@portcullis>", sent.id)));
    assert!(received.body().contains(CODE), "{}", received.text());
    mailer.shutdown().await;
    received
}

#[tokio::test]
async fn implicit_tls_with_trusted_ca_delivers_encrypted() {
    let sink = sink(SinkTls::Implicit, false).await;
    let ca = ca_file(&sink);
    assert!(sink.url().starts_with("smtps://localhost:"), "{}", sink.url());
    let received = deliver(&sink, &mailer(sink.url(), Some(&ca))).await;
    assert!(received.tls);
    assert_eq!(received.user, None);
}

#[tokio::test]
async fn starttls_with_trusted_ca_delivers_encrypted() {
    let sink = sink(SinkTls::StartTls, false).await;
    let ca = ca_file(&sink);
    assert!(sink.url().ends_with("?tls=required"), "{}", sink.url());
    let received = deliver(&sink, &mailer(sink.url(), Some(&ca))).await;
    assert!(received.tls, "STARTTLS was not used");
}

#[tokio::test]
async fn opportunistic_starttls_upgrades_when_offered() {
    let sink = sink(SinkTls::StartTls, false).await;
    let ca = ca_file(&sink);
    let url = sink.url().replace("tls=required", "tls=opportunistic");
    assert!(deliver(&sink, &mailer(url, Some(&ca))).await.tls);
}

#[tokio::test]
async fn auth_with_right_credentials_over_starttls_records_the_user() {
    let sink = sink(SinkTls::StartTls, true).await;
    let ca = ca_file(&sink);
    let received = deliver(&sink, &mailer(sink.url_with_credentials(USER, PASSWORD), Some(&ca))).await;
    assert!(received.tls);
    assert_eq!(received.user.as_deref(), Some(USER));
}

#[tokio::test]
async fn auth_over_implicit_tls_records_the_user() {
    let sink = sink(SinkTls::Implicit, true).await;
    let ca = ca_file(&sink);
    let received = deliver(&sink, &mailer(sink.url_with_credentials(USER, PASSWORD), Some(&ca))).await;
    assert!(received.tls);
    assert_eq!(received.user.as_deref(), Some(USER));
}

#[tokio::test]
async fn auth_on_plain_localhost_records_the_user() {
    let sink = sink(SinkTls::None, true).await;
    let received = deliver(&sink, &mailer(sink.url_with_credentials(USER, PASSWORD), None)).await;
    assert!(!received.tls);
    assert_eq!(received.user.as_deref(), Some(USER));
}

#[tokio::test]
async fn wrong_credentials_are_permanent() {
    // 535 is a 5xx reply: retrying the same password cannot help, so the outbox gives up
    // (lettre classifies it as permanent, like a rejected recipient).
    let sink = sink(SinkTls::StartTls, true).await;
    let ca = ca_file(&sink);
    let err =
        mailer(sink.url_with_credentials(USER, "wrong"), Some(&ca)).send(mail("laura@example.com")).await.unwrap_err();
    assert!(matches!(err, MailError::Permanent(_)), "{err:?}");
    assert!(err.to_string().contains("535"), "{err}");
    assert!(!err.to_string().contains("wrong"), "the password leaked into the error: {err}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn missing_credentials_are_refused_by_a_server_that_requires_auth() {
    let sink = sink(SinkTls::None, true).await;
    let err = mailer(sink.url(), None).send(mail("laura@example.com")).await.unwrap_err();
    assert!(matches!(err, MailError::Permanent(_)), "{err:?}");
    assert!(err.to_string().contains("530"), "{err}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn untrusted_server_certificate_is_transient_and_delivers_nothing() {
    for tls in [SinkTls::Implicit, SinkTls::StartTls] {
        let sink = sink(tls, false).await;
        // No CA file: only the web PKI roots, which do not know the sink's CA.
        let err = mailer(sink.url(), None).send(mail("laura@example.com")).await.unwrap_err();
        assert!(matches!(err, MailError::Transient(_)), "{tls:?}: {err:?}");
        assert!(err.to_string().contains("invalid peer certificate"), "{tls:?}: not a certificate failure: {err}");
        // Another sink's CA is no better.
        let other = self::sink(tls, false).await;
        let wrong_ca = ca_file(&other);
        let err = mailer(sink.url(), Some(&wrong_ca)).send(mail("laura@example.com")).await.unwrap_err();
        assert!(matches!(err, MailError::Transient(_)), "{tls:?}: {err:?}");
        assert!(err.to_string().contains("invalid peer certificate"), "{tls:?}: not a certificate failure: {err}");
        assert!(sink.messages().is_empty(), "{tls:?}");
    }
}

#[test]
fn unreadable_or_empty_ca_file_is_rejected_at_startup() {
    let settings = |path: std::path::PathBuf| MailerSettings {
        transport: TransportKind::Smtp,
        smtp_url: "smtps://smtp.example.com:465".to_owned(),
        tls_ca_file: Some(path),
        ..MailerSettings::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let err = LettreMailer::new(&settings(dir.path().join("missing.pem"))).unwrap_err();
    assert!(matches!(err, MailerError::ReadTlsCa { .. }), "{err:?}");

    let empty = NamedTempFile::new().unwrap();
    let err = LettreMailer::new(&settings(empty.path().to_owned())).unwrap_err();
    assert!(matches!(err, MailerError::InvalidTlsCa { .. }), "{err:?}");
    assert!(err.to_string().contains("no PEM certificate"), "{err}");

    // A plain URL has no TLS to configure, so the CA file is not even read.
    LettreMailer::new(&MailerSettings {
        smtp_url: "smtp://127.0.0.1:1025".to_owned(),
        ..settings(dir.path().join("missing.pem"))
    })
    .unwrap();
}

/// Sends each command and checks the reply code (multi-line replies read to their last line).
async fn converse(sink: &SmtpSink, steps: &[(&str, &str)]) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = tokio::net::TcpStream::connect(sink.addr()).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut transcript = String::new();
    let mut expect = "220";
    for (command, next) in steps.iter().copied().chain([("", "")]) {
        let mut line = String::new();
        loop {
            line.clear();
            read.read_line(&mut line).await.unwrap();
            transcript.push_str(&line);
            assert!(line.starts_with(expect), "after {command:?} expected {expect}, got {line:?}\n{transcript}");
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        if command.is_empty() {
            break;
        }
        write.write_all(format!("{command}\r\n").as_bytes()).await.unwrap();
        expect = next;
    }
    transcript
}

#[tokio::test]
async fn sink_speaks_auth_login_and_plain_and_guards_mail() {
    let sink = sink(SinkTls::StartTls, true).await;
    // base64: "mailer", "hunter2", "wrong", "\0mailer\0hunter2"
    let (user, pass, wrong, plain) = ("bWFpbGVy", "aHVudGVyMg==", "d3Jvbmc=", "AG1haWxlcgBodW50ZXIy");
    let transcript = converse(
        &sink,
        &[
            ("EHLO me", "250"),
            ("MAIL FROM:<a@example.com>", "530"),
            ("AUTH LOGIN", "334"),
            (user, "334"),
            (wrong, "535"),
            ("AUTH CRAM-MD5", "504"),
            ("AUTH LOGIN", "334"),
            (user, "334"),
            (pass, "235"),
            ("AUTH PLAIN", "503"),
            ("MAIL FROM:<a@example.com>", "250"),
            ("QUIT", "221"),
        ],
    )
    .await;
    assert!(transcript.contains("250-STARTTLS\r\n"), "{transcript}");
    assert!(transcript.contains("250-AUTH PLAIN LOGIN\r\n"), "{transcript}");
    assert!(transcript.contains("334 VXNlcm5hbWU6\r\n"), "{transcript}");

    // PLAIN, with the response in a second round, then the whole transaction.
    converse(
        &sink,
        &[
            ("EHLO me", "250"),
            ("AUTH PLAIN", "334"),
            (plain, "235"),
            ("MAIL FROM:<a@example.com>", "250"),
            ("RCPT TO:<b@example.com>", "250"),
            ("DATA", "354"),
            ("Subject: hi\r\n\r\nbody\r\n.", "250"),
            ("QUIT", "221"),
        ],
    )
    .await;
    let got = sink.wait_for(1, Duration::from_secs(1)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].user.as_deref(), Some(USER));
    assert!(!got[0].tls);
}
