//! `/v1/environments/{envId}/users[/{userId}]`, `.../enabled` and `.../password` (PING-MGMT §7,
//! §8). Usernames are unique in the environment (claimed atomically with the write). Sessions,
//! consents and grants hold the user id, so a rename keeps them; disabling or deleting a user
//! ends its sign-on and revokes every token family issued to it.

use http::Method;
use serde_json::{json, Value};

use super::auth::{actor, Actor, Permission};
use super::body::{Body, Check};
use super::user_filter::Filter;
use super::{apply, hal, ApiError, ApiResult};
use crate::audit::{Action, Status};
use crate::context::Context;
use crate::http::{Request, Response};
use crate::model::{Population, User};
use crate::store::{Expect, Kind, NameKind, Record, RecordKey, Write};

pub const COLLECTION: &str = "/v1/environments/{envId}/users";
pub const ITEM: &str = "/v1/environments/{envId}/users/{userId}";
pub const ENABLED: &str = "/v1/environments/{envId}/users/{userId}/enabled";
pub const PASSWORD: &str = "/v1/environments/{envId}/users/{userId}/password";

const JSON: &[&str] = &["application/json"];
/// PingOne's import media type: like a create, and may carry a password.
const CREATE: &[&str] = &["application/json", "application/vnd.pingidentity.user.import+json"];
const PASSWORD_SET: &[&str] = &["application/vnd.pingidentity.password.set+json"];

pub async fn handle(ctx: &Context<'_>, req: &Request) -> ApiResult<Response> {
    let actor = actor(ctx, req).await?;
    let env = ctx.environment_id();
    let reading = matches!(req.method, Method::GET | Method::HEAD);
    if ctx.pattern == PASSWORD {
        actor.require(Permission::Passwords, env)?;
        let user = find(ctx).await?;
        return if reading {
            Ok(hal::ok(&password_json(ctx, &user)))
        } else {
            set_password(ctx, req, &actor, user).await
        };
    }
    actor.require(if reading { Permission::ReadUsers } else { Permission::WriteUsers }, env)?;
    match (ctx.pattern, req.method.clone()) {
        (COLLECTION, Method::POST) => create(ctx, req, &actor).await,
        (COLLECTION, _) => list(ctx, req).await,
        (ENABLED, Method::PUT) => set_enabled(ctx, req, &actor, find(ctx).await?).await,
        (ENABLED, _) => {
            let user = find(ctx).await?;
            Ok(hal::ok(
                &json!({ "_links": hal::links(vec![("self", user_url(ctx, &user, "/enabled"))]), "enabled": user.enabled }),
            ))
        }
        (_, Method::PUT) => update(ctx, req, &actor, false).await,
        (_, Method::PATCH) => update(ctx, req, &actor, true).await,
        (_, Method::DELETE) => delete(ctx, &actor).await,
        _ => Ok(hal::ok(&user_json(ctx, &find(ctx).await?, None))),
    }
}

/// Every user of the environment, by id.
pub async fn all(ctx: &Context<'_>, environment_id: &str) -> ApiResult<Vec<User>> {
    let records = ctx.app.store.list_records(environment_id, Kind::User).await?;
    Ok(records
        .into_iter()
        .filter_map(|r| match r {
            Record::User(u) => Some(u),
            _ => None,
        })
        .collect())
}

async fn find(ctx: &Context<'_>) -> ApiResult<User> {
    let id = ctx.params.get("userId").unwrap_or_default();
    match ctx.app.store.get_record(&RecordKey::new(ctx.environment_id(), Kind::User, id)).await? {
        Some(Record::User(u)) => Ok(u),
        _ => Err(ApiError::not_found("User", id)),
    }
}

fn user_url(ctx: &Context<'_>, u: &User, path: &str) -> String {
    hal::env_url(ctx.app, &u.environment_id, &format!("/users/{}{path}", u.id))
}

