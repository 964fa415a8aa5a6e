//! An application's secret (PING-MGMT §5.5) and a worker's role assignments (§3.3).

use http::Method;
use serde_json::{json, Value};

use super::applications::{audit, find, save};
use super::auth::{Actor, Permission};
use super::body::{Body, Check};
use super::{hal, ApiError, ApiResult};
use crate::app::App;
use crate::audit::Action;
use crate::context::Context;
use crate::http::{Request, Response};
use crate::model::{AppType, Application, Role, RoleAssignment, ScopeType, ORGANIZATION_ID};
use crate::store::{Kind, Record, RecordKey};

pub const SECRET: &str = "/v1/environments/{envId}/applications/{appId}/secret";
pub const ROLES: &str = "/v1/environments/{envId}/applications/{appId}/roleAssignments";
pub const ROLE: &str = "/v1/environments/{envId}/applications/{appId}/roleAssignments/{roleAssignmentId}";

/// Longest a rotated-out secret may stay valid (PingOne: 30 days).
const MAX_PREVIOUS_MS: i64 = 30 * 24 * 3600 * 1000;

/// A fresh client secret: 64 characters, 384 random bits.
pub fn new_secret(app: &App) -> String {
    crate::codes::random_token(&*app.random, 48)
}

pub async fn handle(ctx: &Context<'_>, req: &Request, actor: &Actor) -> ApiResult<Response> {
    let env = ctx.environment_id();
    match ctx.pattern {
        SECRET => {
            actor.require(Permission::Secrets, env)?;
            let app = find(ctx).await?;
            guard_secret(actor, &app)?;
            match req.method {
                Method::POST => rotate(ctx, req, actor, app).await,
                Method::DELETE => {
                    let mut new = app.clone();
                    new.revoke_previous_secret();
                    let new = save(ctx, new, Some(&app)).await?;
                    audit(ctx, actor, Action::SecretUpdated, &new);
                    Ok(hal::deleted())
                }
                _ => Ok(hal::ok(&secret_json(ctx, &app))),
            }
        }
        ROLES if req.method == Method::POST => assign(ctx, req, actor).await,
        ROLES => {
            actor.require(Permission::ReadRoleAssignments, env)?;
            let app = worker(ctx).await?;
            let items: Vec<Value> = app.role_assignments.iter().map(|r| assignment_json(ctx, &app, r)).collect();
            let count = items.len();
            let url = hal::env_url(ctx.app, env, &format!("/applications/{}/roleAssignments", app.client_id));
            Ok(hal::ok(&hal::collection(url, "roleAssignments", items, count, None)))
        }
        ROLE => {
            actor.require(Permission::ReadRoleAssignments, env)?;
            let app = worker(ctx).await?;
            let id = ctx.params.get("roleAssignmentId").unwrap_or_default();
            let Some(assignment) = app.role_assignments.iter().find(|r| r.id == id).cloned() else {
                return Err(ApiError::not_found("RoleAssignment", id));
            };
            if req.method != Method::DELETE {
                return Ok(hal::ok(&assignment_json(ctx, &app, &assignment)));
            }
            if !actor.may_assign(assignment.role, assignment.scope_type, &assignment.scope_id) {
                return Err(ApiError::forbidden("The actor may not remove a role it could not assign."));
            }
            let mut new = app.clone();
            new.role_assignments.retain(|r| r.id != id);
            let new = save(ctx, new, Some(&app)).await?;
            audit(ctx, actor, Action::RoleAssignmentDeleted, &new);
            Ok(hal::deleted())
        }
        _ => Err(ApiError::not_found("resource", &req.path)),
    }
}

/// PingOne's secret escalation guard: a worker cannot read its own secret, nor an actor the
/// secret of a worker holding roles it could not have given.
fn guard_secret(actor: &Actor, app: &Application) -> ApiResult<()> {
    if app.client_id == actor.client_id() || !actor.covers_all_of(app) {
        return Err(ApiError::forbidden("Actor does not have permissions to access worker application client secrets"));
    }
    if app.client_secret.is_none() {
        return Err(ApiError::not_found("Secret of application", &app.client_id));
    }
    Ok(())
}

fn secret_json(ctx: &Context<'_>, app: &Application) -> Value {
    let now = ctx.app.clock.now_ms();
    let base = hal::env_url(ctx.app, &app.environment_id, &format!("/applications/{}", app.client_id));
    let mut body = json!({
        "_links": hal::links(vec![
            ("self", format!("{base}/secret")),
            ("environment", hal::env_url(ctx.app, &app.environment_id, "")),
            ("application", base),
        ]),
        "environment": { "id": app.environment_id },
    });
    if let Some((current, previous)) = app.secrets(&ctx.app.hasher, now) {
        body["secret"] = json!(current);
        if let Some((secret, expires_ms)) = previous {
            body["previous"] = json!({ "secret": secret, "expiresAt": hal::timestamp(expires_ms) });
        }
    }
    body
}

