//! Bodies of the administration endpoints (`/admin/users`, `/admin/audit-log`).

use portcullis_domain::model::{AccountStatus, AuditEntry, Page, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{HistoryEntry, UserView};

/// `200` of the single-account admin endpoints: the account after the action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserResponse {
    /// Always true.
    pub success: bool,
    /// The account, as in the login response (`last_login_geolocation` is null here).
    pub data: UserView,
}

/// The `data` of `DELETE /admin/users/{id}?purge=true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurgedUser {
    /// The erased account's id, which its kept audit entries still carry.
    pub id: String,
    /// When it was erased (RFC 3339, ms, UTC).
    pub purged_at: String,
}

/// `200` of `DELETE /admin/users/{id}?purge=true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurgedUserResponse {
    /// Always true.
    pub success: bool,
    /// What was erased.
    pub data: PurgedUser,
}

/// `200` of `DELETE /admin/users/{id}`: the soft-deleted account, or with `purge=true`
/// what was erased.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
// Built once per request and serialised at once: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum DeleteUserResponse {
    /// Soft-deleted (restorable until the retention ends): the account.
    Deleted(AdminUserResponse),
    /// Erased at once (`purge=true`).
    Purged(PurgedUserResponse),
}

impl AdminUserResponse {
    /// The answer showing `user`.
    pub fn new(user: &User) -> Self {
        Self { success: true, data: UserView::new(user, None) }
    }
}

/// The `data` of `GET /admin/users`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUsersPage {
    /// Accounts, oldest first.
    pub users: Vec<UserView>,
    /// Matching accounts across all pages.
    pub total_count: u64,
    /// Page size used.
    pub limit: u32,
    /// Offset used.
    pub offset: u64,
}

impl AdminUsersPage {
    /// The body of one page, with the page size and offset that produced it.
    pub fn new(page: &Page<User>, limit: u32, offset: u64) -> Self {
        Self {
            users: page.items.iter().map(|u| UserView::new(u, None)).collect(),
            total_count: page.total_count,
            limit,
            offset,
        }
    }
}

/// `200` of `GET /admin/users`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUsersResponse {
    /// Always true.
    pub success: bool,
    /// The page.
    pub data: AdminUsersPage,
}

/// A status an administrator may set (soft deletion has its own endpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AdminStatus {
    /// May sign in.
    Active,
    /// Blocked by an administrator; every session is revoked.
    Suspended,
    /// Closed; every session is revoked.
    Deactivated,
}

impl From<AdminStatus> for AccountStatus {
    fn from(s: AdminStatus) -> Self {
        match s {
            AdminStatus::Active => Self::Active,
            AdminStatus::Suspended => Self::Suspended,
            AdminStatus::Deactivated => Self::Deactivated,
        }
    }
}

/// `POST /admin/users/{id}/status`
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetStatusBody {
    /// `active`, `suspended` or `deactivated`.
    pub status: AdminStatus,
    /// Why, at most 500 characters; kept in the audit entry's metadata. Blank means none.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `PUT /admin/users/{id}/roles`
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetRolesBody {
    /// The complete new set: `admin` and/or `user`. Every account keeps `user`, so `[]`
    /// and `["user"]` both mean no administrative role.
    pub roles: Vec<String>,
}

/// One audit-log entry: a login-history item plus the account it concerns.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    /// The account the entry concerns (null for entries about no known account).
    pub user_id: Option<String>,
    /// The entry, as in the login history.
    #[serde(flatten)]
    pub entry: HistoryEntry,
}

impl From<&AuditEntry> for AuditEntryView {
    fn from(e: &AuditEntry) -> Self {
        Self { user_id: e.user_id.map(|id| id.to_string()), entry: HistoryEntry::from(e) }
    }
}

/// The `data` of `GET /admin/audit-log`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLogPage {
    /// Entries, newest first.
    pub entries: Vec<AuditEntryView>,
    /// Matching entries across all pages.
    pub total_count: u64,
    /// Page size used.
    pub limit: u32,
    /// Offset used.
    pub offset: u64,
}

/// `200` of `GET /admin/audit-log`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLogResponse {
    /// Always true.
    pub success: bool,
    /// The page.
    pub data: AuditLogPage,
}
