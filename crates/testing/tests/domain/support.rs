//! Shared set-up: a service on fakes, seeded users, request builders.

use std::sync::Arc;

use portcullis_domain::model::{
    AuditEntry, Email, NewPassword, OneTimeCode, OutgoingMail, Password, RequestContext, Session, SessionId, User,
    UserId,
};
use portcullis_domain::ports::{Change, UnitOfWork};
use portcullis_domain::{LoginOutcome, LoginRequest, Policy, Portcullis, Principal, RegisterUser};
use portcullis_testing::fakes::T0;
use portcullis_testing::fixtures::{self, LONDON_IP, PASSWORD};
use portcullis_testing::{TestHandles, TestPorts, test_service};

pub type Service = Portcullis<TestPorts>;

/// The service with the contract's default policy.
pub fn service() -> (Service, TestHandles) {
    test_service(Policy::default())
}

/// The service behind an `Arc`, for spawning parallel calls.
pub fn shared_service(policy: Policy) -> (Arc<Service>, TestHandles) {
    let (svc, handles) = test_service(policy);
    (Arc::new(svc), handles)
}

/// A request from London in Firefox.
pub fn ctx() -> RequestContext {
    fixtures::request(LONDON_IP)
}

pub fn email(raw: &str) -> Email {
    fixtures::email(raw)
}

pub fn code(digits: &str) -> OneTimeCode {
    OneTimeCode::parse(digits).expect("six digits")
}

/// A valid registration of `address` with [`PASSWORD`].
pub fn registration(address: &str) -> RegisterUser {
    RegisterUser::parse("Laura Boyle", address, PASSWORD, Policy::default().password).expect("valid registration")
}

/// Registers `address` and returns the mailed code.
pub async fn register(svc: &Service, h: &TestHandles, address: &str) -> String {
    svc.register(registration(address), &ctx()).await.expect("register");
    h.random.last_code().expect("a code was issued")
}

/// Stores `user` directly.
pub async fn seed(h: &TestHandles, user: User) -> User {
    h.store.commit(vec![Change::InsertUser(user.clone())]).await.expect("seed user");
    user
}

/// Stores an active, verified user with [`PASSWORD`].
pub async fn seed_verified(h: &TestHandles, address: &str) -> User {
    seed(h, fixtures::user(address, T0)).await
}

pub fn login_request(address: &str, password: &str, remember_me: bool) -> LoginRequest {
    LoginRequest { email: email(address), password: Password::new(password), remember_me }
}

/// Logs in with the right password.
pub async fn login_ok(svc: &Service, address: &str) -> LoginOutcome {
    svc.login(login_request(address, PASSWORD, false), &ctx()).await.expect("login")
}

/// Reasons of the stored `auth.login.failure` entries, oldest first.
pub fn failure_reasons(h: &TestHandles) -> Vec<String> {
    h.store
        .audit_entries()
        .iter()
        .filter(|e| e.action == "auth.login.failure")
        .map(|e| e.metadata["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A password that passes the default policy and differs from [`PASSWORD`].
pub const NEW_PASSWORD: &str = "violet gravel orbits the lighthouse";

/// `raw` checked against the default password policy.
pub fn new_password(raw: &str) -> NewPassword {
    NewPassword::parse(raw, None, Policy::default().password).expect("a password the policy accepts")
}

/// A request from `ip_addr` without a user agent (an unknown device, no known location
/// unless it is [`LONDON_IP`]).
pub fn ctx_from(ip_addr: &str) -> RequestContext {
    RequestContext::new(fixtures::ip(ip_addr), None)
}

/// The principal of a fresh login's access token.
pub async fn principal(svc: &Service, out: &LoginOutcome) -> Principal {
    svc.authenticate(&out.access_token).await.expect("a live session")
}

/// Stored audit entries with this action, oldest first.
pub fn audits(h: &TestHandles, action: &str) -> Vec<AuditEntry> {
    h.store.audit_entries().into_iter().filter(|e| e.action == action).collect()
}

/// Queued mail to `address` with this subject, oldest first.
pub fn mail_with_subject(h: &TestHandles, address: &str, subject: &str) -> Vec<OutgoingMail> {
    h.store.mail_to(address).into_iter().filter(|m| m.subject == subject).collect()
}

/// The stored session with this id.
pub fn stored_session(h: &TestHandles, id: SessionId) -> Session {
    h.store.sessions().into_iter().find(|s| s.id == id).expect("a stored session")
}

/// The stored user with this id.
pub fn stored_user(h: &TestHandles, id: UserId) -> User {
    h.store.users().into_iter().find(|u| u.id == id).expect("a stored user")
}

/// The "Not you?" token in the link of a new-sign-in mail.
pub fn alert_token(mail: &OutgoingMail) -> String {
    const MARKER: &str = "revoke-from-alert?token=";
    let start = mail.body.find(MARKER).expect("a new-sign-in mail with a revoke link") + MARKER.len();
    mail.body[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}