async fn rotate(ctx: &Context<'_>, req: &Request, actor: &Actor, app: Application) -> ApiResult<Response> {
    let body = Body::parse_optional(req, &["application/json"])?;
    let now = ctx.app.clock.now_ms();
    let mut check = Check::new(&body);
    let expires = check.nested_string("previous", "expiresAt", "previous.expiresAt", false, 64);
    let previous_until = match expires {
        None => None,
        Some(text) => {
            let at = time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .filter(|ms| *ms >= now + 60_000 && *ms <= now + MAX_PREVIOUS_MS);
            if at.is_none() {
                let message = "previous.expiresAt must be an ISO-8601 time from 1 minute to 30 days ahead.";
                check.fail("INVALID_VALUE", "previous.expiresAt", message.into(), None);
            }
            at
        }
    };
    check.finish()?;
    let mut new = app.clone();
    new.set_secret(&ctx.app.hasher, &new_secret(ctx.app), previous_until);
    let new = save(ctx, new, Some(&app)).await?;
    audit(ctx, actor, Action::SecretUpdated, &new);
    Ok(hal::ok(&secret_json(ctx, &new)))
}

/// The worker application `{appId}` (only workers hold roles: any other is 404).
async fn worker(ctx: &Context<'_>) -> ApiResult<Application> {
    let app = find(ctx).await?;
    if app.app_type != AppType::Worker {
        return Err(ApiError::not_found("worker Application", &app.client_id));
    }
    Ok(app)
}

fn assignment_json(ctx: &Context<'_>, app: &Application, r: &RoleAssignment) -> Value {
    let base = hal::env_url(ctx.app, &app.environment_id, &format!("/applications/{}", app.client_id));
    json!({
        "_links": hal::links(vec![
            ("self", format!("{base}/roleAssignments/{}", r.id)),
            ("environment", hal::env_url(ctx.app, &app.environment_id, "")),
            ("application", base),
            ("role", hal::url(ctx.app, &format!("/roles/{}", r.role.id()))),
        ]),
        "id": r.id,
        "role": { "id": r.role.id() },
        "scope": { "id": r.scope_id, "type": scope_name(r.scope_type) },
        "environment": { "id": app.environment_id },
        "readOnly": false,
        "createdAt": hal::timestamp(r.created_ms),
    })
}

pub fn scope_name(scope: ScopeType) -> &'static str {
    match scope {
        ScopeType::Organization => "ORGANIZATION",
        ScopeType::Environment => "ENVIRONMENT",
    }
}

async fn assign(ctx: &Context<'_>, req: &Request, actor: &Actor) -> ApiResult<Response> {
    // Nothing about the target is told to an actor who may not even read role assignments here.
    actor.require(Permission::ReadRoleAssignments, ctx.environment_id())?;
    let app = worker(ctx).await?;
    let body = Body::parse(req, &["application/json"])?;
    let mut check = Check::new(&body);
    let role_id = check.nested_string("role", "id", "role.id", true, 64);
    let scope_id = check.nested_string("scope", "id", "scope.id", true, 64);
    let scope_type = check.nested_string("scope", "type", "scope.type", true, 32);
    let role = role_id.as_deref().and_then(|id| {
        let role = Role::from_id(id);
        if role.is_none() {
            check.fail("INVALID_VALUE", "role.id", "role.id names no role; GET /v1/roles lists them.".into(), None);
        }
        role
    });
    let scope = match scope_type.as_deref() {
        Some("ORGANIZATION") => Some(ScopeType::Organization),
        Some("ENVIRONMENT") => Some(ScopeType::Environment),
        Some(_) => {
            let message = "scope.type must be ORGANIZATION or ENVIRONMENT.".to_owned();
            check.fail(
                "INVALID_VALUE",
                "scope.type",
                message,
                Some(json!({"allowedValues": ["ORGANIZATION", "ENVIRONMENT"]})),
            );
            None
        }
        None => None,
    };
    check.finish()?;
    let (Some(role), Some(scope), Some(scope_id)) = (role, scope, scope_id) else {
        return Err(ApiError::changed_meanwhile());
    };
    let exists = match scope {
        ScopeType::Organization => scope_id == ORGANIZATION_ID,
        ScopeType::Environment => {
            let key = RecordKey::new(&scope_id, Kind::Environment, &scope_id);
            matches!(ctx.app.store.get_record(&key).await?, Some(Record::Environment(_)))
        }
    };
    if !exists || !role.applicable_to().contains(&scope) {
        let message = format!("{} cannot be assigned over this scope.", role.name());
        return Err(ApiError::invalid(vec![super::detail("INVALID_VALUE", Some("scope.id"), &message)]));
    }
    if !actor.may_assign(role, scope, &scope_id) {
        return Err(ApiError::forbidden("The actor may not assign this role over this scope."));
    }
    if app.role_assignments.iter().any(|r| r.role == role && r.scope_type == scope && r.scope_id == scope_id) {
        return Err(ApiError::taken("role", "May not assign duplicate Role"));
    }
    let assignment = RoleAssignment {
        id: uuid::Uuid::new_v4().to_string(),
        role,
        scope_type: scope,
        scope_id,
        created_ms: ctx.app.clock.now_ms(),
    };
    let mut new = app.clone();
    new.role_assignments.push(assignment.clone());
    let new = save(ctx, new, Some(&app)).await?;
    audit(ctx, actor, Action::RoleAssignmentCreated, &new);
    Ok(hal::created(&assignment_json(ctx, &new, &assignment)))
}
