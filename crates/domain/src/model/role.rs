//! Roles and the permissions they grant.

/// Something an administrator may do. Self-service needs no permission.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum Permission {
    /// List, search and view accounts.
    UsersRead,
    /// Change status, roles, delete and restore accounts.
    UsersWrite,
    /// Search the whole audit log.
    AuditRead,
    /// Subscribe, change and remove webhook endpoints; read and retry their deliveries.
    WebhooksManage,
}

impl Permission {
    /// The wire name, e.g. `users:read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UsersRead => "users:read",
            Self::UsersWrite => "users:write",
            Self::AuditRead => "audit:read",
            Self::WebhooksManage => "webhooks:manage",
        }
    }

    /// Every permission.
    pub const ALL: [Permission; 4] = [Self::UsersRead, Self::UsersWrite, Self::AuditRead, Self::WebhooksManage];
}

/// A built-in role. Stored and served by name.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Every permission.
    Admin,
    /// Self-service only; every account has it.
    User,
}

impl Role {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }

    /// The role with this name, `None` for an unknown one.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "admin" => Some(Self::Admin),
            "user" => Some(Self::User),
            _ => None,
        }
    }

    /// What the role grants.
    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Self::Admin => &Permission::ALL,
            Self::User => &[],
        }
    }
}

/// A user's roles: sorted, without duplicates, and always holding [`Role::User`].
#[derive(Clone, PartialEq, Eq, Debug, Hash)]
pub struct Roles(Vec<Role>);

impl Roles {
    /// Normalises a list of roles: adds [`Role::User`], sorts, removes duplicates.
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        let mut roles: Vec<Role> = roles.into_iter().chain([Role::User]).collect();
        roles.sort_unstable();
        roles.dedup();
        Self(roles)
    }

    /// Just [`Role::User`], what a new account gets.
    pub fn user() -> Self {
        Self::new([])
    }

    /// The roles, `admin` before `user`.
    pub fn as_slice(&self) -> &[Role] {
        &self.0
    }

    /// The role names, for storage and the wire.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|r| r.as_str()).collect()
    }

    /// Whether any role grants `permission`.
    pub fn grants(&self, permission: Permission) -> bool {
        self.0.iter().any(|r| r.permissions().contains(&permission))
    }

    /// Whether the roles include `role`.
    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }
}

impl Default for Roles {
    fn default() -> Self {
        Self::user()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_has_every_permission_and_user_none() {
        let admin = Roles::new([Role::Admin]);
        let user = Roles::user();
        for p in Permission::ALL {
            assert!(admin.grants(p), "{p:?}");
            assert!(!user.grants(p), "{p:?}");
        }
    }

    #[test]
    fn roles_always_include_user_once_and_sorted() {
        assert_eq!(Roles::new([Role::User, Role::Admin, Role::Admin]).names(), ["admin", "user"]);
        assert_eq!(Roles::new([]).names(), ["user"]);
    }

    #[test]
    fn names_round_trip() {
        for r in [Role::Admin, Role::User] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::parse("Admin"), None);
    }
}