/// The user as PingOne's resource; `population` stands in for users of older records.
fn user_json(ctx: &Context<'_>, u: &User, population: Option<&str>) -> Value {
    let password = user_url(ctx, u, "/password");
    let population_id = if u.population_id.is_empty() { population.unwrap_or_default() } else { &u.population_id };
    let mut body = json!({
        "_links": hal::links(vec![
            ("self", user_url(ctx, u, "")),
            ("environment", hal::env_url(ctx.app, &u.environment_id, "")),
            ("population", hal::env_url(ctx.app, &u.environment_id, &format!("/populations/{population_id}"))),
            ("password", password.clone()),
            ("password.set", password.clone()),
            ("password.reset", password.clone()),
            ("password.check", password),
        ]),
        "id": u.id,
        "username": u.username,
        "enabled": u.enabled,
        "account": { "canAuthenticate": u.enabled, "status": "OK" },
        "identityProvider": { "type": "PING_ONE" },
        "lifecycle": { "status": "ACCOUNT_OK" },
        "mfaEnabled": false,
        "verifyStatus": "NOT_INITIATED",
        "population": { "id": population_id },
    });
    if let Some(email) = &u.email {
        body["email"] = json!(email);
    }
    let mut name = serde_json::Map::new();
    if let Some(given) = &u.given_name {
        name.insert("given".into(), json!(given));
    }
    if let Some(family) = &u.family_name {
        name.insert("family".into(), json!(family));
    }
    if !name.is_empty() {
        body["name"] = Value::Object(name);
    }
    hal::stamp(body, &u.environment_id, u.created_ms, u.updated_ms)
}

fn password_json(ctx: &Context<'_>, u: &User) -> Value {
    let url = user_url(ctx, u, "/password");
    let mut body = json!({
        "_links": hal::links(vec![
            ("self", url.clone()),
            ("environment", hal::env_url(ctx.app, &u.environment_id, "")),
            ("user", user_url(ctx, u, "")),
            ("password.set", url.clone()),
            ("password.reset", url),
        ]),
        "environment": { "id": u.environment_id },
        "user": { "id": u.id },
        "status": u.password_status(),
    });
    if let Some(changed) = u.password_changed_ms {
        body["lastChangedAt"] = json!(hal::timestamp(changed));
    }
    body
}

async fn list(ctx: &Context<'_>, req: &Request) -> ApiResult<Response> {
    let env = ctx.environment_id();
    let query =
        req.query_params().map_err(|e| ApiError::invalid_request(http::StatusCode::BAD_REQUEST, e.describe()))?;
    let filter = query.get("filter").map(Filter::parse).transpose()?;
    let limit = match query.get("limit") {
        None => 100,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                let inner = json!({ "rangeMinimumValue": 1, "rangeMaximumValue": 1000 });
                let detail = crate::error::ErrorDetail {
                    code: "INVALID_VALUE",
                    target: Some("limit"),
                    message: "limit must be an integer from 1 to 1000.".into(),
                    inner_error: Some(inner),
                };
                return Err(ApiError::invalid(vec![detail]));
            }
        },
    };
    // The cursor is the id of the last user of the previous page (users come by id).
    let after = query.get("cursor").map(str::to_owned);
    let default_population = default_population(ctx, env).await?.map(|p| p.id).unwrap_or_default();
    let matching: Vec<User> = all(ctx, env)
        .await?
        .into_iter()
        .filter(|u| filter.as_ref().is_none_or(|f| f.matches(u, &default_population)))
        .collect();
    let count = matching.len();
    let page: Vec<&User> =
        matching.iter().filter(|u| after.as_ref().is_none_or(|a| u.id.as_str() > a.as_str())).take(limit + 1).collect();
    let more = page.len() > limit;
    let page = &page[..page.len().min(limit)];
    let mut url = url::Url::parse(&hal::env_url(ctx.app, env, "/users")).map_err(|_| ApiError::changed_meanwhile())?;
    let mut self_url = url.clone();
    {
        let mut q = self_url.query_pairs_mut();
        if let Some(f) = query.get("filter") {
            q.append_pair("filter", f);
        }
        q.append_pair("limit", &limit.to_string());
        if let Some(a) = &after {
            q.append_pair("cursor", a);
        }
    }
    let next = match (more, page.last()) {
        (true, Some(last)) => {
            let mut q = url.query_pairs_mut();
            if let Some(f) = query.get("filter") {
                q.append_pair("filter", f);
            }
            q.append_pair("limit", &limit.to_string()).append_pair("cursor", &last.id);
            drop(q);
            Some(url.to_string())
        }
        _ => None,
    };
    let items = page.iter().map(|u| user_json(ctx, u, Some(&default_population))).collect();
    Ok(hal::ok(&hal::collection(self_url.to_string(), "users", items, count, next)))
}

