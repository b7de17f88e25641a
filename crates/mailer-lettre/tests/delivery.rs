//! The mailer through its public API, as the server uses it: file, log and SMTP transports.
#![expect(clippy::unwrap_used, reason = "helpers outside #[test] fns; a failed setup should fail the test loudly")]

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_domain::model::{Email, MailId, OutgoingMail, Timestamp};
use portcullis_domain::ports::{MailError, MailTransport};
use portcullis_mailer_lettre::test_sink::SmtpSink;
use portcullis_mailer_lettre::{LettreMailer, MailerError, MailerSettings, TransportKind};

const CODE: &str = "482913";

fn mail(to: &str) -> OutgoingMail {
    OutgoingMail {
        id: MailId::new_v7(),
        to: Email::parse(to).unwrap(),
        to_name: Some("Zoë Palmer".to_owned()),
        subject: "Your Portcullis verification code".to_owned(),
        body: format!("Hello Zoë,\n\nYour verification code is:\n\n    {CODE}\n\n-- Portcullis\n"),
        html_body: None,
        attempts: 0,
        next_attempt_at: Timestamp::from_unix_millis(0),
        created_at: Timestamp::from_unix_millis(0),
    }
}

fn settings(transport: TransportKind) -> MailerSettings {
    MailerSettings { transport, timeout: Duration::from_secs(5), ..MailerSettings::default() }
}

fn smtp(url: String) -> LettreMailer {
    LettreMailer::new(&MailerSettings { smtp_url: url, ..settings(TransportKind::Smtp) }).unwrap()
}

fn eml_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn file_transport_writes_one_eml_per_message() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("not-yet-there");
    let mailer = LettreMailer::new(&MailerSettings { dir: dir.clone(), ..settings(TransportKind::File) }).unwrap();
    assert_eq!(mailer.kind(), TransportKind::File);
    let first = mail("laura@example.com");
    let second = mail("dale@example.com");
    mailer.send(first.clone()).await.unwrap();
    mailer.send(second.clone()).await.unwrap();
    // A retry of the same mail replaces its file instead of adding one.
    mailer.send(first.clone()).await.unwrap();

    let files = eml_files(&dir);
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2, "temporary files left behind");
    let eml = std::fs::read_to_string(dir.join(format!("{}.eml", first.id))).unwrap();
    assert!(eml.contains(&format!("\r\n\r\n    {CODE}\r\n")) || eml.contains(&format!("    {CODE}\r\n")), "{eml}");
    assert!(eml.contains(&format!("Message-ID: <{}@portcullis>\r\n", first.id)), "{eml}");
    assert!(eml.contains("From: Portcullis <no-reply@localhost>\r\n"), "{eml}");
    assert!(eml.contains("<laura@example.com>"), "{eml}");
    assert!(eml.contains("Subject: Your Portcullis verification code\r\n"), "{eml}");
    assert!(eml.contains("Hello Zoë,"), "UTF-8 body should be readable as is: {eml}");
    assert!(eml.contains("\r\nDate: "), "{eml}");
}

/// Collects everything the fmt subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn log_transport_logs_the_envelope_but_never_the_body() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mailer = LettreMailer::new(&settings(TransportKind::Log)).unwrap();
    let mail = mail("laura@example.com");
    mailer.send(mail.clone()).await.unwrap();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("INFO"), "{log}");
    assert!(log.contains("laura@example.com"), "{log}");
    assert!(log.contains("Your Portcullis verification code"), "{log}");
    assert!(log.contains(&format!("<{}@portcullis>", mail.id)), "{log}");
    assert!(!log.contains(CODE), "the body leaked into the log: {log}");
    assert!(!log.contains("Hello"), "the body leaked into the log: {log}");
}

#[tokio::test]
async fn smtp_delivers_to_the_sink() {
    let sink = SmtpSink::start().await.unwrap();
    let mailer = smtp(sink.url());
    let mails: Vec<OutgoingMail> =
        ["laura@example.com", "dale@example.com", "audrey@example.com"].into_iter().map(mail).collect();
    // Several in a row: the pooled connection is reused or replaced without trouble.
    for m in &mails {
        mailer.send(m.clone()).await.unwrap();
    }

    let got = sink.wait_for(3, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 3);
    for (m, r) in mails.iter().zip(&got) {
        assert_eq!(r.from, "no-reply@localhost");
        assert_eq!(r.to, [m.to.as_str()]);
        assert_eq!(r.header("Subject").as_deref(), Some("Your Portcullis verification code"));
        assert_eq!(r.header("Message-ID"), Some(format!("<{}@portcullis>", m.id)));
        assert!(r.header("To").is_some_and(|to| to.ends_with(&format!("<{}>", m.to))), "{:?}", r.header("To"));
        assert!(r.body().contains(&format!("    {CODE}\r\n")), "{}", r.text());
    }
    mailer.shutdown().await;
}

