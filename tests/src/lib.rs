//! Harness for the end-to-end tests: [`TestApp`] runs the real `portcullis` application on a
//! free port with a fresh database (a SQLite file, or a PostgreSQL database of its own), fresh
//! keys and a real SMTP server inside the test.

pub mod backend;
pub mod browser;
pub mod logs;
pub mod proxy;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use awc::Client;
use awc::http::header::HeaderMap;
use portcullis_domain::model::{Email, RequestContext, Role, Roles, User, UserQuery};
use portcullis_domain::{Actor, AdminError};
use portcullis_mailer_lettre::test_sink::SmtpSink;
use portcullis_server::{Application, Service, Settings};
use portcullis_store_diesel::test_db::TestDatabase;
use serde_json::{Value, json};
use tempfile::TempDir;

pub use backend::Backend;

/// A password that satisfies the default policy.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running application and everything a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The store behind it.
    pub backend: Backend,
    /// Holds the SQLite file, keys and mail files; removed when the last instance is dropped.
    pub dir: Arc<TempDir>,
    /// The PostgreSQL database, dropped when the last instance is dropped.
    pub db: Option<Arc<TestDatabase>>,
    /// The SMTP server the app delivers to.
    pub sink: Arc<SmtpSink>,
    /// The settings the app was built from.
    pub settings: Settings,
    client: Client,
    service: web::Data<Service>,
}

/// A mail the SMTP server received.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Envelope recipients.
    pub recipients: Vec<String>,
    /// The whole message (headers and body) as text.
    pub data: String,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body as JSON (`Null` when not JSON).
    pub body: Value,
    /// Body as text.
    pub text: String,
}

impl Resp {
    /// The `code` of a problem body.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
    /// Asserts a problem+json error with this status and code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.code(), code, "{self:?}");
        assert_eq!(self.header("content-type").as_deref(), Some("application/problem+json"), "{self:?}");
        assert_eq!(self.body["status"], json!(status));
        assert!(self.body["type"].is_string() && self.body["title"].is_string() && self.body["detail"].is_string());
    }
}

