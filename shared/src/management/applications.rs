//! `/v1/environments/{envId}/applications[/{appId}]` (PING-MGMT §5.1): list, create, read,
//! replace, delete. Secrets and role assignments are in `application_secret` and
//! `role_assignments`. A write takes effect at once on this instance (its application cache is
//! dropped) and within `DIRECTORY_CACHE_SECONDS` on every other.

use http::Method;
use serde_json::json;

use super::application_body::{application_from, application_json};
use super::auth::{actor, Actor, Permission};
use super::body::Body;
use super::{apply, hal, ApiError, ApiResult};
use crate::audit::{Action, Status};
use crate::context::Context;
use crate::http::{Request, Response};
use crate::model::{AppType, Application, RoleAssignment};
use crate::store::{Expect, Kind, NameKind, Record, RecordKey, Write};

pub const COLLECTION: &str = "/v1/environments/{envId}/applications";
pub const ITEM: &str = "/v1/environments/{envId}/applications/{appId}";

pub async fn handle(ctx: &Context<'_>, req: &Request) -> ApiResult<Response> {
    let actor = actor(ctx, req).await?;
    match ctx.pattern {
        COLLECTION if req.method == Method::POST => create(ctx, req, &actor).await,
        COLLECTION => list(ctx, &actor).await,
        ITEM if req.method == Method::PUT => replace(ctx, req, &actor).await,
        ITEM if req.method == Method::DELETE => delete(ctx, &actor).await,
        ITEM => {
            actor.require(Permission::ReadApplications, ctx.environment_id())?;
            Ok(hal::ok(&application_json(ctx.app, &find(ctx).await?)))
        }
        _ => super::application_secret::handle(ctx, req, &actor).await,
    }
}

/// The application `{appId}` of the environment, or 404.
pub async fn find(ctx: &Context<'_>) -> ApiResult<Application> {
    let id = ctx.params.get("appId").unwrap_or_default();
    let key = RecordKey::new(ctx.environment_id(), Kind::Application, id);
    match ctx.app.store.get_record(&key).await? {
        Some(Record::Application(a)) => Ok(a),
        _ => Err(ApiError::not_found("Application", id)),
    }
}

/// The answer when a write's unique name is taken, else "changed meanwhile".
pub fn conflict(write: &Write) -> ApiError {
    match write {
        Write::Claim(name, _) if name.kind == NameKind::DevicePathId => {
            ApiError::taken("devicePathId", "A resource with the specified devicePathId already exists.")
        }
        Write::Put(_, Expect::Absent) => ApiError::taken("id", "A resource with the specified id already exists."),
        _ => ApiError::changed_meanwhile(),
    }
}

/// Stores `new` in place of `old` (a create when `None`) and drops this instance's cache.
pub async fn save(ctx: &Context<'_>, mut new: Application, old: Option<&Application>) -> ApiResult<Application> {
    let now = ctx.app.clock.now_ms();
    new.updated_ms = now;
    let expect = match old {
        Some(o) => {
            new.revision = o.revision + 1;
            Expect::Revision(o.revision)
        }
        None => {
            new.created_ms = now;
            Expect::Absent
        }
    };
    let old_record = old.cloned().map(Record::Application);
    let writes = Record::Application(new.clone()).replacing(old_record.as_ref(), expect);
    apply(ctx, &writes, conflict).await?;
    ctx.app.invalidate_applications(&new.environment_id);
    Ok(new)
}

async fn list(ctx: &Context<'_>, actor: &Actor) -> ApiResult<Response> {
    let env = ctx.environment_id();
    actor.require(Permission::ReadApplications, env)?;
    let apps = ctx.app.store.list_applications(env).await?;
    let items: Vec<_> = apps.iter().map(|a| application_json(ctx.app, a)).collect();
    let count = items.len();
    Ok(hal::ok(&hal::collection(hal::env_url(ctx.app, env, "/applications"), "applications", items, count, None)))
}

async fn create(ctx: &Context<'_>, req: &Request, actor: &Actor) -> ApiResult<Response> {
    let env = ctx.environment_id();
    actor.require(Permission::WriteApplications, env)?;
    super::environments::require_environment(ctx, env).await?;
    let body = Body::parse(req, &["application/json"])?;
    let id = uuid::Uuid::new_v4().to_string();
    let mut app = application_from(&ctx.app.settings, &body, env, &id, None)?;
    if app.token_endpoint_auth_method.uses_secret() {
        app.set_secret(&ctx.app.hasher, &super::application_secret::new_secret(ctx.app), None);
    }
    // PingOne's `assignActorRoles` (POST only): the new worker holds the creator's roles here.
    if app.app_type == AppType::Worker && body.get("assignActorRoles") == Some(&json!(true)) {
        let now = ctx.app.clock.now_ms();
        app.role_assignments = actor
            .roles()
            .iter()
            .filter(|r| r.covers(env))
            .map(|r| RoleAssignment { id: uuid::Uuid::new_v4().to_string(), created_ms: now, ..r.clone() })
            .collect();
    }
    let app = save(ctx, app, None).await?;
    audit(ctx, actor, Action::ApplicationCreated, &app);
    Ok(hal::created(&application_json(ctx.app, &app)))
}

/// No actor changes or deletes a worker holding roles it could not have given (it could point
/// the worker's credentials at itself): the escalation guard of the secret, for every write.
fn guard_worker(actor: &Actor, target: &Application) -> ApiResult<()> {
    if target.app_type == AppType::Worker && target.client_id != actor.client_id() && !actor.covers_all_of(target) {
        return Err(ApiError::forbidden(
            "The actor may not change a worker application holding roles it could not assign.",
        ));
    }
    Ok(())
}

async fn replace(ctx: &Context<'_>, req: &Request, actor: &Actor) -> ApiResult<Response> {
    actor.require(Permission::WriteApplications, ctx.environment_id())?;
    let old = find(ctx).await?;
    guard_worker(actor, &old)?;
    let body = Body::parse(req, &["application/json"])?;
    let mut app = application_from(&ctx.app.settings, &body, &old.environment_id, &old.client_id, Some(&old))?;
    if app.token_endpoint_auth_method.uses_secret() && app.client_secret.is_none() {
        app.set_secret(&ctx.app.hasher, &super::application_secret::new_secret(ctx.app), None);
    }
    let app = save(ctx, app, Some(&old)).await?;
    audit(ctx, actor, Action::ApplicationUpdated, &app);
    Ok(hal::ok(&application_json(ctx.app, &app)))
}

async fn delete(ctx: &Context<'_>, actor: &Actor) -> ApiResult<Response> {
    actor.require(Permission::WriteApplications, ctx.environment_id())?;
    let old = find(ctx).await?;
    guard_worker(actor, &old)?;
    apply(ctx, &Record::Application(old.clone()).deleting(), |_| ApiError::changed_meanwhile()).await?;
    ctx.app.invalidate_applications(&old.environment_id);
    audit(ctx, actor, Action::ApplicationDeleted, &old);
    Ok(hal::deleted())
}

pub fn audit(ctx: &Context<'_>, actor: &Actor, action: Action, app: &Application) {
    ctx.app
        .audit(&app.environment_id, action, Status::Success, "Application changed.")
        .client(actor.client_id())
        .resource("APPLICATION", &app.client_id)
        .emit();
}
