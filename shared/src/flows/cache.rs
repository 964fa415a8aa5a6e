//! The flows this instance last answered with, so that the next step of a flow on the same warm
//! instance need not read it back from the store. Only steps whose store write is conditional on
//! the state they expect take a flow from here (sign-on, consent and resume): a stale entry can
//! only fail that condition, and the step then answers from the stored flow, as it would have
//! after a read.
//! What such a step takes from the entry (the person, the device grant, the authorization
//! request) never changes once set, and a flow's expiry only moves later.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::store::FlowRecord;

/// Flows remembered per instance; the oldest goes first.
const CAPACITY: usize = 1024;

#[derive(Default)]
pub struct FlowCache(Mutex<Remembered>);

#[derive(Default)]
struct Remembered {
    flows: HashMap<String, FlowRecord>,
    /// Flow ids, oldest first (an id may appear again after it was remembered anew).
    order: VecDeque<String>,
}

impl FlowCache {
    /// Remembers `flow` as this instance just wrote or read it.
    pub fn remember(&self, flow: &FlowRecord) {
        let mut r = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if r.flows.insert(flow.flow_id.clone(), flow.clone()).is_none() {
            r.order.push_back(flow.flow_id.clone());
        }
        while r.flows.len() > CAPACITY {
            let Some(oldest) = r.order.pop_front() else { break };
            r.flows.remove(&oldest);
        }
    }

    /// The flow as last remembered, unless it has expired by `now_ms`.
    pub fn recall(&self, flow_id: &str, now_ms: i64) -> Option<FlowRecord> {
        let r = self.0.lock().unwrap_or_else(|p| p.into_inner());
        r.flows.get(flow_id).filter(|f| f.expires_ms > now_ms).cloned()
    }

    /// Forgets a flow that has reached its end.
    pub fn forget(&self, flow_id: &str) {
        let mut r = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if r.flows.remove(flow_id).is_some() {
            r.order.retain(|id| id != flow_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(id: &str, expires_ms: i64) -> FlowRecord {
        FlowRecord::started(id, "env", None, 0, expires_ms)
    }

    #[test]
    fn recalls_until_expiry_and_forgets_the_oldest_beyond_capacity() {
        let cache = FlowCache::default();
        cache.remember(&flow("a", 1_000));
        assert_eq!(cache.recall("a", 999).map(|f| f.expires_ms), Some(1_000));
        assert!(cache.recall("a", 1_000).is_none(), "expired");
        cache.remember(&flow("a", 5_000));
        assert_eq!(cache.recall("a", 1_000).map(|f| f.expires_ms), Some(5_000), "remembered anew");
        for i in 0..CAPACITY {
            cache.remember(&flow(&format!("f{i}"), 5_000));
        }
        assert!(cache.recall("a", 0).is_none(), "the oldest left first");
        assert!(cache.recall("f0", 0).is_some() && cache.recall(&format!("f{}", CAPACITY - 1), 0).is_some());
        cache.forget("f0");
        assert!(cache.recall("f0", 0).is_none());
    }
}
