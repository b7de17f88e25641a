//! Ready-made values for tests: users, sessions, codes, audit entries, mail, requests.
//!
//! Every builder takes the instant explicitly; none reads the wall clock. They panic on a
//! malformed literal argument, which is a bug in the calling test.

use std::net::IpAddr;
use std::time::Duration;

use portcullis_domain::model::{
    Aal, AccountStatus, AuditAction, AuthMethod, CeremonyPurpose, CeremonyState, CodeId, CodePurpose, CredentialId,
    Email, EmailChange, EmailChangeId, Enrichment, Factor, FactorId, FactorKind, FactorName, MailId, NewAuditEntry,
    Notification, NotificationId, OutgoingMail, Passkey, PasskeyCredential, RequestContext, Roles, SealedSecret,
    SecretDigest, Session, SessionId, StoredCeremony, StoredCode, Timestamp, User, UserId, UserName,
};
use portcullis_domain::ports::SecretHasher;

use crate::fakes::{FastHasher, PlainSecretHasher, firefox_on_linux, london};

/// The password of every fixture user; it passes the default password policy.
pub const PASSWORD: &str = "correct horse battery staple";
/// A public address (the contract's example), placed in London by [`crate::test_service`].
pub const LONDON_IP: &str = "81.2.69.142";
/// The user agent [`crate::test_service`] parses as Firefox on Linux.
pub const FIREFOX_UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// Parses a literal address.
pub fn email(raw: &str) -> Email {
    Email::parse(raw).expect("fixture email must be valid")
}

/// Parses a literal IP address.
pub fn ip(raw: &str) -> IpAddr {
    raw.parse().expect("fixture IP must be valid")
}

/// A request from `ip` with the Firefox user agent.
pub fn request(ip_addr: &str) -> RequestContext {
    RequestContext::new(ip(ip_addr), Some(FIREFOX_UA))
}

/// An active, verified user created at `at`, whose password is [`PASSWORD`] hashed by
/// [`FastHasher`]. Its name is the local part of the address.
pub fn user(address: &str, at: Timestamp) -> User {
    let email = email(address);
    let name = email.as_str().split('@').next().unwrap_or("user").to_owned();
    User {
        id: UserId::new_v7(),
        name: UserName::parse(&name).expect("fixture name must be valid"),
        email,
        password_hash: FastHasher::hash_of(PASSWORD),
        profile_picture: None,
        status: AccountStatus::Active,
        email_verified_at: Some(at),
        created_at: at,
        updated_at: at,
        deleted_at: None,
        roles: Roles::user(),
    }
}

/// Like [`user`], but the address is not verified yet.
pub fn unverified_user(address: &str, at: Timestamp) -> User {
    User { email_verified_at: None, ..user(address, at) }
}

/// A 24-hour session of `user` from London in Firefox, created at `at`. Its refresh digest
/// is unique (derived from its id).
pub fn session(user: &User, at: Timestamp) -> Session {
    let id = SessionId::new_v7();
    Session {
        id,
        user_id: user.id,
        refresh_token_hash: SecretDigest::new(id.to_string().into_bytes()),
        alert_token_hash: None,
        alert_expires_at: None,
        remember_me: false,
        ip_address: Some(ip(LONDON_IP)),
        user_agent: Some(FIREFOX_UA.to_owned()),
        device: firefox_on_linux(),
        location: Some(london()),
        created_at: at,
        last_seen_at: at,
        expires_at: at.plus(Duration::from_secs(24 * 3600)),
        revoked_at: None,
        aal: Aal::One,
        amr: vec![AuthMethod::Password],
    }
}

/// A fresh 15-minute code of `user` for `purpose` whose digits are `digits`, digested by
/// [`PlainSecretHasher`] under the purpose label `"fixture-code"`.
pub fn code(user: &User, purpose: CodePurpose, digits: &str, at: Timestamp) -> StoredCode {
    StoredCode {
        id: CodeId::new_v7(),
        user_id: user.id,
        purpose,
        digest: PlainSecretHasher.digest("fixture-code", digits),
        attempts: 0,
        expires_at: at.plus(Duration::from_secs(15 * 60)),
        consumed_at: None,
        created_at: at,
    }
}

