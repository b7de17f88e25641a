//! Portcullis embedded in an axum service: register, verify, login, the login history and the
//! sign-in log, served by axum on the domain's use cases with the project's own SQLite store,
//! Argon2id hasher and PASETO tokens. The whole embedding is this file: the adapter set
//! ([`AppPorts`]), building the service ([`build`]), and thin handlers that turn JSON into use
//! case calls and outcomes into status codes ([`router`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use portcullis_crypto::{Argon2Config, Argon2Hasher, HmacSecretHasher, MfaSecretCipher, OsRandom, PasetoIssuer};
use portcullis_device_uap::UapDeviceDetector;
use portcullis_domain::model::{Email, OneTimeCode, Password, RequestContext};
use portcullis_domain::ports::{NoBreachSource, Ports, SystemClock};
use portcullis_domain::{
    AuthError, Deps, HistoryQuery, InfraError, LoginError, LoginRequest, Policy, Portcullis, Principal,
    RedeemCodeError, RegisterError, RegisterUser, ReportedEvent, SignInEventError,
};
use portcullis_geo_maxmind::OptionalGeo;
use portcullis_store_diesel::{DbConfig, DieselStore};
use portcullis_webauthn::{RelyingParty, WebauthnCeremonies};
use serde::Deserialize;
use serde_json::json;

/// Which adapter serves which port: the project's own, as its server uses them.
pub struct AppPorts;

impl Ports for AppPorts {
    type Store = DieselStore;
    type Hasher = Argon2Hasher;
    type Tokens = PasetoIssuer;
    type Secrets = HmacSecretHasher;
    type Random = OsRandom;
    type Clock = SystemClock;
    type Geo = OptionalGeo;
    type Devices = UapDeviceDetector;
    type Cipher = MfaSecretCipher;
    type Passkeys = WebauthnCeremonies;
    // No breached-password screening (the policy's `breach` is `None`).
    type Breaches = NoBreachSource;
}

/// The service, shared by every request.
pub type Auth = Arc<Portcullis<AppPorts>>;

/// Why the service could not be built.
pub type BuildError = Box<dyn std::error::Error + Send + Sync>;

/// Opens (and migrates) the SQLite database at `database`, creates or loads the three key files
/// in `keys`, and starts the hashing pool.
///
/// # Errors
/// The first adapter that fails.
pub async fn build(database: &Path, keys: &Path, policy: Policy) -> Result<Auth, BuildError> {
    let store = DieselStore::connect(&DbConfig::new(format!("sqlite://{}", database.display()))).await?;
    let deps = Deps::<AppPorts> {
        store,
        hasher: Argon2Hasher::new(Argon2Config::default())?,
        tokens: PasetoIssuer::from_key_file(&keys.join("token.key"))?,
        secrets: HmacSecretHasher::from_key_file(&keys.join("hash.key"))?,
        random: OsRandom,
        clock: SystemClock,
        // No GeoIP database: every location is unknown.
        geo: OptionalGeo(None),
        devices: UapDeviceDetector::with_cache_capacity(1_000)?,
        cipher: MfaSecretCipher::from_key_file(&keys.join("mfa.key"))?,
        passkeys: WebauthnCeremonies::new(&RelyingParty {
            id: "localhost".into(),
            name: "Example".into(),
            origins: vec!["http://localhost:3000".into()],
        })?,
        breaches: NoBreachSource,
    };
    Ok(Arc::new(Portcullis::new(deps, policy)))
}

/// The routes.
pub fn router(auth: Auth) -> Router {
    Router::new()
        .route("/register", post(register))
        .route("/verify", post(verify))
        .route("/login", post(login))
        .route("/me/logins", get(login_history))
        .route("/me/sign-ins", post(report_sign_in))
        .with_state(auth)
}

