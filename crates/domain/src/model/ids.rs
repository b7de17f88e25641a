//! Opaque identifiers. UUIDv7 keeps them sortable by creation time.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }
            /// Wraps an existing UUID (for stores reading rows back).
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A user account.
    UserId
);
uuid_id!(
    /// A webhook endpoint.
    WebhookId
);
uuid_id!(
    /// A sign-in session (what an access token and a refresh token belong to).
    SessionId
);
uuid_id!(
    /// An in-app notification.
    NotificationId
);
uuid_id!(
    /// A message in the mail outbox.
    MailId
);
uuid_id!(
    /// A one-time code (email verification, password reset, second-factor challenge).
    CodeId
);
uuid_id!(
    /// A change of an account's address ([`super::EmailChange`]).
    EmailChangeId
);
uuid_id!(
    /// A second factor of an account (a TOTP authenticator, later a passkey).
    FactorId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let id = UserId::new_v7();
        assert_eq!(id.to_string().parse::<UserId>().unwrap(), id);
        assert!("not-a-uuid".parse::<UserId>().is_err());
    }

    #[test]
    fn v7_ids_sort_by_creation() {
        let a = SessionId::new_v7();
        let b = SessionId::new_v7();
        assert!(a < b);
    }
}
