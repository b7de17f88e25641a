//! A change of an account's address, from request to confirmation and, maybe, reversal.

use super::{Email, EmailChangeId, SecretDigest, Timestamp, UserId};

/// A change of an account's address. Requested with the password: a code goes to
/// `new_email` (a [`super::CodePurpose::ChangeEmail`] code) and a notice to `old_email`.
/// Confirmed with that code: the address switches, and `old_email` gets a single-use link
/// that reverts it until `revert_expires_at`. While that link is live, `old_email` stays
/// reserved for the account: nobody can register it or move to it, so the reversal cannot
/// be blocked by taking the address.
#[derive(Clone, Debug, PartialEq)]
pub struct EmailChange {
    /// Id.
    pub id: EmailChangeId,
    /// The account.
    pub user_id: UserId,
    /// The account's address when the change was requested.
    pub old_email: Email,
    /// The address asked for.
    pub new_email: Email,
    /// When it was requested.
    pub created_at: Timestamp,
    /// When the code switched the address; `None` while pending.
    pub confirmed_at: Option<Timestamp>,
    /// Keyed digest of the revert link's token, once confirmed.
    pub revert_digest: Option<SecretDigest>,
    /// When the revert link stops working, once confirmed.
    pub revert_expires_at: Option<Timestamp>,
    /// When the link reverted the change.
    pub reverted_at: Option<Timestamp>,
}

impl EmailChange {
    /// Whether its revert link still works at `now`: confirmed, not reverted, not expired.
    pub fn revertible(&self, now: Timestamp) -> bool {
        self.confirmed_at.is_some() && self.reverted_at.is_none() && self.revert_expires_at.is_some_and(|t| now < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change() -> EmailChange {
        EmailChange {
            id: EmailChangeId::new_v7(),
            user_id: UserId::new_v7(),
            old_email: Email::parse("old@example.com").unwrap(),
            new_email: Email::parse("new@example.com").unwrap(),
            created_at: Timestamp::from_unix_millis(0),
            confirmed_at: None,
            revert_digest: None,
            revert_expires_at: None,
            reverted_at: None,
        }
    }

    #[test]
    fn only_a_confirmed_unreverted_change_within_its_window_is_revertible() {
        let at = |ms| Timestamp::from_unix_millis(ms);
        let pending = change();
        assert!(!pending.revertible(at(1)));
        let confirmed = EmailChange { confirmed_at: Some(at(1)), revert_expires_at: Some(at(10)), ..change() };
        assert!(confirmed.revertible(at(9)));
        assert!(!confirmed.revertible(at(10)), "the window is half-open");
        let reverted = EmailChange { reverted_at: Some(at(5)), ..confirmed };
        assert!(!reverted.revertible(at(6)));
    }
}