async fn default_population(ctx: &Context<'_>, env: &str) -> ApiResult<Option<Population>> {
    Ok(super::populations::all(ctx, env).await?.into_iter().find(|p| p.default))
}

/// A username PingOne accepts: 1..=128 characters, letters, marks, spaces, symbols, digits and
/// punctuation (no control characters).
fn valid_username(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= 128 && !name.chars().any(char::is_control)
}

fn valid_email(email: &str) -> bool {
    let mut parts = email.rsplitn(2, '@');
    let (domain, local) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Reads the user properties of `body` onto `user`; `partial`: only those present (PATCH).
async fn read_profile(ctx: &Context<'_>, body: &Body, user: &mut User, partial: bool, creating: bool) -> ApiResult<()> {
    let mut c = Check::new(body);
    // A PATCH changes only what it sends, but what it sends must be valid: not empty either.
    let required = |name: &str| !partial || body.has(name);
    if let Some(username) = c.string("username", required("username"), 128) {
        if valid_username(&username) {
            user.username = username;
        } else {
            c.fail("INVALID_VALUE", "username", "username may not hold control characters.".into(), None);
        }
    }
    if !partial || body.has("email") {
        user.email = c.string("email", required("email"), 254);
        if user.email.as_deref().is_some_and(|e| !valid_email(e)) {
            c.fail("INVALID_VALUE", "email", "email must be an address like name@example.com.".into(), None);
        }
    }
    if !partial || body.has("name") {
        user.given_name = c.nested_string("name", "given", "name.given", false, 256);
        user.family_name = c.nested_string("name", "family", "name.family", false, 256);
    }
    let population = c.nested_string("population", "id", "population.id", false, 64);
    c.finish()?;
    if creating {
        let env = user.environment_id.clone();
        let found = match population {
            Some(id) => super::populations::all(ctx, &env).await?.into_iter().find(|p| p.id == id),
            None => default_population(ctx, &env).await?,
        };
        let Some(found) = found else {
            let message = "population.id names no population of this environment.";
            return Err(ApiError::invalid(vec![super::detail("INVALID_VALUE", Some("population.id"), message)]));
        };
        user.population_id = found.id;
    }
    Ok(())
}

async fn save(ctx: &Context<'_>, mut user: User, old: Option<&User>) -> ApiResult<User> {
    let now = ctx.app.clock.now_ms();
    user.updated_ms = now;
    let expect = match old {
        Some(o) => {
            user.revision = o.revision + 1;
            Expect::Revision(o.revision)
        }
        None => {
            user.created_ms = now;
            Expect::Absent
        }
    };
    let old_record = old.cloned().map(Record::User);
    let writes = Record::User(user.clone()).replacing(old_record.as_ref(), expect);
    apply(ctx, &writes, |w| match w {
        Write::Claim(n, _) if n.kind == NameKind::Username => {
            ApiError::taken("username", "A user with the specified username already exists in this environment.")
        }
        _ => ApiError::changed_meanwhile(),
    })
    .await?;
    Ok(user)
}

async fn create(ctx: &Context<'_>, req: &Request, actor: &Actor) -> ApiResult<Response> {
    let env = ctx.environment_id();
    super::environments::require_environment(ctx, env).await?;
    let body = Body::parse(req, CREATE)?;
    let mut user = User::new(env, &uuid::Uuid::new_v4().to_string(), "", None);
    read_profile(ctx, &body, &mut user, false, true).await?;
    if body.has("password") {
        let (value, force_change) = password_body(&body, "password.value")?;
        user.password_hash = Some(hash(value).await?);
        user.must_change_password = force_change;
        user.password_changed_ms = Some(ctx.app.clock.now_ms());
    }
    let user = save(ctx, user, None).await?;
    audit(ctx, actor, Action::UserCreated, &user);
    Ok(hal::created(&user_json(ctx, &user, None)))
}

async fn update(ctx: &Context<'_>, req: &Request, actor: &Actor, partial: bool) -> ApiResult<Response> {
    let old = find(ctx).await?;
    let body = Body::parse(req, JSON)?;
    let mut user = old.clone();
    read_profile(ctx, &body, &mut user, partial, false).await?;
    let user = save(ctx, user, Some(&old)).await?;
    audit(ctx, actor, Action::UserUpdated, &user);
    Ok(hal::ok(&user_json(ctx, &user, None)))
}

async fn set_enabled(ctx: &Context<'_>, req: &Request, actor: &Actor, old: User) -> ApiResult<Response> {
    let body = Body::parse(req, JSON)?;
    let mut c = Check::new(&body);
    if !body.has("enabled") {
        c.fail("REQUIRED_VALUE", "enabled", "enabled is required.".into(), None);
    }
    let enabled = c.boolean("enabled", old.enabled);
    c.finish()?;
    let user = save(ctx, User { enabled, ..old.clone() }, Some(&old)).await?;
    if !enabled {
        revoke_tokens(ctx, &user).await?;
    }
    audit(ctx, actor, Action::UserUpdated, &user);
    Ok(hal::ok(&json!({ "_links": hal::links(vec![("self", user_url(ctx, &user, "/enabled"))]), "enabled": enabled })))
}

async fn delete(ctx: &Context<'_>, actor: &Actor) -> ApiResult<Response> {
    let old = find(ctx).await?;
    apply(ctx, &Record::User(old.clone()).deleting(), |_| ApiError::changed_meanwhile()).await?;
    revoke_tokens(ctx, &old).await?;
    audit(ctx, actor, Action::UserDeleted, &old);
    Ok(hal::deleted())
}

/// Revokes every token family issued to the user (each is listed on a remembered consent).
async fn revoke_tokens(ctx: &Context<'_>, user: &User) -> ApiResult<()> {
    let now = ctx.app.clock.now_ms();
    for consent in ctx.app.store.list_consents(&user.environment_id, &user.id).await? {
        ctx.app.store.revoke_consent(&user.environment_id, &user.id, &consent.client_id, now).await?;
    }
    Ok(())
}

/// `value` and `forceChange` of a password body (`target` names the value for errors).
fn password_body(body: &Body, target: &'static str) -> ApiResult<(String, bool)> {
    let mut c = Check::new(body);
    let (value, force) = if target == "value" {
        (c.string("value", true, 255), c.boolean("forceChange", false))
    } else {
        let value = c.nested_string("password", "value", target, true, 255);
        let force = body.get("password").and_then(|p| p.get("forceChange")).and_then(Value::as_bool).unwrap_or(false);
        (value, force)
    };
    let bypass = c.boolean("bypassPolicy", false);
    if let Some(v) = &value {
        if v.starts_with('{') {
            let message = "Pre-encoded passwords are not supported here; send the password in cleartext.";
            c.fail("INVALID_VALUE", target, message.into(), None);
        } else if !bypass {
            for failure in crate::passwords::policy_failures(v) {
                c.fail("INVALID_VALUE", target, failure, None);
            }
        }
    }
    c.finish()?;
    Ok((value.unwrap_or_default(), force))
}

async fn hash(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || crate::passwords::hash_password(&password))
        .await
        .map_err(|_| crate::error::FlowError::unavailable().into())
}

async fn set_password(ctx: &Context<'_>, req: &Request, actor: &Actor, old: User) -> ApiResult<Response> {
    let body = Body::parse(req, PASSWORD_SET)?;
    let (value, force_change) = password_body(&body, "value")?;
    let mut user = old.clone();
    user.password_hash = Some(hash(value).await?);
    user.must_change_password = force_change;
    user.password_changed_ms = Some(ctx.app.clock.now_ms());
    let user = save(ctx, user, Some(&old)).await?;
    ctx.app
        .audit(&user.environment_id, Action::PasswordSet, Status::Success, "Password set.")
        .client(actor.client_id())
        .user(&user.id)
        .emit();
    Ok(hal::ok(&password_json(ctx, &user)))
}

fn audit(ctx: &Context<'_>, actor: &Actor, action: Action, user: &User) {
    ctx.app
        .audit(&user.environment_id, action, Status::Success, "User changed.")
        .client(actor.client_id())
        .user(&user.id)
        .resource("USER", &user.id)
        .emit();
}
