//! A map split into `SHARDS` maps by a hash of the key. A `HashMap` doubles its table when it
//! fills, moving every entry at once, under the memory store's lock: at a million device grants
//! that one move stalls every request for tens of milliseconds (the benchmark's p99 spikes). Split,
//! each doubling moves a 64th of the entries, and the doublings of the shards come one at a time.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

const SHARDS: usize = 64;

pub(super) struct Sharded<V> {
    /// Picks the shard; independent of the shards' own hashers, so that a shard's keys spread
    /// over its buckets as well as the keys of an unsplit map would.
    pick: RandomState,
    shards: Box<[HashMap<Arc<str>, V>]>,
}

impl<V> Default for Sharded<V> {
    fn default() -> Self {
        Self { pick: RandomState::new(), shards: (0..SHARDS).map(|_| HashMap::new()).collect() }
    }
}

impl<V> Sharded<V> {
    fn shard(&self, key: &str) -> usize {
        (self.pick.hash_one(key) % SHARDS as u64) as usize
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.shards[self.shard(key)].get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let shard = self.shard(key);
        self.shards[shard].get_mut(key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Keeps `value` at `key`, replacing what was there.
    pub fn insert(&mut self, key: Arc<str>, value: V) {
        let shard = self.shard(&key);
        self.shards[shard].insert(key, value);
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        let shard = self.shard(key);
        self.shards[shard].remove(key)
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(HashMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_one_map_and_spreads_its_keys() {
        let mut map = Sharded::default();
        for i in 0..10_000 {
            map.insert(Arc::from(format!("key-{i}")), i);
        }
        map.insert(Arc::from("key-7"), -7);
        assert_eq!(map.len(), 10_000);
        assert_eq!(map.get("key-7"), Some(&-7));
        assert_eq!(map.get("key-10000"), None);
        *map.get_mut("key-8").unwrap() += 1;
        assert_eq!(map.remove("key-8"), Some(9));
        assert!(!map.contains_key("key-8") && map.contains_key("key-9"));
        assert_eq!(map.len(), 9_999);
        let fullest = map.shards.iter().map(HashMap::len).max().unwrap();
        assert!(fullest < 2 * 10_000 / SHARDS, "no shard holds twice its share: {fullest}");
    }
}
