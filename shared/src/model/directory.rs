//! Environments, populations, users and roles, with PingOne's property names (PING-MGMT §3, §4,
//! §6, §7).

use serde::{Deserialize, Serialize};

/// The one organization a deployment serves (PingOne's `organization.id`).
pub const ORGANIZATION_ID: &str = "00000000-0000-4000-8000-0000000000f0";

/// A PingOne environment: the tenant every other record belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `SANDBOX` or `PRODUCTION`.
    #[serde(rename = "type")]
    pub env_type: String,
    /// `NA`, `EU`, `CA`, `AP`, `AU`, `SG`; set at creation.
    pub region: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    #[serde(default)]
    pub revision: u64,
}

/// A population: a set of users with one password policy; each environment has a default one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Population {
    pub environment_id: String,
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub default: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
    #[serde(default)]
    pub revision: u64,
}

/// A person who can sign on.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub environment_id: String,
    pub id: String,
    /// Unique in the environment, matched case-insensitively (`username_key`).
    pub username: String,
    /// argon2id PHC string; never the password. `None`: PingOne's `NO_PASSWORD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub enabled: bool,
    /// The population the user belongs to (empty in records older than populations: the
    /// environment's default one).
    #[serde(default)]
    pub population_id: String,
    /// Set by `forceChange: true`: the next sign-on asks for a new password
    /// (`MUST_CHANGE_PASSWORD`).
    #[serde(default)]
    pub must_change_password: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_changed_ms: Option<i64>,
    #[serde(default)]
    pub created_ms: i64,
    #[serde(default)]
    pub updated_ms: i64,
    #[serde(default)]
    pub revision: u64,
}

impl User {
    /// A user with a password, in the environment's default population.
    pub fn new(environment_id: &str, id: &str, username: &str, password_hash: Option<String>) -> Self {
        Self {
            environment_id: environment_id.to_owned(),
            id: id.to_owned(),
            username: username.to_owned(),
            password_hash,
            given_name: None,
            family_name: None,
            email: None,
            enabled: true,
            population_id: String::new(),
            must_change_password: false,
            password_changed_ms: None,
            created_ms: 0,
            updated_ms: 0,
            revision: 0,
        }
    }

    /// PingOne's password `status` (PING-MGMT §8.2).
    pub fn password_status(&self) -> &'static str {
        match (&self.password_hash, self.must_change_password) {
            (None, _) => "NO_PASSWORD",
            (Some(_), true) => "MUST_CHANGE_PASSWORD",
            (Some(_), false) => "OK",
        }
    }
}

/// The built-in roles a worker application can hold (PING-MGMT §3.3). The ids are ours, fixed
/// for every deployment (`GET /v1/roles` lists them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    OrganizationAdmin,
    EnvironmentAdmin,
    IdentityDataAdmin,
    ClientApplicationDeveloper,
}

impl Role {
    pub const ALL: [Role; 4] =
        [Role::OrganizationAdmin, Role::EnvironmentAdmin, Role::IdentityDataAdmin, Role::ClientApplicationDeveloper];

    /// PingOne's role name (`EnumRoleName`).
    pub fn name(self) -> &'static str {
        match self {
            Role::OrganizationAdmin => "Organization Admin",
            Role::EnvironmentAdmin => "Environment Admin",
            Role::IdentityDataAdmin => "Identity Data Admin",
            Role::ClientApplicationDeveloper => "Client Application Developer",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Role::OrganizationAdmin => "00000000-0000-4000-8000-00000000a001",
            Role::EnvironmentAdmin => "00000000-0000-4000-8000-00000000a002",
            Role::IdentityDataAdmin => "00000000-0000-4000-8000-00000000a003",
            Role::ClientApplicationDeveloper => "00000000-0000-4000-8000-00000000a004",
        }
    }

    pub fn from_id(id: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.id() == id)
    }

    pub fn description(self) -> &'static str {
        match self {
            Role::OrganizationAdmin => "Creates and reads environments; assigns Environment Admin.",
            Role::EnvironmentAdmin => {
                "Manages an environment: populations, users, applications and their roles (all but Organization Admin)."
            }
            Role::IdentityDataAdmin => "Manages users and their passwords; reads populations.",
            Role::ClientApplicationDeveloper => "Manages applications and their secrets.",
        }
    }

    /// The roles an actor holding this one may assign (PingOne's "Can assign" table).
    pub fn can_assign(self) -> &'static [Role] {
        match self {
            Role::OrganizationAdmin => &[Role::EnvironmentAdmin],
            Role::EnvironmentAdmin => {
                &[Role::EnvironmentAdmin, Role::IdentityDataAdmin, Role::ClientApplicationDeveloper]
            }
            Role::IdentityDataAdmin => &[Role::IdentityDataAdmin],
            Role::ClientApplicationDeveloper => &[],
        }
    }

    /// The scope types the role may be assigned at (`applicableTo`).
    pub fn applicable_to(self) -> &'static [ScopeType] {
        match self {
            Role::OrganizationAdmin => &[ScopeType::Organization],
            _ => &[ScopeType::Organization, ScopeType::Environment],
        }
    }
}

/// What a role assignment covers (`scope.type`; PingOne also has POPULATION and APPLICATION).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScopeType {
    Organization,
    Environment,
}

/// One role held by a worker application over an organization or an environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    pub id: String,
    pub role: Role,
    pub scope_type: ScopeType,
    /// The organization id or the environment id.
    pub scope_id: String,
    pub created_ms: i64,
}

impl RoleAssignment {
    /// Whether the assignment gives its role in `environment_id`.
    pub fn covers(&self, environment_id: &str) -> bool {
        match self.scope_type {
            ScopeType::Organization => self.scope_id == ORGANIZATION_ID,
            ScopeType::Environment => self.scope_id == environment_id,
        }
    }
}
