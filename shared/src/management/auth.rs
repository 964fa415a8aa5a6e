//! Who calls the management API, and what they may do (PING-MGMT §3).
//!
//! The caller is a `WORKER` application, proven by the access token its `client_credentials`
//! grant issued (`env`/`org` claims, PingOne's platform-API token). Its role assignments are read
//! from the store on every request, not from the token, so removing a role, disabling the worker
//! or revoking its token works at once.

use serde_json::Value;

use super::{ApiError, ApiResult};
use crate::app::Dialect;
use crate::context::Context;
use crate::http::Request;
use crate::model::{AppType, Application, GrantType, Role, RoleAssignment, ScopeType, ORGANIZATION_ID};
use crate::store::{Kind, Record, RecordKey};

/// What a route needs (PingOne's permissions, grouped as the routes use them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    CreateEnvironment,
    ReadEnvironment,
    ReadApplications,
    WriteApplications,
    /// Read or rotate a client secret (`applications:*:secret`).
    Secrets,
    ReadRoleAssignments,
    ReadPopulations,
    WritePopulations,
    ReadUsers,
    WriteUsers,
    /// `dir:set:userPassword`, `dir:read:userPassword`.
    Passwords,
}

/// Whether `role` grants `permission` (PING-MGMT §3.3's "which role the workflow steps need").
pub fn grants(role: Role, permission: Permission) -> bool {
    use Permission::*;
    match role {
        Role::OrganizationAdmin => matches!(permission, CreateEnvironment | ReadEnvironment),
        Role::EnvironmentAdmin => permission != CreateEnvironment,
        Role::IdentityDataAdmin => {
            matches!(
                permission,
                ReadEnvironment | ReadPopulations | ReadUsers | WriteUsers | Passwords | ReadRoleAssignments
            )
        }
        Role::ClientApplicationDeveloper => {
            matches!(permission, ReadEnvironment | ReadApplications | WriteApplications | Secrets | ReadRoleAssignments)
        }
    }
}

/// The worker application calling, with its role assignments as they stand now.
#[derive(Debug, Clone)]
pub struct Actor {
    pub application: Application,
}

impl Actor {
    pub fn client_id(&self) -> &str {
        &self.application.client_id
    }

    pub fn roles(&self) -> &[RoleAssignment] {
        &self.application.role_assignments
    }

    /// Whether the actor holds a role granting `permission` in `environment_id`.
    pub fn may(&self, permission: Permission, environment_id: &str) -> bool {
        self.roles().iter().any(|r| r.covers(environment_id) && grants(r.role, permission))
    }

    /// Whether the actor holds a role granting `permission` over the whole organization.
    pub fn may_everywhere(&self, permission: Permission) -> bool {
        self.roles().iter().any(|r| r.scope_type == ScopeType::Organization && grants(r.role, permission))
    }

    pub fn require(&self, permission: Permission, environment_id: &str) -> ApiResult<()> {
        if self.may(permission, environment_id) {
            Ok(())
        } else {
            Err(ApiError::forbidden("The actor attempting to perform the request is not authorized."))
        }
    }

    /// Whether the actor may give `role` over `scope` (PingOne's "Can assign", and never wider
    /// than a scope it holds the assigning role over): no actor makes a more privileged one.
    pub fn may_assign(&self, role: Role, scope_type: ScopeType, scope_id: &str) -> bool {
        self.roles().iter().any(|held| {
            let wide_enough = match (held.scope_type, scope_type) {
                (ScopeType::Organization, _) => held.scope_id == ORGANIZATION_ID,
                (ScopeType::Environment, ScopeType::Environment) => held.scope_id == scope_id,
                (ScopeType::Environment, ScopeType::Organization) => false,
            };
            wide_enough && held.role.can_assign().contains(&role)
        })
    }

    /// Whether `other` holds nothing the actor could not have given it (the secret escalation
    /// guard of PING-MGMT §3.3).
    pub fn covers_all_of(&self, other: &Application) -> bool {
        other.role_assignments.iter().all(|r| self.may_assign(r.role, r.scope_type, &r.scope_id))
    }
}

/// Why an `Authorization` header carries no bearer token.
enum NotBearer {
    OtherScheme,
    Empty,
}

/// The bearer token of a request, `None` when there is no `Authorization` header.
fn bearer(req: &Request) -> Option<Result<&str, NotBearer>> {
    let value = req.header(http::header::AUTHORIZATION)?;
    let mut parts = value.splitn(2, ' ');
    if !parts.next().unwrap_or_default().eq_ignore_ascii_case("bearer") {
        return Some(Err(NotBearer::OtherScheme));
    }
    match parts.next().map(str::trim) {
        Some(token) if !token.is_empty() => Some(Ok(token)),
        _ => Some(Err(NotBearer::Empty)),
    }
}

