//! Device grants in memory, held compactly: each grant as its JSON (a pending grant is about 400
//! bytes that way, against about 1 KB as a struct with its strings) and each user code as a
//! pointer to its grant, with the ids shared rather than copied. A million live grants then fit
//! in well under a GiB, and the user code leaves memory with its grant's expiry queue entry.
//! Both maps are split in shards (`Sharded`), so that no insert waits for a million-entry move.

use std::collections::HashMap;
use std::sync::Arc;

use super::sharded::Sharded;
use crate::store::{DeviceGrant, UserCodeEntry};

/// A grant as memory holds it: its poll log apart, since every poll appends to it.
struct Held {
    /// The grant without its poll log, as JSON.
    json: Box<[u8]>,
    polls: Vec<i64>,
    /// The key of its user code: environment and hash, shared with `user_codes`.
    user_code: (Arc<str>, Arc<str>),
}

/// A user code: the grant it leads to and when the code dies (the grant may outlive it).
struct Code {
    grant_id: Arc<str>,
    expires_at: i64,
}

#[derive(Default)]
pub(super) struct DeviceTable {
    grants: Sharded<Held>,
    /// User codes by environment, then by hash.
    user_codes: HashMap<Arc<str>, Sharded<Code>>,
}

/// The grant as JSON without its poll log, and the log.
fn encode(grant: DeviceGrant) -> (Box<[u8]>, Vec<i64>) {
    let polls = grant.polls;
    let grant = DeviceGrant { polls: Vec::new(), ..grant };
    (serde_json::to_vec(&grant).expect("a device grant serializes").into_boxed_slice(), polls)
}

fn decode(held: &Held) -> DeviceGrant {
    let grant: DeviceGrant = serde_json::from_slice(&held.json).expect("memory holds only grants it serialized");
    DeviceGrant { polls: held.polls.clone(), ..grant }
}

impl DeviceTable {
    /// The grant id as this table holds it (to share with an expiry queue entry).
    pub fn insert(&mut self, grant: &DeviceGrant, user_code: &UserCodeEntry) -> Arc<str> {
        let grant_id: Arc<str> = Arc::from(grant.grant_id.as_str());
        let hash: Arc<str> = Arc::from(user_code.user_code_hash.as_str());
        let env = match self.user_codes.get_key_value(user_code.environment_id.as_str()) {
            Some((env, _)) => env.clone(),
            None => Arc::from(user_code.environment_id.as_str()),
        };
        let code = Code { grant_id: grant_id.clone(), expires_at: user_code.expires_at };
        self.user_codes.entry(env.clone()).or_default().insert(hash.clone(), code);
        let (json, polls) = encode(grant.clone());
        self.grants.insert(grant_id.clone(), Held { json, polls, user_code: (env, hash) });
        grant_id
    }

    fn code(&self, environment_id: &str, user_code_hash: &str) -> Option<&Code> {
        self.user_codes.get(environment_id)?.get(user_code_hash)
    }

    pub fn contains(&self, grant_id: &str) -> bool {
        self.grants.contains_key(grant_id)
    }

    pub fn get(&self, grant_id: &str) -> Option<DeviceGrant> {
        self.grants.get(grant_id).map(decode)
    }

    /// Applies `change` to the stored grant and keeps the result.
    pub fn update<R>(&mut self, grant_id: &str, change: impl FnOnce(&mut DeviceGrant) -> R) -> Option<R> {
        let held = self.grants.get_mut(grant_id)?;
        let mut grant = decode(held);
        let answer = change(&mut grant);
        (held.json, held.polls) = encode(grant);
        Some(answer)
    }

    /// The user code entry of `user_code_hash` in `environment_id`, rebuilt from its grant (every
    /// field but the code's own expiry is the grant's as created, and those never change).
    pub fn user_code(&self, environment_id: &str, user_code_hash: &str) -> Option<UserCodeEntry> {
        let code = self.code(environment_id, user_code_hash)?;
        let grant = self.get(&code.grant_id)?;
        Some(UserCodeEntry {
            environment_id: grant.environment_id,
            user_code_hash: user_code_hash.to_owned(),
            grant_id: grant.grant_id,
            client_id: grant.client_id,
            scopes: grant.scopes,
            created_ms: grant.created_ms,
            expires_at: code.expires_at,
            requester: grant.requester,
        })
    }