/// A JSON error body and its status.
fn problem(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

/// The domain's infrastructure errors, as this service answers them.
fn infra(e: &InfraError) -> Response {
    match e {
        InfraError::Unavailable(_) | InfraError::Busy { .. } => problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        _ => problem(StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// Who is calling: the peer address and user agent (this service trusts no proxy headers).
fn context(peer: SocketAddr, headers: &HeaderMap) -> RequestContext {
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    RequestContext::new(peer.ip(), agent)
}

#[derive(Deserialize)]
struct RegisterBody {
    name: String,
    email: String,
    password: String,
}

async fn register(
    State(auth): State<Auth>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<RegisterBody>,
) -> Response {
    let form = match RegisterUser::parse(&body.name, &body.email, &body.password, auth.policy().password) {
        Ok(form) => form,
        Err(errors) => {
            let fields: Vec<_> = errors.into_iter().map(|e| json!({"field": e.field, "message": e.message})).collect();
            return (StatusCode::BAD_REQUEST, Json(json!({ "error": "invalid", "fields": fields }))).into_response();
        }
    };
    match auth.register(form, &context(peer, &headers)).await {
        // The same answer whether the address was new or taken: no enumeration.
        Ok(_) => (StatusCode::CREATED, Json(json!({ "status": "check your mail" }))).into_response(),
        Err(RegisterError::RateLimited { .. }) => problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        Err(RegisterError::PasswordBreached) => problem(StatusCode::BAD_REQUEST, "breached_password"),
        Err(RegisterError::Infra(e)) => infra(&e),
        Err(_) => problem(StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

#[derive(Deserialize)]
struct VerifyBody {
    email: String,
    code: String,
}

async fn verify(
    State(auth): State<Auth>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<VerifyBody>,
) -> Response {
    let (Ok(email), Ok(code)) = (Email::parse(&body.email), OneTimeCode::parse(&body.code)) else {
        return problem(StatusCode::BAD_REQUEST, "invalid_code");
    };
    match auth.verify_email(&email, &code, &context(peer, &headers)).await {
        Ok(()) => Json(json!({ "verified": true })).into_response(),
        Err(RedeemCodeError::InvalidCode) => problem(StatusCode::BAD_REQUEST, "invalid_code"),
        Err(RedeemCodeError::CodeExpired) => problem(StatusCode::BAD_REQUEST, "code_expired"),
        Err(RedeemCodeError::AttemptsExceeded | RedeemCodeError::RateLimited { .. }) => {
            problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
        }
        Err(RedeemCodeError::Infra(e)) => infra(&e),
        Err(_) => problem(StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(
    State(auth): State<Auth>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<LoginBody>,
) -> Response {
    let Ok(email) = Email::parse(&body.email) else {
        return problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    };
    let request = LoginRequest { email, password: Password::new(&body.password), remember_me: false };
    match auth.login(request, &context(peer, &headers)).await {
        Ok(outcome) => Json(json!({
            "access_token": outcome.access_token,
            "refresh_token": outcome.refresh_token,
            "expires_in": outcome.expires_in.as_secs(),
        }))
        .into_response(),
        Err(LoginError::InvalidCredentials) => problem(StatusCode::UNAUTHORIZED, "invalid_credentials"),
        Err(LoginError::Blocked(block)) => problem(StatusCode::FORBIDDEN, block.audit_reason()),
        Err(LoginError::TooManyAttempts { .. } | LoginError::RateLimited { .. }) => {
            problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
        }
        Err(LoginError::Infra(e)) => infra(&e),
        Err(_) => problem(StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// The caller, from `Authorization: Bearer <access token>`.
async fn principal(auth: &Auth, headers: &HeaderMap) -> Result<Principal, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| problem(StatusCode::UNAUTHORIZED, "unauthorized"))?;
    auth.authenticate(token).await.map_err(|e| match e {
        AuthError::Infra(e) => infra(&e),
        _ => problem(StatusCode::UNAUTHORIZED, "unauthorized"),
    })
}

async fn login_history(State(auth): State<Auth>, headers: HeaderMap) -> Response {
    let me = match principal(&auth, &headers).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    match auth.login_history(me.user.id, HistoryQuery::default()).await {
        Ok(page) => {
            let entries: Vec<_> = page
                .items
                .iter()
                .map(|e| {
                    json!({
                        "action": e.action,
                        "ip": e.ip_address.map(|ip| ip.to_string()),
                        "browser": e.device.browser,
                        "at": e.created_at.to_rfc3339(),
                    })
                })
                .collect();
            Json(json!({ "total": page.total_count, "entries": entries })).into_response()
        }
        Err(e) => infra(&e),
    }
}

#[derive(Deserialize)]
struct SignInReport {
    /// `login` or `signup`.
    event: String,
}

async fn report_sign_in(
    State(auth): State<Auth>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<SignInReport>,
) -> Response {
    let me = match principal(&auth, &headers).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let event = match body.event.as_str() {
        "login" => ReportedEvent::Login,
        "signup" => ReportedEvent::Signup,
        _ => return problem(StatusCode::BAD_REQUEST, "unknown_event"),
    };
    match auth.record_sign_in_event(&me, event, None, &context(peer, &headers)).await {
        Ok(()) => (StatusCode::CREATED, Json(json!({ "recorded": true }))).into_response(),
        Err(SignInEventError::RateLimited { .. }) => problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        Err(SignInEventError::NotRecorded(_)) => Json(json!({ "recorded": false })).into_response(),
        Err(SignInEventError::Infra(e)) => infra(&e),
        Err(_) => problem(StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// Serves `router(auth)` on `listener` until the task is dropped.
///
/// # Errors
/// An I/O error of the listener.
pub async fn serve(listener: tokio::net::TcpListener, auth: Auth) -> std::io::Result<()> {
    axum::serve(listener, router(auth).into_make_service_with_connect_info::<SocketAddr>()).await
}

/// Where `main` listens by default.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 3000);
