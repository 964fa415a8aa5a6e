//! Item layout: keys with type prefixes, and conversion between items and records.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue as Av;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::TTL_ATTRIBUTE;
use crate::store::{CodeGrant, DeviceGrant, FlowRecord, GrantKind, StoreError, StoreResult};

pub(super) type Item = HashMap<String, Av>;

pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), Av::S(pk)), ("sk".to_owned(), Av::S(sk.to_owned()))])
}

pub(super) fn unavailable<E: std::fmt::Debug>(err: E) -> StoreError {
    StoreError::Unavailable(format!("{err:?}"))
}

pub(super) fn build_err(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

pub(super) fn grant_pk(grant_id: &str) -> String {
    format!("DEVICE#{grant_id}")
}
pub(super) fn user_code_pk(environment_id: &str, hash: &str) -> String {
    format!("USERCODE#{environment_id}#{hash}")
}
pub(super) fn code_pk(grant_id: &str) -> String {
    format!("CODE#{grant_id}")
}
pub(super) fn flow_pk(flow_id: &str) -> String {
    format!("FLOW#{flow_id}")
}
pub(super) fn consent_pk(environment_id: &str, user_id: &str) -> String {
    format!("CONSENT#{environment_id}#{user_id}")
}
pub(super) fn limit_pk(key: &str) -> String {
    format!("LIMIT#{key}")
}
pub(super) fn env_pk(environment_id: &str) -> String {
    format!("ENV#{environment_id}")
}
pub(super) fn ended_session_pk(environment_id: &str, session_id: &str) -> String {
    format!("SESSION#{environment_id}#{session_id}")
}
pub(super) fn revoked_token_pk(jti: &str) -> String {
    format!("REVOKED#{jti}")
}

/// A token family as a consent lists it: `d.{grant}` or `c.{grant}` (the refresh token's prefix).
pub(super) fn family_tag(kind: GrantKind, grant_id: &str) -> String {
    format!("{}.{grant_id}", crate::grants::refresh::kind_tag(kind))
}
pub(super) fn parse_family_tag(tag: &str) -> Option<(GrantKind, &str)> {
    match tag.split_once('.')? {
        ("d", id) => Some((GrantKind::Device, id)),
        ("c", id) => Some((GrantKind::Code, id)),
        _ => None,
    }
}

pub(super) fn s(v: &str) -> Av {
    Av::S(v.to_owned())
}
pub(super) fn n(v: i64) -> Av {
    Av::N(v.to_string())
}
pub(super) fn json<T: Serialize>(v: &T) -> StoreResult<Av> {
    serde_json::to_string(v).map(Av::S).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> StoreResult<&'a str> {
    match item.get(name) {
        Some(Av::S(v)) => Ok(v),
        _ => Err(corrupt(name)),
    }
}
pub(super) fn get_n(item: &Item, name: &str) -> StoreResult<i64> {
    match item.get(name) {
        Some(Av::N(v)) => v.parse().map_err(|_| corrupt(name)),
        _ => Err(corrupt(name)),
    }
}
pub(super) fn get_opt_n(item: &Item, name: &str) -> StoreResult<Option<i64>> {
    item.get(name).map(|_| get_n(item, name)).transpose()
}
pub(super) fn get_opt_u32(item: &Item, name: &str) -> StoreResult<Option<u32>> {
    get_opt_n(item, name)?.map(|v| u32::try_from(v).map_err(|_| corrupt(name))).transpose()
}
pub(super) fn get_json<T: DeserializeOwned>(item: &Item, name: &str) -> StoreResult<T> {
    serde_json::from_str(get_s(item, name)?).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}
pub(super) fn get_opt_json<T: DeserializeOwned>(item: &Item, name: &str) -> StoreResult<Option<T>> {
    item.get(name).map(|_| get_json(item, name)).transpose()
}

pub(super) fn grant_item(g: &DeviceGrant) -> StoreResult<Item> {
    let mut item = key(grant_pk(&g.grant_id), "DEVICE");
    item.insert("environment_id".into(), s(&g.environment_id));
    item.insert("client_id".into(), s(&g.client_id));
    if !g.issuer.is_empty() {
        item.insert("issuer".into(), s(&g.issuer));
    }
    item.insert("scopes".into(), json(&g.scopes)?);
    item.insert("created_ms".into(), n(g.created_ms));
    item.insert(TTL_ATTRIBUTE.into(), n(g.retained_until()));
    // The codes' own expiry: the TTL moves past it when an approval keeps the grant.
    item.insert("codes_expire_at".into(), n(g.expires_at));
    item.insert("interval".into(), n(i64::from(g.interval)));
    item.insert("polls".into(), Av::L(g.polls.iter().map(|p| n(*p)).collect()));
    item.insert("requester".into(), json(&g.requester)?);
    if let Some(d) = &g.decision {
        item.insert("decision".into(), json(d)?);
        // The decision's outcome on its own (as `decide_flow_device` writes it).
        item.insert("approved".into(), Av::Bool(d.approved));
    }
    if let Some(w) = &g.winner {
        item.insert("winner".into(), s(w));
    }
    if let Some(n_) = g.rt_generation {
        item.insert("rt_generation".into(), n(i64::from(n_)));
    }
    if let Some(r) = g.revoked_ms {
        item.insert("revoked_ms".into(), n(r));
    }
    Ok(item)
}

pub(super) fn grant_from(item: &Item) -> StoreResult<DeviceGrant> {
    let pk = get_s(item, "pk")?;
    let polls = match item.get("polls") {
        Some(Av::L(list)) => list
            .iter()
            .map(|v| match v {
                Av::N(x) => x.parse().map_err(|_| corrupt("polls")),
                _ => Err(corrupt("polls")),
            })
            .collect::<StoreResult<Vec<i64>>>()?,
        _ => return Err(corrupt("polls")),
    };
    let ttl = get_n(item, TTL_ATTRIBUTE)?;
    let codes_expire_at = get_opt_n(item, "codes_expire_at")?;
    let winner = match item.get("winner") {
        Some(_) => Some(get_s(item, "winner")?.to_owned()),
        // Redeemed before redemptions were claimed by polls: by nobody who polls now.
        None => get_opt_n(item, "redeemed_ms")?.map(|_| "redeemed".to_owned()),
    };
    Ok(DeviceGrant {
        grant_id: pk.strip_prefix("DEVICE#").ok_or_else(|| corrupt("pk"))?.to_owned(),
        environment_id: get_s(item, "environment_id")?.to_owned(),
        client_id: get_s(item, "client_id")?.to_owned(),
        issuer: item.get("issuer").map(|_| get_s(item, "issuer")).transpose()?.unwrap_or_default().to_owned(),
        scopes: get_json(item, "scopes")?,
        created_ms: get_n(item, "created_ms")?,
        expires_at: codes_expire_at.unwrap_or(ttl),
        kept_until: codes_expire_at.filter(|codes| *codes != ttl).map(|_| ttl),
        interval: u32::try_from(get_n(item, "interval")?).map_err(|_| corrupt("interval"))?,
        polls,
        requester: get_json(item, "requester")?,
        decision: get_opt_json(item, "decision")?,
        winner,
        rt_generation: get_opt_u32(item, "rt_generation")?,
        revoked_ms: get_opt_n(item, "revoked_ms")?,
    })
}

pub(super) fn flow_from(item: &Item) -> StoreResult<FlowRecord> {
    let pk = get_s(item, "pk")?;
    Ok(FlowRecord {
        flow_id: pk.strip_prefix("FLOW#").ok_or_else(|| corrupt("pk"))?.to_owned(),
        environment_id: get_s(item, "environment_id")?.to_owned(),
        application_id: item
            .get("application_id")
            .map(|_| get_s(item, "application_id").map(str::to_owned))
            .transpose()?,
        created_ms: get_n(item, "created_ms")?,
        expires_ms: get_n(item, "expires_ms")?,
        user: get_opt_json(item, "flow_user")?,
        device: get_opt_json(item, "device")?,
        consent: match item.get("consent") {
            Some(Av::Bool(b)) => Some(*b),
            None => None,
            _ => return Err(corrupt("consent")),
        },
        code_failures: get_opt_u32(item, "code_failures")?.unwrap_or(0),
        authorize: get_opt_json(item, "authorize")?,
        resumed_ms: get_opt_n(item, "resumed_ms")?,
    })
}

/// `SET` clauses (and their values) that give a flow its starting facts unless it is stored.
pub(super) fn flow_seed(fresh: &FlowRecord) -> (String, Item) {
    let mut clauses = vec![
        "environment_id = if_not_exists(environment_id, :env)",
        "created_ms = if_not_exists(created_ms, :created)",
    ];
    let mut values =
        Item::from([(":env".to_owned(), s(&fresh.environment_id)), (":created".to_owned(), n(fresh.created_ms))]);
    if let Some(app) = &fresh.application_id {
        clauses.push("application_id = if_not_exists(application_id, :app)");
        values.insert(":app".into(), s(app));
    }
    (clauses.join(", "), values)
}

/// A whole flow item (flows of authorization requests are stored when they start).
pub(super) fn flow_item(f: &FlowRecord) -> StoreResult<Item> {
    let mut item = key(flow_pk(&f.flow_id), "FLOW");
    item.insert("environment_id".into(), s(&f.environment_id));
    if let Some(app) = &f.application_id {
        item.insert("application_id".into(), s(app));
    }
    item.insert("created_ms".into(), n(f.created_ms));
    item.insert("expires_ms".into(), n(f.expires_ms));
    item.insert(TTL_ATTRIBUTE.into(), n(f.expires_ms.div_euclid(1000) + 1));
    if let Some(u) = &f.user {
        item.insert("flow_user".into(), json(u)?);
        // A pending password change also stands on its own, for the conditions of flow writes.
        if u.must_change_password {
            item.insert("password_change".into(), Av::Bool(true));
        }
    }
    if let Some(d) = &f.device {
        item.insert("device".into(), json(d)?);
    }
    if let Some(c) = f.consent {
        item.insert("consent".into(), Av::Bool(c));
    }
    if let Some(a) = &f.authorize {
        item.insert("authorize".into(), json(a)?);
    }
    Ok(item)
}

pub(super) fn code_item(c: &CodeGrant) -> StoreResult<Item> {
    let mut item = key(code_pk(&c.grant_id), "CODE");
    item.insert("environment_id".into(), s(&c.environment_id));
    item.insert("client_id".into(), s(&c.request.client_id));
    // What a redemption is checked against, in its condition (`CodeProof`).
    item.insert("redirect_uri".into(), s(&c.request.redirect_uri));
    item.insert("issuer".into(), s(&c.request.issuer));
    item.insert("pkce".into(), s(&c.request.pkce_key()));
    item.insert("request".into(), json(&c.request)?);
    item.insert("subject".into(), json(&c.subject)?);
    item.insert("created_ms".into(), n(c.created_ms));
    item.insert(TTL_ATTRIBUTE.into(), n(c.expires_at));
    Ok(item)
}

pub(super) fn code_from(item: &Item) -> StoreResult<CodeGrant> {
    let pk = get_s(item, "pk")?;
    Ok(CodeGrant {
        grant_id: pk.strip_prefix("CODE#").ok_or_else(|| corrupt("pk"))?.to_owned(),
        environment_id: get_s(item, "environment_id")?.to_owned(),
        request: get_json(item, "request")?,
        subject: get_json(item, "subject")?,
        created_ms: get_n(item, "created_ms")?,
        expires_at: get_n(item, TTL_ATTRIBUTE)?,
        redeemed_ms: get_opt_n(item, "redeemed_ms")?,
        rt_generation: get_opt_u32(item, "rt_generation")?,
        revoked_ms: get_opt_n(item, "revoked_ms")?,
    })
}
