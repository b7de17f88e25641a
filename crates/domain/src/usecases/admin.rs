//! Administration: accounts and the audit log, for callers holding the permissions.
//!
//! Every method takes the [`Actor`] and checks the permission itself, first, so no caller
//! (HTTP handler, CLI, embedding service) can forget it. Every change is audited against the
//! account it concerns, with the actor's id in the metadata (`actor_id`; `"cli"` for the
//! operator's command line).

use crate::error::{FieldError, InfraError};
use crate::model::{
    AccountStatus, AuditAction, AuditEntry, AuditQuery, Email, NewPassword, Page, Permission, RequestContext, Role,
    Roles, User, UserId, UserName, UserQuery,
};
use crate::ports::{
    AuditRepository, Change, CodeRepository, PasswordHasher, Ports, StoreError, UnitOfWork, UserRepository,
};
use crate::service::Portcullis;
use crate::usecases::authenticate::Principal;
use crate::usecases::common::metadata;
use crate::usecases::login_history::MAX_HISTORY_LIMIT;

/// Longest status-change reason kept, in characters.
pub const MAX_REASON_LEN: usize = 500;

/// Who performs an administrative action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user, with the roles they hold now.
    User {
        /// Their id.
        id: UserId,
        /// Their roles.
        roles: Roles,
    },
    /// Whoever runs the `portcullis` command line next to the database: trusted with every
    /// permission, as they could change the database directly anyway.
    Operator,
}

impl Actor {
    /// The caller of an authenticated request.
    pub fn user(principal: &Principal) -> Self {
        Self::User { id: principal.user.id, roles: principal.user.roles.clone() }
    }

    /// Whether the actor holds `permission`.
    pub fn may(&self, permission: Permission) -> bool {
        match self {
            Self::User { roles, .. } => roles.grants(permission),
            Self::Operator => true,
        }
    }

    pub(crate) fn require(&self, permission: Permission) -> Result<(), AdminError> {
        if self.may(permission) { Ok(()) } else { Err(AdminError::Forbidden) }
    }

    /// The `actor_id` recorded in audit metadata.
    pub(crate) fn audit_id(&self) -> serde_json::Value {
        match self {
            Self::User { id, .. } => id.to_string().into(),
            Self::Operator => "cli".into(),
        }
    }

    pub(crate) fn is(&self, user: UserId) -> bool {
        matches!(self, Self::User { id, .. } if *id == user)
    }
}

/// Why an administrative action was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The actor lacks the permission.
    #[error("forbidden")]
    Forbidden,
    /// No account has this id.
    #[error("no such user")]
    NotFound,
    /// No webhook endpoint has this id (or the endpoint has no such delivery).
    #[error("no such webhook")]
    NoSuchWebhook,
    /// An administrator may not suspend, deactivate, delete or demote themselves: it would
    /// lock them out, possibly leaving nobody to undo it.
    #[error("administrators cannot change their own status, roles or deletion")]
    SelfTarget,
    /// The email is already registered.
    #[error("email address already registered")]
    EmailTaken,
    /// A field is invalid.
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    /// Infrastructure failure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::DuplicateEmail => Self::EmailTaken,
            other => Self::Infra(other.into()),
        }
    }
}

/// A new account created by an administrator or the operator: active and verified.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Display name.
    pub name: UserName,
    /// Address.
    pub email: Email,
    /// Password that satisfies the policy.
    pub password: NewPassword,
    /// Roles.
    pub roles: Roles,
}

impl<P: Ports> Portcullis<P> {
    /// A page of accounts (`users:read`); `limit` is clamped to `1..=100`.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// let query = UserQuery { text: Some("laura".to_owned()), status: None, limit: 20, offset: 0 };
    /// let page = auth.admin_users(&Actor::Operator, query).await.unwrap();
    /// assert_eq!(page.total_count, 1);
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn admin_users(&self, actor: &Actor, mut query: UserQuery) -> Result<Page<User>, AdminError> {
        actor.require(Permission::UsersRead)?;
        query.limit = query.limit.clamp(1, MAX_HISTORY_LIMIT);
        Ok(self.store.search_users(query).await?)
    }

    /// One account (`users:read`).
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// let laura = kit.seed_verified("laura@example.com").await;
    /// assert_eq!(auth.admin_user(&Actor::Operator, laura.id).await.unwrap().email, laura.email);
    /// assert!(matches!(auth.admin_user(&Actor::Operator, UserId::new_v7()).await, Err(AdminError::NotFound)));
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn admin_user(&self, actor: &Actor, id: UserId) -> Result<User, AdminError> {
        actor.require(Permission::UsersRead)?;
        self.store.user_by_id(id).await?.ok_or(AdminError::NotFound)
    }

