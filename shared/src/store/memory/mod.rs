//! The embedded store: the same semantics as DynamoDB under one lock, for the local server and
//! tests. Expired items stay readable for a while, as DynamoDB's lazy TTL leaves them, then leave
//! memory through an expiry queue: each write retires what expired before it, so no request
//! pays for a sweep of every table.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

mod codes;
mod device;
mod grants;
mod sharded;

use super::*;
use crate::model::username_key;

/// Items expired longer than this are dropped (DynamoDB TTL's lag, in small).
const SWEEP_GRACE_S: i64 = 3600;

/// An item that expires, by table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Expiring {
    /// A device grant, and its user code.
    Grant(Arc<str>),
    Flow(String),
    Counter(String),
    Code(String),
    RevokedToken(String),
    Assertion(String),
    EndedSession(String, String),
}

/// A remembered consent: the scopes granted, and the token families issued under it.
type Remembered = (Vec<String>, HashSet<(GrantKind, String)>);

#[derive(Default)]
struct Tables {
    /// The directory, by key (so lists come out by kind, environment and id).
    records: BTreeMap<(Kind, String, String), Record>,
    /// Claimed unique names -> the id of the record holding each.
    names: HashMap<Name, String>,
    /// Device grants and their user codes.
    device: device::DeviceTable,
    flows: HashMap<String, FlowRecord>,
    /// Counters: key -> (count, expires_at).
    counters: HashMap<String, (i64, i64)>,
    /// Remembered consents: scopes, and the token families issued under them.
    consents: HashMap<(String, String, String), Remembered>,
    codes: HashMap<String, CodeGrant>,
    /// Revoked access tokens without a family: jti -> expires_at.
    revoked_tokens: HashMap<String, i64>,
    /// Used client assertions: key -> expires_at.
    assertions: HashMap<String, i64>,
    /// Ended sessions: (environment, session id) -> expires_at.
    ended_sessions: HashMap<(String, String), i64>,
    /// When each item expires, soonest first (an item may appear once per expiry it had).
    expiry: BinaryHeap<Reverse<(i64, Expiring)>>,
}

#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The tables, after dropping what expired more than the grace period before `now_s`.
    fn at(&self, now_s: i64) -> MutexGuard<'_, Tables> {
        let mut tables = self.lock();
        tables.retire(now_s);
        tables
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Items held (for tests of memory bounds).
    pub fn item_count(&self) -> usize {
        let t = self.lock();
        t.device.len() + t.flows.len() + t.counters.len() + t.codes.len()
    }
}

impl Tables {
    fn expires(&mut self, expires_at: i64, item: Expiring) {
        self.expiry.push(Reverse((expires_at, item)));
    }

    /// Drops items whose expiry (as they now stand) lies more than the grace before `now_s`.
    /// Each queue entry is popped once, so the work is amortised over the writes that made them.
    fn retire(&mut self, now_s: i64) {
        let dead = now_s - SWEEP_GRACE_S;
        while let Some(Reverse((at, _))) = self.expiry.peek() {
            if *at >= dead {
                break;
            }
            let Some(Reverse((_, item))) = self.expiry.pop() else { break };
            match item {
                Expiring::Grant(k) => self.device.retire(&k, dead),
                Expiring::Flow(k) => remove_if(&mut self.flows, &k, |f| f.expires_ms.div_euclid(1000) < dead),
                Expiring::Counter(k) => remove_if(&mut self.counters, &k, |(_, exp)| *exp < dead),
                Expiring::Code(k) => remove_if(&mut self.codes, &k, |c| c.expires_at < dead),
                Expiring::RevokedToken(k) => remove_if(&mut self.revoked_tokens, &k, |exp| *exp < dead),
                Expiring::Assertion(k) => remove_if(&mut self.assertions, &k, |exp| *exp < dead),
                Expiring::EndedSession(e, s) => remove_if(&mut self.ended_sessions, &(e, s), |exp| *exp < dead),
            }
        }
    }

    fn put_flow(&mut self, flow: FlowRecord) {
        self.expires(flow.expires_ms.div_euclid(1000) + 1, Expiring::Flow(flow.flow_id.clone()));
        self.flows.insert(flow.flow_id.clone(), flow);
    }

    fn remember(&mut self, env: &str, user_id: &str, client_id: &str, scopes: &[String], family: (GrantKind, &str)) {
        let key = (env.to_owned(), user_id.to_owned(), client_id.to_owned());
        let (granted, families) = self.consents.entry(key).or_default();
        for scope in scopes {
            if !granted.contains(scope) {
                granted.push(scope.clone());
            }
        }
        granted.sort();
        if !family.1.is_empty() {
            families.insert((family.0, family.1.to_owned()));
        }
    }

    fn family(&self, kind: GrantKind, grant_id: &str) -> Option<Family> {
        match kind {
            GrantKind::Device => self.device.get(grant_id).as_ref().and_then(Family::from_device),
            GrantKind::Code => self.codes.get(grant_id).and_then(Family::from_code),
        }
    }

    fn revoke(&mut self, kind: GrantKind, grant_id: &str, now_ms: i64) {
        match kind {
            GrantKind::Device => {
                self.device.update(grant_id, |g| {
                    g.revoked_ms.get_or_insert(now_ms);
                });
            }
            GrantKind::Code => {
                if let Some(c) = self.codes.get_mut(grant_id) {
                    c.revoked_ms.get_or_insert(now_ms);
                }
            }
        }
    }

    fn count(&self, counter: &Counter) -> i64 {
        self.counters.get(&counter.key).map_or(0, |(n, _)| *n)
    }