    /// Whether a live code holds `user_code_hash` (dead codes stay until retired, like items
    /// past their TTL).
    pub fn user_code_live(&self, environment_id: &str, user_code_hash: &str, now_s: i64) -> bool {
        self.code(environment_id, user_code_hash).is_some_and(|c| c.expires_at >= now_s)
    }

    /// Drops the grant's user code if it died before `dead`, and the grant too if it did.
    pub fn retire(&mut self, grant_id: &str, dead: i64) {
        let Some(held) = self.grants.get(grant_id) else { return };
        let (env, hash) = held.user_code.clone();
        let grant_dead = decode(held).retained_until() < dead;
        if let Some(codes) = self.user_codes.get_mut(&env) {
            // Only its own code: a dead code's hash may have been drawn again since.
            if codes.get(&hash).is_some_and(|c| c.expires_at < dead && *c.grant_id == *grant_id) {
                codes.remove(&hash);
            }
        }
        if grant_dead {
            self.grants.remove(grant_id);
        }
    }

    /// Grants and user codes held.
    pub fn len(&self) -> usize {
        self.grants.len() + self.user_codes.values().map(Sharded::len).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Requester;

    fn grant(id: &str, expires_at: i64) -> (DeviceGrant, UserCodeEntry) {
        let grant = DeviceGrant {
            grant_id: id.into(),
            environment_id: "env".into(),
            client_id: "client".into(),
            issuer: "https://as.example/env/as".into(),
            scopes: vec!["openid".into()],
            created_ms: 1_000,
            expires_at,
            interval: 5,
            polls: Vec::new(),
            requester: Requester { ip: Some("192.0.2.1".into()), user_agent: None },
            kept_until: None,
            decision: None,
            winner: None,
            rt_generation: None,
            revoked_ms: None,
        };
        let code = UserCodeEntry {
            environment_id: "env".into(),
            user_code_hash: format!("code-of-{id}"),
            grant_id: id.into(),
            client_id: "client".into(),
            scopes: vec!["openid".into()],
            created_ms: 1_000,
            expires_at,
            requester: grant.requester.clone(),
        };
        (grant, code)
    }

    #[test]
    fn grants_and_codes_round_trip_and_leave_together() {
        let mut table = DeviceTable::default();
        let (g, c) = grant("g1", 600);
        table.insert(&g, &c);
        assert_eq!(table.get("g1"), Some(g.clone()));
        assert_eq!(table.user_code("env", "code-of-g1"), Some(c.clone()));
        assert_eq!(table.user_code("other-env", "code-of-g1"), None, "codes are per environment");
        assert!(table.user_code_live("env", "code-of-g1", 600) && !table.user_code_live("env", "code-of-g1", 601));
        assert!(!table.user_code_live("other-env", "code-of-g1", 0));

        assert_eq!(table.update("g1", |g| g.polls.push(7)), Some(()));
        assert_eq!(table.get("g1").unwrap().polls, vec![7]);
        assert_eq!(table.update("missing", |g| g.polls.push(7)), None);

        table.retire("g1", 600);
        assert_eq!(table.len(), 2, "nothing died before 600");
        table.retire("g1", 601);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn a_redeemed_grant_outlives_its_user_code() {
        let mut table = DeviceTable::default();
        let (g, c) = grant("g1", 600);
        table.insert(&g, &c);
        table.update("g1", |g| g.kept_until = Some(10_000));
        table.retire("g1", 601);
        assert!(table.get("g1").is_some() && table.user_code("env", "code-of-g1").is_none());
        assert!(!table.user_code_live("env", "code-of-g1", 0));
        table.retire("g1", 10_001);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn retiring_a_grant_leaves_a_new_grant_holding_its_old_code() {
        let mut table = DeviceTable::default();
        let (g1, c1) = grant("g1", 600);
        table.insert(&g1, &c1);
        let (g2, mut c2) = grant("g2", 2_000);
        c2.user_code_hash = c1.user_code_hash.clone();
        table.insert(&g2, &c2);
        table.retire("g1", 601);
        assert_eq!(table.user_code("env", "code-of-g1").map(|c| c.grant_id), Some("g2".to_owned()));
        assert!(table.get("g1").is_none());
    }
}