    /// One account by its address (`users:read`), deleted ones included: what an operator
    /// types at the command line.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// let laura = kit.seed_verified("laura@example.com").await;
    /// let found = auth.admin_user_by_email(&Actor::Operator, &email("laura@example.com")).await.unwrap();
    /// assert_eq!(found.id, laura.id);
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`AdminError::NotFound`] when no account has the address.
    pub async fn admin_user_by_email(&self, actor: &Actor, email: &Email) -> Result<User, AdminError> {
        actor.require(Permission::UsersRead)?;
        self.store.user_by_email(email).await?.ok_or(AdminError::NotFound)
    }

    /// Sets an account's status (`users:write`), with an optional reason kept in the audit
    /// entry. Suspending or deactivating revokes every session of the account at once.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// let laura = kit.seed_verified("laura@example.com").await;
    /// let reason = Some("chargeback".to_owned());
    /// let user = auth.admin_set_status(&Actor::Operator, laura.id, AccountStatus::Suspended, reason, &ctx).await.unwrap();
    /// assert_eq!(user.status, AccountStatus::Suspended);
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn admin_set_status(
        &self,
        actor: &Actor,
        id: UserId,
        status: AccountStatus,
        reason: Option<String>,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        actor.require(Permission::UsersWrite)?;
        if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON_LEN) {
            let message = format!("reason must be at most {MAX_REASON_LEN} characters");
            return Err(AdminError::Invalid(vec![FieldError::new("reason", message)]));
        }
        let mut user = self.admin_target(actor, id).await?;
        let now = self.now();
        let action = match status {
            AccountStatus::Active => AuditAction::AdminUserActivated,
            AccountStatus::Suspended => AuditAction::AdminUserSuspended,
            AccountStatus::Deactivated => AuditAction::AdminUserDeactivated,
        };
        let meta = metadata([
            ("actor_id", actor.audit_id()),
            ("previous_status", user.status.as_str().into()),
            ("status", status.as_str().into()),
            ("reason", reason.map_or(serde_json::Value::Null, Into::into)),
        ]);
        let mut changes = vec![Change::SetStatus { user_id: id, status, at: now }];
        if status != AccountStatus::Active {
            changes.push(Change::RevokeUserSessions { user_id: id, except: None, at: now });
        }
        changes.push(self.audit(id, action, ctx, meta, now));
        self.store.commit(changes).await?;
        user.status = status;
        user.updated_at = now;
        Ok(user)
    }

    /// Soft-deletes an account (`users:write`) and revokes every session of it. Deleting a
    /// deleted account changes nothing.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// let laura = kit.seed_verified("laura@example.com").await;
    /// let user = auth.admin_delete_user(&Actor::Operator, laura.id, &ctx).await.unwrap();
    /// assert!(user.deleted_at.is_some());
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn admin_delete_user(&self, actor: &Actor, id: UserId, ctx: &RequestContext) -> Result<User, AdminError> {
        actor.require(Permission::UsersWrite)?;
        let mut user = self.admin_target(actor, id).await?;
        if user.deleted_at.is_some() {
            return Ok(user);
        }
        let now = self.now();
        let changes = vec![
            Change::SetDeleted { user_id: id, deleted_at: Some(now), at: now },
            Change::RevokeUserSessions { user_id: id, except: None, at: now },
            self.audit(id, AuditAction::AdminUserDeleted, ctx, metadata([("actor_id", actor.audit_id())]), now),
        ];
        self.store.commit(changes).await?;
        user.deleted_at = Some(now);
        user.updated_at = now;
        Ok(user)
    }

    /// Restores a soft-deleted account (`users:write`); its status is unchanged. Restoring
    /// an account that is not deleted changes nothing.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// let laura = kit.seed_verified("laura@example.com").await;
    /// auth.admin_delete_user(&Actor::Operator, laura.id, &ctx).await.unwrap();
    /// let user = auth.admin_restore_user(&Actor::Operator, laura.id, &ctx).await.unwrap();
    /// assert!(user.deleted_at.is_none());
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn admin_restore_user(
        &self,
        actor: &Actor,
        id: UserId,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        actor.require(Permission::UsersWrite)?;
        // A guarded write: retried when the account changed since the read (deleted again),
        // and NotFound once a purge has erased it, never a "restored" answer for it.
        for _ in 0..3 {
            let mut user = self.store.user_by_id(id).await?.ok_or(AdminError::NotFound)?;
            let Some(deleted_at) = user.deleted_at else {
                return Ok(user);
            };
            let now = self.now();
            let meta = metadata([("actor_id", actor.audit_id())]);
            let changes = vec![
                Change::RestoreUser { user_id: id, deleted_at, at: now },
                self.audit(id, AuditAction::AdminUserRestored, ctx, meta, now),
            ];
            match self.store.commit(changes).await {
                Ok(_) => {
                    user.deleted_at = None;
                    user.updated_at = now;
                    return Ok(user);
                }
                Err(crate::ports::StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(InfraError::Busy { retry_after: std::time::Duration::from_secs(1) }.into())
    }

    /// Replaces an account's roles (`users:write`). Every account keeps `user`; an
    /// administrator cannot remove their own `admin` role.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// let laura = kit.seed_verified("laura@example.com").await;
    /// let roles = Roles::new([Role::parse("admin").unwrap()]);
    /// let user = auth.admin_set_roles(&Actor::Operator, laura.id, roles.clone(), &ctx).await.unwrap();
    /// assert_eq!(user.roles, roles);
    /// kit.seed_verified("ana@example.com").await;
    /// // A plain user's actor lacks the permission.
    /// let (_, me) = portcullis_testing::sign_in(&auth, "ana@example.com").await;
    /// assert!(matches!(auth.admin_user(&Actor::user(&me), laura.id).await, Err(AdminError::Forbidden)));
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn admin_set_roles(
        &self,
        actor: &Actor,
        id: UserId,
        roles: Roles,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        actor.require(Permission::UsersWrite)?;
        let mut user = self.store.user_by_id(id).await?.ok_or(AdminError::NotFound)?;
        if actor.is(id) && !roles.contains(Role::Admin) {
            return Err(AdminError::SelfTarget);
        }
        let now = self.now();
        let meta = metadata([
            ("actor_id", actor.audit_id()),
            ("previous_roles", user.roles.names().into()),
            ("roles", roles.names().into()),
        ]);
        let changes = vec![
            Change::SetRoles { user_id: id, roles: roles.clone(), at: now },
            self.audit(id, AuditAction::AdminRolesChanged, ctx, meta, now),
        ];
        self.store.commit(changes).await?;
        user.roles = roles;
        user.updated_at = now;
        Ok(user)
    }

    /// Searches the whole audit log (`audit:read`); `limit` is clamped to `1..=100`.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// kit.seed_verified("laura@example.com").await;
    /// portcullis_testing::sign_in(&auth, "laura@example.com").await;
    /// let query = AuditQuery { action: Some(AuditAction::LoginSuccess), limit: 20, ..AuditQuery::default() };
    /// assert_eq!(auth.admin_audit_log(&Actor::Operator, query).await.unwrap().total_count, 1);
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn admin_audit_log(&self, actor: &Actor, mut query: AuditQuery) -> Result<Page<AuditEntry>, AdminError> {
        actor.require(Permission::AuditRead)?;
        query.limit = query.limit.clamp(1, MAX_HISTORY_LIMIT);
        Ok(self.store.search_audit(query).await?)
    }

    /// Creates an active account with a verified address (`users:write`): how the first
    /// administrator is bootstrapped from the command line.
    ///
    /// ```
    /// # use portcullis_domain::*;
    /// # use portcullis_domain::model::*;
    /// # use portcullis_testing::fixtures::{PASSWORD, email, request};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (auth, kit) = portcullis_testing::test_service(Policy::default());
    /// let ctx = request("192.0.2.1");
    /// let account = NewAccount {
    ///     name: UserName::parse("Ana").unwrap(),
    ///     email: email("ana@example.com"),
    ///     password: NewPassword::parse("a long enough passphrase", None, auth.policy().password).unwrap(),
    ///     roles: Roles::user(),
    /// };
    /// let user = auth.admin_create_user(&Actor::Operator, account, &ctx).await.unwrap();
    /// assert!(user.email_verified_at.is_some(), "an operator's account needs no verification mail");
    /// # let _ = (&kit, &ctx);
    /// # });
    /// ```
    pub async fn admin_create_user(
        &self,
        actor: &Actor,
        account: NewAccount,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        actor.require(Permission::UsersWrite)?;
        let now = self.now();
        // Kept for the revert link of an address change: taken, as at registration (an
        // administrator may be told).
        if self.store.email_reserved_for_revert(&account.email, now).await? {
            return Err(AdminError::EmailTaken);
        }
        let password_hash = self.hasher.hash(account.password.as_password().clone()).await.map_err(InfraError::from)?;
        let user = User {
            id: UserId::new_v7(),
            name: account.name,
            email: account.email,
            password_hash,
            profile_picture: None,
            status: AccountStatus::Active,
            email_verified_at: Some(now),
            created_at: now,
            updated_at: now,
            deleted_at: None,
            roles: account.roles,
        };
        let meta = metadata([("actor_id", actor.audit_id()), ("roles", user.roles.names().into())]);
        let changes =
            vec![Change::InsertUser(user.clone()), self.audit(user.id, AuditAction::AdminUserCreated, ctx, meta, now)];
        self.store.commit(changes).await?;
        Ok(user)
    }

    /// The account an action changes, refusing the actor's own.
    pub(crate) async fn admin_target(&self, actor: &Actor, id: UserId) -> Result<User, AdminError> {
        if actor.is(id) {
            return Err(AdminError::SelfTarget);
        }
        self.store.user_by_id(id).await?.ok_or(AdminError::NotFound)
    }
}
