//! Building blocks several use cases share: queued mail, codes, sign-in alerts.

use crate::mail_templates::{MailTemplates, MailText, SignInFacts, SignedInWith};
use crate::model::{
    AuditAction, CodeId, CodePurpose, Email, Enrichment, MailId, NewAuditEntry, Notification, NotificationId,
    OutgoingMail, RequestContext, SecretDigest, SessionId, StoredCode, Timestamp, User, UserId,
};
use crate::ports::{Change, Ports, RandomSource, SecretHasher};
use crate::service::Portcullis;

/// A template that renders a mailed code: product, name, code, lifetime.
type RenderCode = fn(&MailTemplates, &str, &str, &str, std::time::Duration) -> MailText;

/// A code that goes out by mail (a second-factor challenge never does).
#[derive(Clone, Copy, Debug)]
pub(crate) enum MailedCode {
    /// Proves the address after registration.
    VerifyEmail,
    /// Resets the password.
    ResetPassword,
    /// Signs in without the password.
    SignIn,
}

/// Purpose label of the keyed hash of one-time codes.
pub(crate) const CODE_DIGEST: &str = "one-time-code";
/// Purpose label of the keyed hash of refresh tokens.
pub(crate) const REFRESH_DIGEST: &str = "refresh-token";
/// Purpose label of the keyed hash of "Not you?" alert tokens.
pub(crate) const ALERT_DIGEST: &str = "alert-token";

/// Audit metadata: a JSON object from `(key, value)` pairs.
pub(crate) fn metadata<const N: usize>(
    pairs: [(&str, serde_json::Value); N],
) -> serde_json::Map<String, serde_json::Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

impl<P: Ports> Portcullis<P> {
    /// An audit entry about `user_id`, enriched from `ctx`.
    pub(crate) fn audit(
        &self,
        user_id: UserId,
        action: AuditAction,
        ctx: &RequestContext,
        metadata: serde_json::Map<String, serde_json::Value>,
        now: Timestamp,
    ) -> Change {
        Change::AppendAudit(self.audit_entry(Some(user_id), action, ctx, metadata, now))
    }

    /// An audit entry about `user_id` (none: about no account, as for the operator's own
    /// actions), enriched from `ctx`.
    pub(crate) fn audit_entry(
        &self,
        user_id: Option<UserId>,
        action: AuditAction,
        ctx: &RequestContext,
        metadata: serde_json::Map<String, serde_json::Value>,
        now: Timestamp,
    ) -> NewAuditEntry {
        NewAuditEntry { user_id, action, enrichment: self.enrich(ctx), fingerprint: None, metadata, created_at: now }
    }

    /// An in-app notification to `user_id`.
    pub(crate) fn notify(
        &self,
        user_id: UserId,
        kind: &str,
        title: &str,
        body: String,
        data: serde_json::Value,
        now: Timestamp,
    ) -> Change {
        Change::InsertNotification(Notification {
            id: NotificationId::new_v7(),
            user_id,
            kind: kind.to_owned(),
            title: title.to_owned(),
            body,
            data,
            read_at: None,
            created_at: now,
        })
    }

    /// The public URL without a trailing slash, for links in mail.
    pub(crate) fn base_url(&self) -> &str {
        self.policy.public_url.trim_end_matches('/')
    }

    /// A queued message to `user`.
    pub(crate) fn mail_to(&self, user: &User, text: MailText, now: Timestamp) -> Change {
        self.mail_to_address(&user.email, user.name.as_str(), text, now)
    }

    /// A queued message to `to`, addressed to `name`: for an address that is not (or not
    /// yet) the account's, such as the new one of an address change.
    pub(crate) fn mail_to_address(&self, to: &Email, name: &str, text: MailText, now: Timestamp) -> Change {
        Change::EnqueueMail(OutgoingMail {
            id: MailId::new_v7(),
            to: to.clone(),
            to_name: Some(name.to_owned()),
            subject: text.subject,
            body: text.body,
            html_body: text.html,
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
        })
    }

