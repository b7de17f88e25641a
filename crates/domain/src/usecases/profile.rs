//! The caller's own profile: name and picture.

use crate::error::InfraError;
use crate::model::{AuditAction, NewAuditEntry, RequestContext, User, UserName};
use crate::ports::{Change, Ports, UnitOfWork};
use crate::service::Portcullis;
use crate::usecases::authenticate::Principal;

/// Longest accepted profile picture URL, in characters.
pub const MAX_PICTURE_URL_LEN: usize = 2048;

/// Why a profile picture URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PictureError {
    /// Not an `http://` or `https://` URL with a host.
    #[error("profile_picture must be an http or https URL")]
    NotHttp,
    /// Longer than 2048 characters.
    #[error("profile_picture must be at most {MAX_PICTURE_URL_LEN} characters")]
    TooLong,
    /// Holds control characters (or whitespace, which no valid URL has).
    #[error("profile_picture must not contain control characters or spaces")]
    ControlCharacters,
}

/// Checks a profile picture URL; it is stored and served as given.
///
/// # Errors
/// [`PictureError`] when too long, not http(s) or holding control characters.
pub fn parse_picture_url(raw: &str) -> Result<String, PictureError> {
    if raw.chars().count() > MAX_PICTURE_URL_LEN {
        return Err(PictureError::TooLong);
    }
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(PictureError::ControlCharacters);
    }
    let lower = raw.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")).ok_or(PictureError::NotHttp)?;
    // A URL with an empty host (`https:///x`) is no link to anything.
    if rest.is_empty() || rest.starts_with(['/', '?', '#']) {
        return Err(PictureError::NotHttp);
    }
    Ok(raw.to_owned())
}

/// The fields of a profile change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileUpdate {
    /// A new display name.
    pub name: Option<UserName>,
    /// A new avatar URL (already checked by [`parse_picture_url`]); `Some(None)` clears it.
    pub profile_picture: Option<Option<String>>,
}

impl<P: Ports> Portcullis<P> {
    /// Applies `update` to the caller's profile and audits which fields changed (names only,
    /// never values). An empty update writes nothing. Returns the user as now stored.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// let (login, me) = portcullis_testing::sign_in(&auth, "laura@example.com").await;
    /// let update = ProfileUpdate { name: Some(UserName::parse("Laura B.").unwrap()), profile_picture: None };
    /// let user = auth.update_profile(&me, update, &ctx).await.unwrap();
    /// assert_eq!(user.name.as_str(), "Laura B.");
    /// # let _ = login;
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`InfraError`] when the store fails.
    pub async fn update_profile(
        &self,
        principal: &Principal,
        update: ProfileUpdate,
        ctx: &RequestContext,
    ) -> Result<User, InfraError> {
        let mut user = principal.user.clone();
        let mut fields = Vec::new();
        if update.name.is_some() {
            fields.push(serde_json::Value::from("name"));
        }
        if update.profile_picture.is_some() {
            fields.push(serde_json::Value::from("profile_picture"));
        }
        if fields.is_empty() {
            return Ok(user);
        }
        let now = self.now();
        let audit = NewAuditEntry {
            user_id: Some(user.id),
            action: AuditAction::ProfileUpdated,
            enrichment: self.enrich(ctx),
            fingerprint: None,
            metadata: serde_json::Map::from_iter([("fields".to_owned(), serde_json::Value::Array(fields))]),
            created_at: now,
        };
        self.store
            .commit(vec![
                Change::UpdateProfile {
                    user_id: user.id,
                    name: update.name.clone(),
                    profile_picture: update.profile_picture.clone(),
                    at: now,
                },
                Change::AppendAudit(audit),
            ])
            .await?;
        if let Some(name) = update.name {
            user.name = name;
        }
        if let Some(picture) = update.profile_picture {
            user.profile_picture = picture;
        }
        user.updated_at = now;
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picture_urls() {
        assert!(parse_picture_url("https://cdn.example.com/a.png").is_ok());
        assert!(parse_picture_url("HTTP://example.com").is_ok());
        assert_eq!(parse_picture_url("ftp://example.com/a.png"), Err(PictureError::NotHttp));
        assert_eq!(parse_picture_url("javascript:alert(1)"), Err(PictureError::NotHttp));
        assert_eq!(parse_picture_url("https://"), Err(PictureError::NotHttp));
        assert_eq!(parse_picture_url("https://a.com/\n"), Err(PictureError::ControlCharacters));
        let long = format!("https://a.com/{}", "x".repeat(MAX_PICTURE_URL_LEN));
        assert_eq!(parse_picture_url(&long), Err(PictureError::TooLong));
    }
}
