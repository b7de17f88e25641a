//! Register: create an account and mail a verification code, without revealing whether the
//! address was already registered.

use std::time::Duration;

use crate::error::{FieldError, InfraError};
use crate::model::{
    AccountStatus, AuditAction, Email, NewAuditEntry, NewPassword, PasswordPolicy, RequestContext, Roles, User, UserId,
    UserName,
};
use crate::ports::{Change, CodeRepository, PasswordHasher, Ports, StoreError, UnitOfWork, UserRepository};
use crate::service::{Limit, Portcullis};
use crate::usecases::breach_screen::Screened;
use crate::usecases::common::MailedCode;

/// A validated registration request.
#[derive(Debug, Clone)]
pub struct RegisterUser {
    /// Display name.
    pub name: UserName,
    /// Address.
    pub email: Email,
    /// Password that satisfies the policy.
    pub password: NewPassword,
}

impl RegisterUser {
    /// Validates raw fields, collecting every problem.
    ///
    /// # Errors
    /// One [`FieldError`] per bad field.
    pub fn parse(name: &str, email: &str, password: &str, policy: PasswordPolicy) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = UserName::parse(name).map_err(|e| errors.push(FieldError::new("name", e))).ok();
        let email = Email::parse(email).map_err(|e| errors.push(FieldError::new("email", e))).ok();
        let password = NewPassword::parse(password, email.as_ref(), policy)
            .map_err(|e| errors.push(FieldError::new("password", e)))
            .ok();
        match (name, email, password) {
            (Some(name), Some(email), Some(password)) if errors.is_empty() => Ok(Self { name, email, password }),
            _ => Err(errors),
        }
    }
}

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// The new password appears in known breaches at least
    /// [`crate::BreachPolicy::min_count`] times (a 400 on `password`).
    #[error("the password appears in known data breaches")]
    PasswordBreached,
    /// Too many calls from this IP.
    #[error("too many requests")]
    RateLimited {
        /// Wait before retrying.
        retry_after: Duration,
    },
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for RegisterError {
    fn from(e: StoreError) -> Self {
        Self::Infra(e.into())
    }
}

impl<P: Ports> Portcullis<P> {
    /// Registers an account (or re-mails a code, or warns the owner), answering the same way
    /// in every case.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// let form = RegisterUser::parse("Laura", "laura@example.com", PASSWORD, auth.policy().password).unwrap();
    /// let address = auth.register(form, &ctx).await.unwrap();
    /// assert_eq!(address.as_str(), "laura@example.com");
    /// // A taken address gets the same answer (its owner is mailed instead): nothing to enumerate.
    /// let again = RegisterUser::parse("Eve", "laura@example.com", PASSWORD, auth.policy().password).unwrap();
    /// assert!(auth.register(again, &ctx).await.is_ok());
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn register(&self, req: RegisterUser, ctx: &RequestContext) -> Result<Email, RegisterError> {
        let now = self.now();
        if let Some(retry_after) = self.limit_ip(ctx, now).await? {
            return Err(RegisterError::RateLimited { retry_after });
        }
        if self.screen_new_password(&req.password).await? == Screened::Breached {
            return Err(RegisterError::PasswordBreached);
        }
        // Hash first, whatever happens next, so both branches cost one Argon2 hash.
        let hash = self.hasher.hash(req.password.as_password().clone()).await.map_err(InfraError::from)?;
        // Every registration uses the address's mail allowance, new or not, so a resend right
        // after it is limited alike and repeated registrations cannot flood an inbox.
        let (allowance, existing) = self.mail_allowance_reading_user(&req.email, now).await?;
        let may_mail = matches!(allowance, Limit::Allowed(_));
        let existing = match existing {
            Some(user) => Some(user),
            // Kept for the reversal of an address change: taken, with nobody to mail (the
            // owner's revert link already tells them about the address).
            None if self.store.email_reserved_for_revert(&req.email, now).await? => return Ok(req.email),
            None => {
                let user = User {
                    id: UserId::new_v7(),
                    name: req.name.clone(),
                    email: req.email.clone(),
                    password_hash: hash,
                    profile_picture: None,
                    status: AccountStatus::Active,
                    email_verified_at: None,
                    created_at: now,
                    updated_at: now,
                    deleted_at: None,
                    roles: Roles::user(),
                };
                let mut changes = vec![Change::InsertUser(user.clone())];
                changes.extend(self.fresh_code(&user, MailedCode::VerifyEmail, now));
                changes.push(Change::AppendAudit(NewAuditEntry {
                    user_id: Some(user.id),
                    action: AuditAction::Registered,
                    enrichment: self.enrich(ctx),
                    fingerprint: None,
                    metadata: serde_json::Map::new(),
                    created_at: now,
                }));
                match self.store.commit(changes).await {
                    Ok(_) => None,
                    // Lost a race with a concurrent registration of the same address.
                    Err(StoreError::DuplicateEmail) => self.store.user_by_email(&req.email).await?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if let Some(user) = existing
            && may_mail
        {
            self.mail_existing_owner(&user, now).await?;
        }
        Ok(req.email)
    }

    /// An unverified owner gets a fresh code, a verified one a warning.
    async fn mail_existing_owner(&self, user: &User, now: crate::model::Timestamp) -> Result<(), RegisterError> {
        if user.deleted_at.is_some() {
            return Ok(());
        }
        let changes: Vec<Change> = if user.email_verified() {
            let text = self.templates.signup_attempt(&self.policy.product_name, user.name.as_str());
            vec![self.mail_to(user, text, now)]
        } else {
            self.fresh_code(user, MailedCode::VerifyEmail, now).into()
        };
        self.store.commit(changes).await?;
        Ok(())
    }
}