/// The actor a request's access token proves, or 401: no token, not a token of this server,
/// expired, revoked, not a worker's, or a worker that is disabled or gone. Two store requests
/// (the worker's record, the token's revocation).
pub async fn actor(ctx: &Context<'_>, req: &Request) -> ApiResult<Actor> {
    let token = match bearer(req) {
        // RFC 6750 §3.1: no error code for a request without a bearer token (none, or another
        // scheme such as Basic).
        None => return Err(ApiError::unauthorized(false)),
        Some(Err(NotBearer::OtherScheme)) => return Err(ApiError::unauthorized(false)),
        Some(Err(NotBearer::Empty)) => return Err(ApiError::unauthorized(true)),
        Some(Ok(token)) => token,
    };
    let refuse = || ApiError::unauthorized(true);
    let app = ctx.app;
    let claims = app.verify_token(token).ok_or_else(refuse)?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let (Some(env), Some(client_id), Some(jti)) = (text("env"), text("client_id"), text("jti")) else {
        return Err(refuse());
    };
    if text("iss") != Some(app.issuer(Dialect::PingOne, env).as_str()) || text("org") != Some(ORGANIZATION_ID) {
        return Err(refuse());
    }
    let key = RecordKey::new(env, Kind::Application, client_id);
    let Some(Record::Application(worker)) = app.store.get_record(&key).await? else {
        return Err(refuse());
    };
    let usable = worker.enabled && worker.app_type == AppType::Worker && worker.allows(GrantType::ClientCredentials);
    if !usable || app.store.token_revoked(jti).await? {
        return Err(refuse());
    }
    Ok(Actor { application: worker })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(roles: &[(Role, ScopeType, &str)]) -> Actor {
        let mut application = Application::new("env-a", "worker", "W");
        application.role_assignments = roles
            .iter()
            .map(|(role, scope_type, scope_id)| RoleAssignment {
                id: format!("{role:?}"),
                role: *role,
                scope_type: *scope_type,
                scope_id: (*scope_id).to_owned(),
                created_ms: 0,
            })
            .collect();
        Actor { application }
    }

    #[test]
    fn roles_cover_their_scope_only() {
        let a = actor(&[(Role::IdentityDataAdmin, ScopeType::Environment, "env-a")]);
        assert!(a.may(Permission::WriteUsers, "env-a"));
        assert!(!a.may(Permission::WriteUsers, "env-b"), "another environment");
        assert!(!a.may(Permission::WritePopulations, "env-a"), "populations need Environment Admin");
        assert!(!a.may(Permission::ReadApplications, "env-a"));
        let org = actor(&[(Role::EnvironmentAdmin, ScopeType::Organization, ORGANIZATION_ID)]);
        assert!(org.may(Permission::WritePopulations, "any-env"));
        assert!(!org.may(Permission::CreateEnvironment, "any-env"));
    }

    #[test]
    fn no_actor_makes_a_more_privileged_one() {
        let dev = actor(&[(Role::ClientApplicationDeveloper, ScopeType::Environment, "env-a")]);
        assert!(!dev.may_assign(Role::ClientApplicationDeveloper, ScopeType::Environment, "env-a"));
        let env_admin = actor(&[(Role::EnvironmentAdmin, ScopeType::Environment, "env-a")]);
        assert!(env_admin.may_assign(Role::IdentityDataAdmin, ScopeType::Environment, "env-a"));
        assert!(!env_admin.may_assign(Role::IdentityDataAdmin, ScopeType::Environment, "env-b"));
        assert!(!env_admin.may_assign(Role::EnvironmentAdmin, ScopeType::Organization, ORGANIZATION_ID));
        assert!(!env_admin.may_assign(Role::OrganizationAdmin, ScopeType::Organization, ORGANIZATION_ID));
        let org = actor(&[(Role::OrganizationAdmin, ScopeType::Organization, ORGANIZATION_ID)]);
        assert!(org.may_assign(Role::EnvironmentAdmin, ScopeType::Environment, "env-z"));
        assert!(!org.may_assign(Role::OrganizationAdmin, ScopeType::Organization, ORGANIZATION_ID));
        let mut privileged = Application::new("env-a", "other", "O");
        privileged.role_assignments = env_admin.application.role_assignments.clone();
        assert!(!dev.covers_all_of(&privileged), "a developer may not read an Environment Admin's secret");
        assert!(env_admin.covers_all_of(&privileged));
    }
}
