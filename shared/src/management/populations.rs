//! `/v1/environments/{envId}/populations[/{populationId}]` (PING-MGMT §6). Names are unique in
//! the environment; exactly one population is the default (making one the default unmarks the
//! other in the same change); the default and a population with users cannot be deleted.

use http::Method;
use serde_json::{json, Value};

use super::auth::{actor, Actor, Permission};
use super::body::{Body, Check};
use super::{apply, hal, ApiError, ApiResult};
use crate::audit::{Action, Status};
use crate::context::Context;
use crate::http::{Request, Response};
use crate::model::Population;
use crate::store::{Expect, Kind, NameKind, Record, RecordKey, Write};

pub const COLLECTION: &str = "/v1/environments/{envId}/populations";
pub const ITEM: &str = "/v1/environments/{envId}/populations/{populationId}";

/// The population every environment starts with.
pub fn default_population(environment_id: &str, now_ms: i64) -> Population {
    Population {
        environment_id: environment_id.to_owned(),
        id: uuid::Uuid::new_v4().to_string(),
        name: "Default".to_owned(),
        description: Some("The environment's default population.".to_owned()),
        default: true,
        created_ms: now_ms,
        updated_ms: now_ms,
        revision: 0,
    }
}

pub async fn handle(ctx: &Context<'_>, req: &Request) -> ApiResult<Response> {
    let actor = actor(ctx, req).await?;
    let env = ctx.environment_id();
    let write = !matches!(req.method, Method::GET | Method::HEAD);
    actor.require(if write { Permission::WritePopulations } else { Permission::ReadPopulations }, env)?;
    let populations = all(ctx, env).await?;
    match (ctx.pattern, req.method.clone()) {
        (COLLECTION, Method::POST) => save(ctx, req, &actor, &populations, None).await,
        (COLLECTION, _) => {
            let counts = user_counts(ctx, env).await?;
            let items: Vec<Value> = populations.iter().map(|p| population_json(ctx, p, &counts)).collect();
            let count = items.len();
            Ok(hal::ok(&hal::collection(hal::env_url(ctx.app, env, "/populations"), "populations", items, count, None)))
        }
        (_, method) => {
            let id = ctx.params.get("populationId").unwrap_or_default();
            let Some(found) = populations.iter().find(|p| p.id == id).cloned() else {
                return Err(ApiError::not_found("Population", id));
            };
            match method {
                Method::PUT => save(ctx, req, &actor, &populations, Some(found)).await,
                Method::DELETE => delete(ctx, &actor, &populations, found).await,
                _ => Ok(hal::ok(&population_json(ctx, &found, &user_counts(ctx, env).await?))),
            }
        }
    }
}

/// Every population of the environment.
pub async fn all(ctx: &Context<'_>, environment_id: &str) -> ApiResult<Vec<Population>> {
    let records = ctx.app.store.list_records(environment_id, Kind::Population).await?;
    Ok(records
        .into_iter()
        .filter_map(|r| match r {
            Record::Population(p) => Some(p),
            _ => None,
        })
        .collect())
}

/// Users per population id (users of older records, without one, count for the default).
async fn user_counts(ctx: &Context<'_>, environment_id: &str) -> ApiResult<Vec<(String, usize)>> {
    let users = super::users::all(ctx, environment_id).await?;
    let mut counts: Vec<(String, usize)> = Vec::new();
    for user in users {
        match counts.iter_mut().find(|(id, _)| *id == user.population_id) {
            Some((_, n)) => *n += 1,
            None => counts.push((user.population_id, 1)),
        }
    }
    Ok(counts)
}

fn population_json(ctx: &Context<'_>, p: &Population, counts: &[(String, usize)]) -> Value {
    let count =
        counts.iter().filter(|(id, _)| *id == p.id || (p.default && id.is_empty())).map(|(_, n)| n).sum::<usize>();
    let mut body = json!({
        "_links": hal::links(vec![
            ("self", hal::env_url(ctx.app, &p.environment_id, &format!("/populations/{}", p.id))),
            ("environment", hal::env_url(ctx.app, &p.environment_id, "")),
        ]),
        "id": p.id,
        "name": p.name,
        "default": p.default,
        "userCount": count,
        "preferredLanguage": "en",
    });
    if let Some(d) = &p.description {
        body["description"] = json!(d);
    }
    hal::stamp(body, &p.environment_id, p.created_ms, p.updated_ms)
}

