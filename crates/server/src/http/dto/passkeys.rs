//! Bodies of section 9: passkeys. The options and credentials are the WebAuthn JSON
//! encodings, passed through as the browser produces and consumes them.

use portcullis_domain::PasskeySummary;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /users/me/passkeys/options`
// No `Debug`: it carries the password.
#[derive(Deserialize, ToSchema)]
pub struct PasskeyOptionsBody {
    /// The account's current password.
    pub password: String,
}

/// `POST /users/me/passkeys`
#[derive(Deserialize, ToSchema)]
pub struct RegisterPasskeyBody {
    /// A label for the passkey, 1 to 64 characters; `Passkey` when absent.
    pub name: Option<String>,
    /// The `RegistrationResponseJSON` of `navigator.credentials.create()` (its `toJSON()`,
    /// or what `@simplewebauthn/browser`'s `startRegistration` returns).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// `POST /auth/passkey/options`
#[derive(Deserialize, ToSchema)]
pub struct PasskeySignInOptionsBody {
    /// The address typed, if any; without it the authenticator offers its discoverable
    /// credentials for this site.
    pub email: Option<String>,
}

/// `POST /auth/passkey/login`
#[derive(Deserialize, ToSchema)]
pub struct PasskeyLoginBody {
    /// The `AuthenticationResponseJSON` of `navigator.credentials.get()`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// Keep the session for longer, as at password login.
    pub remember_me: Option<bool>,
}

/// The options of a ceremony as the WebAuthn JSON encoding has them: the
/// `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`
/// itself (binary members base64url), for `PublicKeyCredential.parseCreationOptionsFromJSON`
/// / `parseRequestOptionsFromJSON` or `@simplewebauthn/browser`'s `optionsJSON`.
pub fn options_json(mut options: serde_json::Value) -> serde_json::Value {
    options.get_mut("publicKey").map(serde_json::Value::take).unwrap_or_default()
}

/// A passkey of the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyView {
    /// Id (UUIDv7), also its id among the second factors.
    pub id: String,
    /// `webauthn`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The user's label.
    pub name: String,
    /// When it was added (RFC 3339, ms, UTC).
    pub created_at: String,
    /// When it last signed the user in; null before the first time.
    pub last_used_at: Option<String>,
    /// Synced between devices (as of its last use): a passkey manager's, not a security key's.
    pub backed_up: bool,
    /// Disabled because its signature counter went backwards (a possible copy); it signs
    /// nobody in, but still counts as the account's second factor until removed.
    pub disabled: bool,
}

impl From<&PasskeySummary> for PasskeyView {
    fn from(p: &PasskeySummary) -> Self {
        Self {
            id: p.factor.id.to_string(),
            kind: p.factor.kind.as_str(),
            name: p.factor.name.as_str().to_owned(),
            created_at: p.factor.created_at.to_rfc3339(),
            last_used_at: p.factor.last_used_at.map(|t| t.to_rfc3339()),
            backed_up: p.backed_up,
            disabled: p.disabled,
        }
    }
}

/// `201` of `POST /users/me/passkeys`: the passkey, and for the account's first factor its
/// ten recovery codes, shown this once.
// No `Debug`: it may carry recovery codes.
#[derive(Serialize, ToSchema)]
pub struct RegisterPasskeyResponse {
    /// The passkey.
    #[serde(flatten)]
    pub passkey: PasskeyView,
    /// Present with the account's first active factor only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// `200` of `GET /users/me/passkeys`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyListResponse {
    /// Oldest first.
    pub passkeys: Vec<PasskeyView>,
}