    /// A fresh code for `user` (replacing older ones) and the mail that carries it.
    pub(crate) fn fresh_code(&self, user: &User, mailed: MailedCode, now: Timestamp) -> [Change; 2] {
        let (purpose, render) = match mailed {
            MailedCode::VerifyEmail => (CodePurpose::VerifyEmail, MailTemplates::verification_code as RenderCode),
            MailedCode::ResetPassword => (CodePurpose::ResetPassword, MailTemplates::password_reset_code as RenderCode),
            MailedCode::SignIn => (CodePurpose::SignIn, MailTemplates::sign_in_code as RenderCode),
        };
        let (code, stored) = self.new_code(user.id, purpose, now);
        let text = render(&self.templates, &self.policy.product_name, user.name.as_str(), &code, self.policy.code_ttl);
        [Change::ReplaceCode(stored), self.mail_to(user, text, now)]
    }

    /// A fresh six-digit code of `purpose` for `user_id`, and its stored form (the keyed
    /// hash, the policy's lifetime, no tries yet), for a caller that mails it its own way.
    pub(crate) fn new_code(&self, user_id: UserId, purpose: CodePurpose, now: Timestamp) -> (String, StoredCode) {
        let code = self.random.six_digits();
        let stored = StoredCode {
            id: CodeId::new_v7(),
            user_id,
            purpose,
            digest: self.secrets.digest(CODE_DIGEST, &code),
            attempts: 0,
            expires_at: now.plus(self.policy.code_ttl),
            consumed_at: None,
            created_at: now,
        };
        (code, stored)
    }

    /// The new-sign-in alert: a fresh "Not you?" token for `session_id`, the in-app
    /// notification and the security mail.
    pub(crate) fn sign_in_alert(
        &self,
        user: &User,
        session_id: SessionId,
        enrichment: &Enrichment,
        with: SignedInWith,
        now: Timestamp,
    ) -> SignInAlert {
        let alert_token = self.random.url_token();
        let digest = self.secrets.digest(ALERT_DIGEST, &alert_token);
        let facts = SignInFacts { enrichment, at: now };
        let base = self.base_url();
        let revoke_url = format!("{base}/api/v1/auth/sessions/revoke-from-alert?token={alert_token}");
        let text =
            self.templates.new_sign_in(&self.policy.product_name, user.name.as_str(), &facts, with, &revoke_url, base);
        let (how, advice) = match with {
            SignedInWith::Passkey => (" with a passkey", "remove any passkey you do not recognise"),
            SignedInWith::EmailCode => {
                (" with a code mailed to you", "change the password of your mailbox, then reset your password")
            }
            _ => ("", "change your password"),
        };
        let notification = Notification {
            id: NotificationId::new_v7(),
            user_id: user.id,
            kind: "security.new_sign_in".to_owned(),
            title: "New sign-in to your account".to_owned(),
            body: format!(
                "Signed in{how} from {} in {} (IP {}) at {} UTC. If this was not you, sign that session out and {advice}.",
                facts.device_line(),
                facts.location_line(),
                enrichment.ip_address,
                now.to_rfc3339()
            ),
            data: serde_json::json!({
                "session_id": session_id.to_string(),
                "ip_address": enrichment.ip_address.to_string(),
                "device": facts.device_line(),
                "location": facts.location_line(),
                "signed_in_at": now.to_rfc3339(),
            }),
            read_at: None,
            created_at: now,
        };
        SignInAlert {
            digest,
            expires_at: now.plus(self.policy.alert_token_ttl),
            changes: [Change::InsertNotification(notification), self.mail_to(user, text, now)],
        }
    }
}

/// A new-sign-in alert, ready to commit: the session's "Not you?" token digest and expiry
/// (set on the session, by the caller, in the same commit) and the alert's other changes.
pub(crate) struct SignInAlert {
    /// Keyed digest of the "Not you?" token.
    pub(crate) digest: SecretDigest,
    /// When that token stops working.
    pub(crate) expires_at: Timestamp,
    /// The in-app notification and the queued mail.
    pub(crate) changes: [Change; 2],
}

impl SignInAlert {
    /// The changes for a session that already exists: its token is set by an update.
    pub(crate) fn for_existing_session(self, session_id: SessionId) -> impl Iterator<Item = Change> {
        let set = Change::SetAlertToken { session_id, digest: self.digest, expires_at: self.expires_at };
        std::iter::once(set).chain(self.changes)
    }
}