/// A pending change of `user`'s address (as it is in `user`) to `new_address`, requested
/// at `at`.
pub fn email_change(user: &User, new_address: &str, at: Timestamp) -> EmailChange {
    EmailChange {
        id: EmailChangeId::new_v7(),
        user_id: user.id,
        old_email: user.email.clone(),
        new_email: email(new_address),
        created_at: at,
        confirmed_at: None,
        revert_digest: None,
        revert_expires_at: None,
        reverted_at: None,
    }
}

/// A pending TOTP factor of `user` named "Phone", created at `at`, whose "sealed" secret is
/// 57 bytes of its own id (stores keep it opaque; only a `SecretCipher` opens it).
pub fn factor(user: &User, at: Timestamp) -> Factor {
    let id = FactorId::new_v7();
    let mut secret = id.as_uuid().as_bytes().repeat(4);
    secret.truncate(57);
    Factor {
        id,
        user_id: user.id,
        kind: FactorKind::Totp,
        name: FactorName::parse("Phone").expect("fixture factor name"),
        secret: SealedSecret(secret),
        created_at: at,
        confirmed_at: None,
        last_used_step: None,
        last_used_at: None,
    }
}

/// An active `webauthn` factor of `user` made at `at` and its passkey with credential id
/// `credential` (a counter of 0, verified, not synced, enabled).
pub fn passkey(user: &User, at: Timestamp, credential: &[u8]) -> (Factor, Passkey) {
    let factor = Factor {
        kind: FactorKind::Webauthn,
        name: FactorName::parse("Laptop").expect("fixture factor name"),
        secret: SealedSecret(Vec::new()),
        confirmed_at: Some(at),
        ..self::factor(user, at)
    };
    let passkey = Passkey {
        factor_id: factor.id,
        user_id: user.id,
        credential_id: CredentialId::new(credential.to_vec()).expect("fixture credential id"),
        credential: PasskeyCredential(format!("{{\"fixture\":{}}}", credential.len())),
        sign_count: 0,
        user_verified: true,
        backed_up: false,
        disabled_at: None,
    };
    (factor, passkey)
}

/// A started ceremony of `purpose` for `user_id`, found by `digest`, living five minutes
/// from `at`.
pub fn ceremony(
    digest: SecretDigest,
    purpose: CeremonyPurpose,
    user_id: Option<UserId>,
    at: Timestamp,
) -> StoredCeremony {
    StoredCeremony {
        digest,
        purpose,
        user_id,
        binding: None,
        state: CeremonyState("{\"challenge\":\"fixture\"}".into()),
        created_at: at,
        expires_at: at.plus(std::time::Duration::from_secs(300)),
    }
}

/// An audit entry of `action` about `user_id` at `at`, from London in Firefox, with empty
/// metadata and no fingerprint.
pub fn audit(user_id: Option<UserId>, action: AuditAction, at: Timestamp) -> NewAuditEntry {
    NewAuditEntry {
        user_id,
        action,
        enrichment: Enrichment {
            ip_address: ip(LONDON_IP),
            user_agent: Some(FIREFOX_UA.to_owned()),
            device: firefox_on_linux(),
            location: Some(london()),
        },
        fingerprint: None,
        metadata: serde_json::Map::new(),
        created_at: at,
    }
}

/// A message to `address`, due at and queued at `at`.
pub fn mail(address: &str, at: Timestamp) -> OutgoingMail {
    OutgoingMail {
        id: MailId::new_v7(),
        to: email(address),
        to_name: Some("Laura Boyle".to_owned()),
        subject: "Hello".to_owned(),
        body: "Your code is 123456.\n".to_owned(),
        html_body: None,
        attempts: 0,
        next_attempt_at: at,
        created_at: at,
    }
}

/// An unread `security.new_sign_in` notification for `user` created at `at`.
pub fn notification(user: &User, at: Timestamp) -> Notification {
    Notification {
        id: NotificationId::new_v7(),
        user_id: user.id,
        kind: "security.new_sign_in".to_owned(),
        title: "New sign-in to your account".to_owned(),
        body: "Signed in from Firefox.".to_owned(),
        data: serde_json::json!({ "ip_address": LONDON_IP }),
        read_at: None,
        created_at: at,
    }
}
