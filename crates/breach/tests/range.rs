//! `RangeApi` against the in-process range server over loopback: real HTTP, no mocks of it.

use std::time::{Duration, Instant};

use portcullis_breach::test_server::{Behaviour, MockRangeServer};
use portcullis_breach::{RangeApi, sha1_of};
use portcullis_domain::model::Password;
use portcullis_domain::ports::{BreachLookupError, BreachedPasswords, Exposure};

const TIMEOUT: Duration = Duration::from_secs(1);

/// SHA-1 "P@ssw0rd" = 21BD1 2DC183F740EE76F27B78EB39C8AD972A757 (HIBP's own example).
const LISTED: &str = "P@ssw0rd";

fn api(server: &MockRangeServer) -> RangeApi {
    RangeApi::new(&server.url(), TIMEOUT).expect("the mock's URL is valid")
}

async fn exposure(api: &RangeApi, password: &str) -> Result<Exposure, BreachLookupError> {
    api.exposure(&Password::new(password)).await
}

#[tokio::test]
async fn a_listed_password_is_seen_with_its_count() {
    let server = MockRangeServer::start([(LISTED, 52_579), ("hunter2", 17)]).await;
    let api = api(&server);
    assert_eq!(exposure(&api, LISTED).await.unwrap(), Exposure::Seen { times: 52_579 });
    assert_eq!(exposure(&api, "hunter2").await.unwrap(), Exposure::Seen { times: 17 });
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn an_unlisted_password_is_unlisted() {
    let server = MockRangeServer::start([(LISTED, 52_579)]).await;
    let api = api(&server);
    let unlisted = "a passphrase nobody has leaked yet, 7f3c";
    assert_eq!(exposure(&api, unlisted).await.unwrap(), Exposure::Unlisted);
    // The answer was padded (800-1,000 lines of count 0), and none of them counted.
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_padding_line_never_counts_even_when_its_suffix_is_ours() {
    // Count 0 is how padding looks; listing our own suffix with it is the worst case.
    let server = MockRangeServer::start([(LISTED, 0)]).await;
    assert_eq!(exposure(&api(&server), LISTED).await.unwrap(), Exposure::Unlisted);
}

#[tokio::test]
async fn only_the_prefix_leaves_with_padding_asked_for() {
    let server = MockRangeServer::start([(LISTED, 3)]).await;
    let api = api(&server);
    exposure(&api, LISTED).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/range/21BD1");
    assert_eq!(request.header("add-padding"), Some("true"));
    assert_eq!(request.header("host"), Some(server.addr().to_string().as_str()));
    let agent = request.header("user-agent").unwrap_or_default();
    assert!(agent.starts_with("Portcullis/"), "{agent}");

    // Nothing of the hash past the 5 digits, in any case, anywhere in the request.
    let hex: String = sha1_of(&Password::new(LISTED)).iter().map(|b| format!("{b:02X}")).collect();
    let rest = &hex[5..];
    let everything = format!("{} {:?}", request.path, request.headers).to_ascii_uppercase();
    for window in 0..=(rest.len() - 6) {
        assert!(!everything.contains(&rest[window..window + 6]), "part of the suffix was sent: {everything}");
    }
}

#[tokio::test]
async fn a_mirror_keeps_its_path_prefix() {
    let server = MockRangeServer::start([(LISTED, 9)]).await;
    for base in [format!("{}/hibp/", server.url()), format!("{}/hibp", server.url())] {
        let api = RangeApi::new(&base, TIMEOUT).unwrap();
        assert_eq!(exposure(&api, LISTED).await.unwrap(), Exposure::Seen { times: 9 });
    }
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/hibp/range/21BD1", "/hibp/range/21BD1"]);
}

#[tokio::test]
async fn a_hanging_source_times_out_after_the_timeout() {
    let server = MockRangeServer::start([(LISTED, 9)]).await;
    server.set_behaviour(Behaviour::Hang);
    let api = api(&server);
    let started = Instant::now();
    let result = exposure(&api, LISTED).await;
    let took = started.elapsed();
    assert!(matches!(result, Err(BreachLookupError::Timeout)), "{result:?}");
    assert!(took >= Duration::from_millis(900), "gave up early: {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(server.count(), 1, "the request did arrive");
}

#[tokio::test]
async fn an_error_status_is_unavailable() {
    let server = MockRangeServer::start([(LISTED, 9)]).await;
    let api = api(&server);
    for status in [500, 503, 429, 404] {
        server.set_behaviour(Behaviour::Status(status));
        match exposure(&api, LISTED).await {
            Err(BreachLookupError::Unavailable(message)) => assert_eq!(message, format!("status {status}")),
            other => panic!("{status}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn garbage_is_malformed_and_does_not_echo() {
    let server = MockRangeServer::start([(LISTED, 9)]).await;
    server.set_behaviour(Behaviour::Garbage);
    let api = api(&server);
    match exposure(&api, LISTED).await {
        Err(BreachLookupError::Malformed(message)) => assert_eq!(message, "line 1 is not SUFFIX:COUNT"),
        other => panic!("{other:?}"),
    }
    // A right line followed by a broken one: the whole answer is refused.
    server.set_behaviour(Behaviour::Body(
        b"2DC183F740EE76F27B78EB39C8AD972A757:5\r\n0018A45C4D1DEF81644B54AB7F969B88D65\r\n".to_vec(),
    ));
    assert!(matches!(exposure(&api, LISTED).await, Err(BreachLookupError::Malformed(_))));
    // LF endings and lower case are fine.
    server.set_behaviour(Behaviour::Body(b"2dc183f740ee76f27b78eb39c8ad972a757:5\n".to_vec()));
    assert_eq!(exposure(&api, LISTED).await.unwrap(), Exposure::Seen { times: 5 });
}

#[tokio::test]
async fn an_oversized_answer_is_malformed() {
    let server = MockRangeServer::start([(LISTED, 9)]).await;
    let line = b"0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n";
    let body: Vec<u8> = line.iter().copied().cycle().take(portcullis_breach::MAX_BODY + line.len()).collect();
    server.set_behaviour(Behaviour::Body(body));
    match exposure(&api(&server), LISTED).await {
        Err(BreachLookupError::Malformed(message)) => assert!(message.contains("longer than"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let api = RangeApi::new(&format!("http://{addr}"), TIMEOUT).unwrap();
    let started = Instant::now();
    match exposure(&api, LISTED).await {
        Err(BreachLookupError::Unavailable(message)) => assert_eq!(message, "connection refused"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < TIMEOUT);
}

#[tokio::test]
async fn errors_and_debug_never_show_the_password_or_its_hash() {
    let server = MockRangeServer::start([(LISTED, 9)]).await;
    let api = api(&server);
    let hex: String = sha1_of(&Password::new(LISTED)).iter().map(|b| format!("{b:02x}")).collect();
    for behaviour in [Behaviour::Garbage, Behaviour::Status(500), Behaviour::Hang] {
        server.set_behaviour(behaviour);
        let error = exposure(&api, LISTED).await.unwrap_err();
        let shown = format!("{error} {error:?} {api:?}").to_ascii_lowercase();
        assert!(!shown.contains("p@ssw0rd") && !shown.contains(&hex[5..]) && !shown.contains(&hex[..5]), "{shown}");
    }
}