impl TestApp {
    /// Starts an app with test defaults on `backend`.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts an app on `backend` after `configure` adjusts the test defaults.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        logs::capture();
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let sink = Arc::new(SmtpSink::start().await.expect("smtp sink"));
        let db = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                Some(Arc::new(TestDatabase::create().await.expect("PostgreSQL checked by the test macro")))
            }
        };
        let mut s = Settings::default();
        s.server.addr = "127.0.0.1:0".parse().expect("addr");
        s.server.workers = 2;
        s.server.public_url = "http://portcullis.test".to_owned();
        s.database.url = match &db {
            Some(db) => db.url().to_owned(),
            None => format!("sqlite://{}", dir.path().join("portcullis.db").display()),
        };
        s.mailer.transport = "smtp".to_owned();
        s.mailer.smtp_url = sink.url();
        s.mailer.dir = dir.path().join("mail");
        s.mailer.poll_interval_ms = 20;
        // A real City database written by our own fixture code: known public addresses
        // resolve to known places (loopback, which most tests use, stays unknown).
        let city_db = dir.path().join("City.mmdb");
        portcullis_geo_maxmind::fixture::write_city_db(&city_db).expect("write GeoIP fixture");
        s.geoip.city_db = Some(city_db);
        s.tokens.key_file = dir.path().join("token.key");
        s.tokens.hash_key_file = dir.path().join("hash.key");
        s.mfa.secret_key_file = dir.path().join("mfa.key");
        s.passwords.hash_workers = 2;
        configure(&mut s);
        Self::start(backend, dir, db, sink, s).await
    }

    /// Another instance on the same database, keys and mail server, as a second server
    /// behind a load balancer would be.
    pub async fn another_instance(&self) -> Self {
        Self::start(self.backend, self.dir.clone(), self.db.clone(), self.sink.clone(), self.settings.clone()).await
    }

    /// Another instance on the same keys and mail server with other settings (for example
    /// another database URL reaching the same database through a proxy).
    pub async fn with_settings(&self, settings: Settings) -> Self {
        Self::start(self.backend, self.dir.clone(), self.db.clone(), self.sink.clone(), settings).await
    }

    async fn start(
        backend: Backend,
        dir: Arc<TempDir>,
        db: Option<Arc<TestDatabase>>,
        sink: Arc<SmtpSink>,
        settings: Settings,
    ) -> Self {
        let app = Application::build(&settings).await.expect("application builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let service = app.service();
        actix_web::rt::spawn(app.run_until_stopped());
        let client = Client::builder().timeout(Duration::from_secs(30)).finish();
        Self { base, backend, dir, db, sink, settings, client, service }
    }

    /// Sends a request with an optional JSON body and bearer token.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let res = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        };
        read(res.expect("request sent")).await
    }

    /// Sends raw bytes with a content type.
    pub async fn raw(&self, path: &str, content_type: Option<&str>, bytes: Vec<u8>) -> Resp {
        self.send_bytes("POST", path, None, content_type, bytes, false).await
    }

    /// Sends `bytes` as the body of `method path`, with an optional bearer token and content
    /// type; `chunked` sends it with `Transfer-Encoding: chunked` (no `Content-Length`), in
    /// 4 KiB chunks.
    pub async fn send_bytes(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        bytes: Vec<u8>,
        chunked: bool,
    ) -> Resp {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        if let Some(ct) = content_type {
            req = req.insert_header(("Content-Type", ct));
        }
        let res = if chunked {
            let chunks: Vec<Result<web::Bytes, std::io::Error>> =
                bytes.chunks(4096).map(|c| Ok(web::Bytes::copy_from_slice(c))).collect();
            req.send_stream(futures_util::stream::iter(chunks)).await
        } else {
            req.send_body(bytes).await
        };
        match res {
            Ok(res) => read(res).await,
            // The server may answer 413 and close before the whole body was sent.
            Err(e) => panic!("{path}: request failed: {e}"),
        }
    }

    /// `POST` JSON.
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call("POST", path, Some(body), None, &[]).await
    }

    /// `GET` with a token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call("GET", path, None, token, &[]).await
    }

    /// Registers an account.
    pub async fn register(&self, email: &str, password: &str) -> Resp {
        self.post("/api/v1/auth/register", json!({"name": "Laura Boyle", "email": email, "password": password})).await
    }

    /// Logs in.
    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.post("/api/v1/auth/login", json!({"email": email, "password": password})).await
    }

    /// Waits until `n` mails to `to` have arrived and returns them, oldest first.
    pub async fn mails_to(&self, to: &str, n: usize) -> Vec<Mail> {
        self.mails_to_within(to, n, Duration::from_secs(10)).await
    }

    /// [`Self::mails_to`] with a chosen patience (mail retried after a failure takes longer).
    pub async fn mails_to_within(&self, to: &str, n: usize, patience: Duration) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let mails: Vec<Mail> = self
                .sink
                .messages()
                .into_iter()
                .filter(|m| m.to.iter().any(|r| r.contains(to)))
                .map(|m| Mail { data: m.text(), recipients: m.to })
                .collect();
            if mails.len() >= n || tokio::time::Instant::now() > deadline {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The code in the `n`-th (1-based) mail to `to`.
    pub async fn code(&self, to: &str, n: usize) -> String {
        let mails = self.mails_to(to, n).await;
        let mail = mails.get(n - 1).unwrap_or_else(|| panic!("mail {n} to {to} never arrived"));
        code_in(&mail.data).unwrap_or_else(|| panic!("no code in mail: {}", mail.data))
    }

    /// Registers, verifies and returns the login response of a fresh account.
    pub async fn verified_login(&self, email: &str) -> Resp {
        assert_eq!(self.register(email, PASSWORD).await.status, 201);
        let code = self.code(email, 1).await;
        let r = self.post("/api/v1/auth/verify-email", json!({"email": email, "code": code})).await;
        assert_eq!(r.status, 200, "{r:?}");
        let r = self.login(email, PASSWORD).await;
        assert_eq!(r.status, 200, "{r:?}");
        r
    }

    /// Replaces the roles of the account of `email` (e.g. `&["admin"]`; `user` is always kept)
    /// through the domain, as the operator's command line does: the change is audited as
    /// `admin.user.roles_changed` with `actor_id` `"cli"`, and applies to the account's next
    /// request, on every instance.
    pub async fn grant_roles(&self, email: &str, roles: &[&str]) {
        let operator = Actor::Operator;
        let query = UserQuery { text: Some(email.to_owned()), status: None, limit: 100, offset: 0 };
        let page = self.service.admin_users(&operator, query).await.expect("account search");
        let user = page.items.into_iter().find(|u| u.email.as_str() == email).expect("the account exists");
        let roles = Roles::new(roles.iter().map(|r| Role::parse(r).expect("a role name")));
        let ctx = RequestContext::new(Ipv4Addr::LOCALHOST.into(), None);
        self.service.admin_set_roles(&operator, user.id, roles, &ctx).await.expect("roles set");
    }

    /// The account of `email` as stored (password hash included), read as an operator.
    pub async fn stored_user(&self, email: &str) -> Option<User> {
        let email = Email::parse(email).expect("a valid address");
        match self.service.admin_user_by_email(&Actor::Operator, &email).await {
            Ok(user) => Some(user),
            Err(AdminError::NotFound) => None,
            Err(e) => panic!("store read: {e}"),
        }
    }

    /// Registers, verifies and signs in `email`, makes it an administrator and returns its
    /// access token.
    pub async fn admin_token(&self, email: &str) -> String {
        let login = self.verified_login(email).await;
        self.grant_roles(email, &["admin"]).await;
        login.body["access_token"].as_str().expect("an access token").to_owned()
    }

    /// Runs the purge job of deleted accounts once on this instance (as its housekeeping
    /// round does every ten minutes); how many accounts it erased.
    pub async fn purge_deleted_accounts(&self) -> u64 {
        self.service.purge_deleted_accounts().await.expect("purge job").erased
    }

    /// Runs SQL on the app's database, as an operator or a fault would: `sqlite` on SQLite,
    /// `postgres` on PostgreSQL (times are integer milliseconds in one, timestamptz in the other).
    pub async fn sql(&self, sqlite: &str, postgres: &str) {
        match &self.db {
            None => {
                // Off the test's thread: the app's mail worker runs on this current-thread
                // runtime, and blocking it while the worker holds a write transaction would
                // wait for ourselves.
                let (path, statement) = (self.dir.path().join("portcullis.db"), sqlite.to_owned());
                tokio::task::spawn_blocking(move || backend::sqlite_exec(&path, &statement)).await.expect("sql task");
            }
            Some(db) => backend::postgres_exec(db.url(), postgres).await,
        }
    }

    /// The same statement on either backend.
    pub async fn sql_both(&self, statement: &str) {
        self.sql(statement, statement).await;
    }

    /// Moves every rate-limit event `secs` into the past, as if that time had passed.
    pub async fn age_rate_events(&self, secs: u64) {
        let sqlite = format!("UPDATE rate_events SET at = at - {}", secs * 1000);
        let postgres = format!("UPDATE rate_events SET at = at - interval '{secs} seconds'");
        self.sql(&sqlite, &postgres).await;
    }
}