    /// The indexes of the counters at their limit.
    fn at_limit(&self, counters: &[Counter]) -> Vec<usize> {
        counters
            .iter()
            .enumerate()
            .filter(|(_, c)| c.below.is_some_and(|below| self.count(c) >= i64::from(below)))
            .map(|(i, _)| i)
            .collect()
    }

    fn add(&mut self, counters: &[Counter], delta: i64) {
        for counter in counters {
            let entry = self.counters.entry(counter.key.clone()).or_insert((0, counter.expires_at));
            entry.0 += delta;
            let expires_at = entry.1;
            self.expires(expires_at, Expiring::Counter(counter.key.clone()));
        }
    }
}

fn remove_if<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: &K, dead: impl Fn(&V) -> bool) {
    if map.get(key).is_some_and(dead) {
        map.remove(key);
    }
}

fn record_key(key: &RecordKey) -> (Kind, String, String) {
    (key.kind, key.environment_id.clone(), key.id.clone())
}

impl Tables {
    fn holds(&self, write: &Write) -> bool {
        let stands = |key: &RecordKey, expect: &Expect| {
            let found = self.records.get(&record_key(key));
            match expect {
                Expect::Absent => found.is_none(),
                Expect::Revision(r) => found.is_some_and(|rec| rec.revision() == *r),
                Expect::Any => true,
            }
        };
        match write {
            Write::Put(record, expect) => stands(&record.key(), expect),
            Write::Delete(key, expect) => stands(key, expect),
            Write::Claim(name, owner) => self.names.get(name).is_none_or(|held| held == owner),
            Write::Release(name, owner) => self.names.get(name).is_none_or(|held| held == owner),
        }
    }

    fn write(&mut self, write: &Write) {
        match write {
            Write::Put(record, _) => {
                self.records.insert(record_key(&record.key()), record.clone());
            }
            Write::Delete(key, _) => {
                self.records.remove(&record_key(key));
            }
            Write::Claim(name, owner) => {
                self.names.insert(name.clone(), owner.clone());
            }
            Write::Release(name, owner) => {
                if self.names.get(name) == Some(owner) {
                    self.names.remove(name);
                }
            }
        }
    }

    fn user(&self, environment_id: &str, user_id: &str) -> Option<User> {
        match self.records.get(&(Kind::User, environment_id.to_owned(), user_id.to_owned())) {
            Some(Record::User(u)) => Some(u.clone()),
            _ => None,
        }
    }
}

#[async_trait]
impl DirectoryStore for MemoryStore {
    async fn get_record(&self, key: &RecordKey) -> StoreResult<Option<Record>> {
        Ok(self.lock().records.get(&record_key(key)).cloned())
    }

    async fn list_records(&self, environment_id: &str, kind: Kind) -> StoreResult<Vec<Record>> {
        let tables = self.lock();
        Ok(tables
            .records
            .iter()
            .filter(|((k, env, _), _)| *k == kind && (kind == Kind::Environment || env == environment_id))
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn apply(&self, writes: &[Write]) -> StoreResult<Applied> {
        if writes.len() > MAX_WRITES {
            return Err(StoreError::Unavailable(format!("a change holds at most {MAX_WRITES} writes")));
        }
        let mut tables = self.lock();
        if let Some(i) = writes.iter().position(|w| !tables.holds(w)) {
            return Ok(Applied::Conflict(i));
        }
        for write in writes {
            tables.write(write);
        }
        Ok(Applied::Applied)
    }

    async fn find_user(&self, environment_id: &str, username: &str) -> StoreResult<Option<User>> {
        let name =
            Name { environment_id: environment_id.to_owned(), kind: NameKind::Username, value: username_key(username) };
        let tables = self.lock();
        Ok(tables.names.get(&name).and_then(|id| tables.user(environment_id, id)))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn session_user(&self, environment_id: &str, user_id: &str, session_id: &str) -> StoreResult<Option<User>> {
        let tables = self.lock();
        if tables.ended_sessions.contains_key(&(environment_id.to_owned(), session_id.to_owned())) {
            return Ok(None);
        }
        Ok(tables.user(environment_id, user_id))
    }

    async fn end_session(&self, environment_id: &str, session_id: &str, expires_at: i64) -> StoreResult<()> {
        let mut tables = self.lock();
        let key = (environment_id.to_owned(), session_id.to_owned());
        tables.ended_sessions.insert(key.clone(), expires_at);
        tables.expires(expires_at, Expiring::EndedSession(key.0, key.1));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn memory_store_meets_the_contract() {
        super::super::contract::run_all(Arc::new(MemoryStore::new())).await;
    }

    /// Probe finding F11: expired items leave memory as later writes come, each write retiring
    /// what expired before it (no sweep over every table).
    #[tokio::test]
    async fn expired_items_leave_memory() {
        let store = MemoryStore::new();
        let now_s = 1_800_000_000;
        for i in 0..1000 {
            let counter = Counter { key: format!("k{i}"), expires_at: now_s + 60, below: None };
            store.reserve(&[counter]).await.unwrap();
        }
        assert_eq!(store.item_count(), 1000);
        let flow = FlowRecord::started("f", "e", None, (now_s + 60 + SWEEP_GRACE_S + 1) * 1000, 600_000);
        store.create_flow(&flow).await.unwrap();
        assert_eq!(store.item_count(), 1, "the counters expired past the grace period are gone");
        assert_eq!(store.lock().expiry.len(), 1, "and so are their queue entries");
    }
}
