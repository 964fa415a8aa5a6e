//! `/v1/environments[/{envId}]` and `/v1/roles` (PING-MGMT §4, §3.3). Creating an environment
//! needs Organization Admin; it comes with its default population, and its creator receives
//! PingOne's birthright roles over it (Environment Admin, Identity Data Admin, Client Application
//! Developer), all in one atomic change.

use http::Method;
use serde_json::{json, Value};

use super::auth::{actor, Actor, Permission};
use super::body::{Body, Check};
use super::populations::default_population;
use super::{apply, hal, ApiError, ApiResult};
use crate::audit::{Action, Status};
use crate::context::Context;
use crate::http::{Request, Response};
use crate::model::{Environment, Role, RoleAssignment, ScopeType, ORGANIZATION_ID};
use crate::store::{Expect, Kind, NameKind, Record, RecordKey, Write};

pub const COLLECTION: &str = "/v1/environments";
pub const ITEM: &str = "/v1/environments/{envId}";
pub const ROLES: &str = "/v1/roles";

const TYPES: &[(&str, &str)] = &[("SANDBOX", "SANDBOX"), ("PRODUCTION", "PRODUCTION")];
const REGIONS: &[(&str, &str)] = &[("NA", "NA"), ("EU", "EU"), ("CA", "CA"), ("AP", "AP"), ("AU", "AU"), ("SG", "SG")];

pub async fn handle(ctx: &Context<'_>, req: &Request) -> ApiResult<Response> {
    let actor = actor(ctx, req).await?;
    match ctx.pattern {
        COLLECTION if req.method == Method::POST => create(ctx, req, &actor).await,
        COLLECTION => list(ctx, &actor).await,
        ROLES => Ok(hal::ok(&roles_json(ctx))),
        _ => {
            let env = ctx.environment_id();
            actor.require(Permission::ReadEnvironment, env)?;
            Ok(hal::ok(&environment_json(ctx, &require_environment(ctx, env).await?)))
        }
    }
}

/// The environment, or 404.
pub async fn require_environment(ctx: &Context<'_>, environment_id: &str) -> ApiResult<Environment> {
    let key = RecordKey::new(environment_id, Kind::Environment, environment_id);
    match ctx.app.store.get_record(&key).await? {
        Some(Record::Environment(e)) => Ok(e),
        _ => Err(ApiError::not_found("environment", environment_id)),
    }
}

pub fn environment_json(ctx: &Context<'_>, e: &Environment) -> Value {
    let url = |path: &str| hal::env_url(ctx.app, &e.id, path);
    let mut body = json!({
        "_links": hal::links(vec![
            ("self", url("")),
            ("organization", hal::url(ctx.app, &format!("/organizations/{ORGANIZATION_ID}"))),
            ("populations", url("/populations")),
            ("users", url("/users")),
            ("applications", url("/applications")),
        ]),
        "id": e.id,
        "name": e.name,
        "type": e.env_type,
        "region": e.region,
        "organization": { "id": ORGANIZATION_ID },
        "status": "ACTIVE",
        "createdAt": hal::timestamp(e.created_ms),
        "updatedAt": hal::timestamp(e.updated_ms),
    });
    if let Some(d) = &e.description {
        body["description"] = json!(d);
    }
    body
}

async fn list(ctx: &Context<'_>, actor: &Actor) -> ApiResult<Response> {
    let records = ctx.app.store.list_records("", Kind::Environment).await?;
    let items: Vec<Value> = records
        .iter()
        .filter_map(|r| match r {
            Record::Environment(e) if actor.may(Permission::ReadEnvironment, &e.id) => Some(environment_json(ctx, e)),
            _ => None,
        })
        .collect();
    let count = items.len();
    Ok(hal::ok(&hal::collection(hal::url(ctx.app, "/environments"), "environments", items, count, None)))
}

async fn create(ctx: &Context<'_>, req: &Request, actor: &Actor) -> ApiResult<Response> {
    if !actor.may_everywhere(Permission::CreateEnvironment) {
        return Err(ApiError::forbidden("Creating an environment needs the Organization Admin role."));
    }
    let body = Body::parse(req, &["application/json"])?;
    let mut check = Check::new(&body);
    let name = check.string("name", true, 256);
    let description = check.string("description", false, 1024);
    let env_type = check.choice("type", TYPES, true);
    let region = check.choice("region", REGIONS, true);
    check.finish()?;
    let now = ctx.app.clock.now_ms();
    let environment = Environment {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.unwrap_or_default(),
        description,
        env_type: env_type.unwrap_or("SANDBOX").to_owned(),
        region: region.unwrap_or("NA").to_owned(),
        created_ms: now,
        updated_ms: now,
        revision: 0,
    };
    let mut writes = Record::Environment(environment.clone()).replacing(None, Expect::Absent);
    writes.extend(Record::Population(default_population(&environment.id, now)).replacing(None, Expect::Absent));
    // Birthright roles, unless the creator already administers every environment.
    if !actor.may_everywhere(Permission::WritePopulations) {
        let old = actor.application.clone();
        let mut worker = old.clone();
        for role in [Role::EnvironmentAdmin, Role::IdentityDataAdmin, Role::ClientApplicationDeveloper] {
            worker.role_assignments.push(RoleAssignment {
                id: uuid::Uuid::new_v4().to_string(),
                role,
                scope_type: ScopeType::Environment,
                scope_id: environment.id.clone(),
                created_ms: now,
            });
        }
        worker.revision = old.revision + 1;
        worker.updated_ms = now;
        let old_record = Record::Application(old.clone());
        writes.extend(Record::Application(worker).replacing(Some(&old_record), Expect::Revision(old.revision)));
        ctx.app.invalidate_applications(&old.environment_id);
    }
    apply(ctx, &writes, |w| match w {
        Write::Claim(n, _) if n.kind == NameKind::EnvironmentName => {
            ApiError::taken("name", "A resource with the specified name already exists.")
        }
        _ => ApiError::changed_meanwhile(),
    })
    .await?;
    ctx.app
        .audit(&environment.id, Action::EnvironmentCreated, Status::Success, "Environment created.")
        .client(actor.client_id())
        .resource("ENVIRONMENT", &environment.id)
        .emit();
    Ok(hal::created(&environment_json(ctx, &environment)))
}

fn roles_json(ctx: &Context<'_>) -> Value {
    let items: Vec<Value> = Role::ALL
        .iter()
        .map(|r| {
            json!({
                "_links": hal::links(vec![("self", hal::url(ctx.app, &format!("/roles/{}", r.id())))]),
                "id": r.id(),
                "name": r.name(),
                "description": r.description(),
                "applicableTo": r.applicable_to().iter().map(|s| super::application_secret::scope_name(*s)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let count = items.len();
    hal::collection(hal::url(ctx.app, "/roles"), "roles", items, count, None)
}