async fn read(
    mut res: awc::ClientResponse<
        impl futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
    >,
) -> Resp {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = res.body().limit(4 * 1024 * 1024).await.expect("body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp { status, headers, body, text }
}

/// The first run of exactly six digits on a line of its own (after trimming).
pub fn code_in(mail: &str) -> Option<String> {
    mail.lines().map(str::trim).find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit())).map(str::to_owned)
}

/// The RFC 4648 base32 text (no padding) an enrolment shows, decoded.
pub fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u64, Vec::new());
    for c in text.bytes() {
        let digit = ALPHABET.iter().position(|&a| a == c).unwrap_or_else(|| panic!("{c:?} is not base32"));
        value = (value << 5) | digit as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
        }
    }
    out
}

/// The code an authenticator holding `secret` (base32) shows `offset` steps from now.
pub fn totp_code(secret: &str, offset: i64) -> String {
    use portcullis_domain::model::{TotpSecret, TotpStep};
    use portcullis_domain::ports::{Clock, SystemClock};
    let seed = TotpSecret::from_bytes(base32_decode(secret)).expect("a 160-bit secret");
    let step = TotpStep::at(SystemClock.now()).0.checked_add_signed(offset).expect("a step after the epoch");
    seed.code_at(TotpStep(step))
}

/// A TOTP factor enrolled and confirmed over HTTP.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The factor's id.
    pub id: String,
    /// Its secret, base32.
    pub secret: String,
    /// The recovery codes its confirmation returned (empty for a second factor).
    pub recovery_codes: Vec<String>,
}

impl TestApp {
    /// Enrols and confirms a TOTP factor named `name` with the session of `token`.
    pub async fn enrol_totp(&self, token: &str, name: &str) -> Enrolled {
        let body = json!({"password": PASSWORD, "name": name});
        let r = self.call("POST", "/api/v1/users/me/mfa/totp", Some(body), Some(token), &[]).await;
        assert_eq!(r.status, 201, "{r:?}");
        let id = r.body["id"].as_str().expect("an id").to_owned();
        let secret = r.body["secret"].as_str().expect("a secret").to_owned();
        let path = format!("/api/v1/users/me/mfa/totp/{id}/confirm");
        let r = self.call("POST", &path, Some(json!({"code": totp_code(&secret, 0)})), Some(token), &[]).await;
        assert_eq!(r.status, 200, "{r:?}");
        let recovery_codes = r.body["recovery_codes"]
            .as_array()
            .map(|codes| codes.iter().map(|c| c.as_str().expect("a code").to_owned()).collect())
            .unwrap_or_default();
        Enrolled { id, secret, recovery_codes }
    }

    /// Signs in with the password and expects `MFA_REQUIRED`; its `mfa_token`.
    pub async fn mfa_token(&self, email: &str) -> String {
        let r = self.login(email, PASSWORD).await;
        r.assert_problem(403, "MFA_REQUIRED");
        r.body["mfa_token"].as_str().expect("an mfa_token").to_owned()
    }

    /// `POST /auth/mfa/verify`.
    pub async fn verify_mfa(&self, mfa_token: &str, factor: &str, code: &str) -> Resp {
        self.post("/api/v1/auth/mfa/verify", json!({"mfa_token": mfa_token, "factor": factor, "code": code})).await
    }
}