async fn save(
    ctx: &Context<'_>,
    req: &Request,
    actor: &Actor,
    populations: &[Population],
    old: Option<Population>,
) -> ApiResult<Response> {
    let env = ctx.environment_id();
    if old.is_none() {
        super::environments::require_environment(ctx, env).await?;
    }
    let body = Body::parse(req, &["application/json"])?;
    let mut check = Check::new(&body);
    let name = check.string("name", true, 256);
    let description = check.string("description", false, 1024);
    let was_default = old.as_ref().is_some_and(|p| p.default);
    let default = check.boolean("default", was_default) || populations.is_empty();
    if was_default && !default {
        let message = "Make another population the default instead: one population is always the default.";
        check.fail("CONSTRAINT_VIOLATION", "default", message.into(), None);
    }
    check.finish()?;
    let now = ctx.app.clock.now_ms();
    let population = Population {
        environment_id: env.to_owned(),
        id: old.as_ref().map_or_else(|| uuid::Uuid::new_v4().to_string(), |p| p.id.clone()),
        name: name.unwrap_or_default(),
        description,
        default,
        created_ms: old.as_ref().map_or(now, |p| p.created_ms),
        updated_ms: now,
        revision: old.as_ref().map_or(0, |p| p.revision + 1),
    };
    let expect = old.as_ref().map_or(Expect::Absent, |p| Expect::Revision(p.revision));
    let old_record = old.clone().map(Record::Population);
    let mut writes = Record::Population(population.clone()).replacing(old_record.as_ref(), expect);
    if default && !was_default {
        for previous in populations.iter().filter(|p| p.default && p.id != population.id) {
            let unmarked =
                Population { default: false, updated_ms: now, revision: previous.revision + 1, ..previous.clone() };
            writes.push(Write::Put(Record::Population(unmarked), Expect::Revision(previous.revision)));
        }
    }
    apply(ctx, &writes, |w| match w {
        Write::Claim(n, _) if n.kind == NameKind::PopulationName => {
            ApiError::taken("name", "A resource with the specified name already exists.")
        }
        _ => ApiError::changed_meanwhile(),
    })
    .await?;
    let action = if old.is_some() { Action::PopulationUpdated } else { Action::PopulationCreated };
    audit(ctx, actor, action, &population);
    let counts = if old.is_some() { user_counts(ctx, env).await? } else { Vec::new() };
    let json = population_json(ctx, &population, &counts);
    Ok(if old.is_some() { hal::ok(&json) } else { hal::created(&json) })
}

async fn delete(ctx: &Context<'_>, actor: &Actor, populations: &[Population], p: Population) -> ApiResult<Response> {
    let constraint =
        |message: &str| ApiError::invalid(vec![super::detail("CONSTRAINT_VIOLATION", Some("id"), message)]);
    if populations.len() == 1 {
        return Err(constraint("The environment must contain at least one population."));
    }
    if p.default {
        return Err(constraint("The default population cannot be deleted; make another population the default first."));
    }
    let users = super::users::all(ctx, &p.environment_id).await?;
    if users.iter().any(|u| u.population_id == p.id) {
        return Err(constraint(
            "The population still has users; delete them or move them to another population first.",
        ));
    }
    apply(ctx, &Record::Population(p.clone()).deleting(), |_| ApiError::changed_meanwhile()).await?;
    audit(ctx, actor, Action::PopulationDeleted, &p);
    Ok(hal::deleted())
}

fn audit(ctx: &Context<'_>, actor: &Actor, action: Action, p: &Population) {
    ctx.app
        .audit(&p.environment_id, action, Status::Success, "Population changed.")
        .client(actor.client_id())
        .resource("POPULATION", &p.id)
        .emit();
}

/// The key of a population record.
pub fn key(environment_id: &str, id: &str) -> RecordKey {
    RecordKey::new(environment_id, Kind::Population, id)
}
