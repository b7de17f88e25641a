//! Mail leaves through the durable outbox: a mail server that is down delays mail, never
//! loses it and never fails a login; several workers send each message once.

use std::collections::HashMap;
use std::time::Duration;

use portcullis_e2e::{Backend, PASSWORD, TestApp};

async fn a_mail_server_that_is_down_delays_mail_but_not_logins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.verified_login("down@example.com").await;
    // The code and the first alert, delivered while the server was up.
    assert_eq!(app.mails_to("down@example.com", 2).await.len(), 2);
    app.sink.set_refusing(true);
    let r = app.login("down@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "a login never waits for SMTP: {r:?}");
    // Let the worker fail at least once against the refusing server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.mails_to_within("down@example.com", 3, Duration::ZERO).await.len(), 2);
    app.sink.set_refusing(false);
    // The first retry comes after the backoff (5 s).
    let mails = app.mails_to_within("down@example.com", 3, Duration::from_secs(30)).await;
    assert_eq!(mails.len(), 3, "the alert arrived once the server was back");
    assert!(mails[2].data.contains("New sign-in"));
}

async fn two_instances_send_each_mail_exactly_once(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.another_instance().await;
    for i in 0..12 {
        let app = if i % 2 == 0 { &a } else { &b };
        assert_eq!(app.register(&format!("u{i}@example.com"), PASSWORD).await.status, 201);
    }
    for i in 0..12 {
        assert_eq!(a.mails_to(&format!("u{i}@example.com"), 1).await.len(), 1);
    }
    // Give both workers time to (wrongly) send anything twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for m in a.sink.messages() {
        let id = m.header("Message-ID").expect("every mail has a Message-ID");
        *by_id.entry(id).or_default() += 1;
    }
    assert_eq!(by_id.len(), 12);
    assert!(by_id.values().all(|n| *n == 1), "{by_id:?}");
}

portcullis_e2e::on_both_backends!(
    a_mail_server_that_is_down_delays_mail_but_not_logins,
    two_instances_send_each_mail_exactly_once,
);