#[tokio::test]
async fn server_without_8bitmime_gets_an_ascii_body() {
    let sink = SmtpSink::start().await.unwrap();
    sink.set_8bitmime(false);
    smtp(sink.url()).send(mail("laura@example.com")).await.unwrap();
    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].data.is_ascii(), "{}", got[0].text());
    assert!(got[0].body().contains(CODE), "{}", got[0].text());
}

#[tokio::test]
async fn refusing_server_is_transient() {
    let sink = SmtpSink::start().await.unwrap();
    let mailer = smtp(sink.url());
    mailer.send(mail("laura@example.com")).await.unwrap();

    // Also covers the pooled connection from the first send: it gets 421 too.
    sink.set_refusing(true);
    let err = mailer.send(mail("laura@example.com")).await.unwrap_err();
    assert!(matches!(err, MailError::Transient(_)), "{err:?}");
    assert!(err.to_string().contains("421"), "{err}");

    sink.set_refusing(false);
    mailer.send(mail("laura@example.com")).await.unwrap();
    assert_eq!(sink.wait_for(2, Duration::from_secs(5)).await.len(), 2);
}

#[tokio::test]
async fn stopped_server_is_transient() {
    let sink = SmtpSink::start().await.unwrap();
    let mailer = smtp(sink.url());
    sink.stop().await;
    let err = mailer.send(mail("laura@example.com")).await.unwrap_err();
    assert!(matches!(err, MailError::Transient(_)), "{err:?}");
}

#[tokio::test]
async fn silent_server_times_out_as_transient() {
    // Accepts connections but never sends the greeting.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let mailer = LettreMailer::new(&MailerSettings {
        smtp_url: url,
        timeout: Duration::from_millis(300),
        ..settings(TransportKind::Smtp)
    })
    .unwrap();
    let started = std::time::Instant::now();
    let err = mailer.send(mail("laura@example.com")).await.unwrap_err();
    assert!(matches!(err, MailError::Transient(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    held.abort();
}

#[tokio::test]
async fn rejected_recipient_is_permanent() {
    let sink = SmtpSink::start().await.unwrap();
    sink.set_rejecting_recipients(true);
    let err = smtp(sink.url()).send(mail("laura@example.com")).await.unwrap_err();
    assert!(matches!(err, MailError::Permanent(_)), "{err:?}");
    assert!(err.to_string().contains("550"), "{err}");
    assert!(sink.messages().is_empty());
}

#[test]
fn invalid_from_is_rejected_at_startup() {
    for transport in [TransportKind::Smtp, TransportKind::File, TransportKind::Log] {
        let err = LettreMailer::new(&MailerSettings { from: "Portcullis no-reply".to_owned(), ..settings(transport) })
            .unwrap_err();
        assert!(matches!(err, MailerError::InvalidFrom { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("from") && text.contains("Portcullis no-reply"), "{text}");
    }
}

#[test]
fn invalid_smtp_url_is_rejected_at_startup() {
    for url in ["not a url", "http://mail.example.com", "smtp://:25", "smtp://h?tls=sometimes"] {
        let err = LettreMailer::new(&MailerSettings { smtp_url: url.to_owned(), ..settings(TransportKind::Smtp) })
            .map(|m| format!("{m:?}"))
            .unwrap_err();
        assert!(matches!(err, MailerError::InvalidSmtpUrl(_)), "{url}: {err:?}");
    }
    // The other transports ignore the URL.
    let file_dir = tempfile::tempdir().unwrap();
    LettreMailer::new(&MailerSettings {
        smtp_url: "garbage".to_owned(),
        dir: file_dir.path().to_owned(),
        ..settings(TransportKind::File)
    })
    .unwrap();
}

#[test]
fn smtp_mailer_can_be_built_without_a_runtime() {
    let mailer = LettreMailer::new(&MailerSettings {
        smtp_url: "smtps://user:secret@smtp.example.com:465".to_owned(),
        ..settings(TransportKind::Smtp)
    })
    .unwrap();
    let shown = format!("{mailer:?}");
    assert!(!shown.contains("secret"), "{shown}");
}

#[test]
fn unusable_dir_is_rejected_at_startup() {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    let dir = tmp.path().join("below-a-file");
    let err = LettreMailer::new(&MailerSettings { dir, ..settings(TransportKind::File) }).unwrap_err();
    assert!(matches!(err, MailerError::CreateDir { .. }), "{err:?}");
}
