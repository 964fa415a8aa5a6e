//! The keys of clients that register a `jwksUrl`: fetched over https (loopback http only when
//! `JWKS_ALLOW_LOOPBACK` says so) with a timeout and a size limit, cached per instance, and
//! fetched again early, at most once per cooldown, when an assertion names a `kid` the cached
//! set lacks (the client rotated its keys).
//!
//! The URL is set by an administrator, not by the caller; a caller can at most make an instance
//! refetch once per `REFETCH_COOLDOWN_S` per URL by presenting unknown `kid`s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::jws::{parse_jwks, Jwk};
use crate::config::Settings;

/// How long a fetched JWKS is used, seconds.
pub const FRESH_S: i64 = 300;
/// The least time between two fetches of one URL, seconds (also how long a failure is kept).
pub const REFETCH_COOLDOWN_S: i64 = 10;
/// The longest a fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest JWKS document accepted, bytes.
pub const MAX_BYTES: usize = 64 * 1024;
/// URLs an instance keeps keys for.
const MAX_ENTRIES: usize = 1000;

type HttpsClient =
    Client<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>, Empty<Bytes>>;

struct Entry {
    fetched_s: i64,
    keys: Result<Arc<Vec<Jwk>>, String>,
}

#[derive(Default)]
pub struct JwksCache {
    entries: Mutex<HashMap<String, Entry>>,
    client: OnceLock<Result<HttpsClient, String>>,
}

impl JwksCache {
    /// The keys at `url`, from the cache while fresh; fetched again when `kid` is given and the
    /// cached keys lack it, unless the last fetch was within the cooldown. `Err` says why there
    /// are no keys (for the log, never the client).
    pub async fn keys(
        &self,
        settings: &Settings,
        url: &str,
        kid: Option<&str>,
        now_s: i64,
    ) -> Result<Arc<Vec<Jwk>>, String> {
        if !settings.jwks_url_allowed(url) {
            return Err("jwksUrl is not https (or loopback http with JWKS_ALLOW_LOOPBACK)".into());
        }
        if let Some(entry) = self.lock().get(url) {
            let age = now_s - entry.fetched_s;
            let lacks_kid =
                |keys: &Arc<Vec<Jwk>>| kid.is_some_and(|k| !keys.iter().any(|j| j.kid.as_deref() == Some(k)));
            let usable = match &entry.keys {
                Ok(keys) => age < FRESH_S && (!lacks_kid(keys) || age < REFETCH_COOLDOWN_S),
                Err(_) => age < REFETCH_COOLDOWN_S,
            };
            if usable {
                return entry.keys.clone();
            }
        }
        let keys = self.fetch(url).await.map(Arc::new);
        if let Err(reason) = &keys {
            tracing::warn!(jwks_url = url, reason = reason.as_str(), "could not fetch a client's JWKS");
        }
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(url) {
            entries.retain(|_, e| now_s - e.fetched_s < FRESH_S);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(url.to_owned(), Entry { fetched_s: now_s, keys: keys.clone() });
        keys
    }

    async fn fetch(&self, url: &str) -> Result<Vec<Jwk>, String> {
        let client = self.client.get_or_init(build_client).as_ref().map_err(Clone::clone)?;
        let uri: http::Uri = url.parse().map_err(|_| "jwksUrl is not a valid URI".to_owned())?;
        let request = http::Request::get(uri)
            .header(http::header::ACCEPT, "application/json, application/jwk-set+json")
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let fetch = async {
            let response = client.request(request).await.map_err(|e| format!("request failed: {e}"))?;
            if response.status() != http::StatusCode::OK {
                return Err(format!("answered {} (redirects are not followed)", response.status()));
            }
            let body = Limited::new(response.into_body(), MAX_BYTES)
                .collect()
                .await
                .map_err(|_| format!("the document is larger than {MAX_BYTES} bytes or broke off"))?;
            parse_jwks(&body.to_bytes())
        };
        tokio::time::timeout(FETCH_TIMEOUT, fetch)
            .await
            .map_err(|_| format!("no answer within {} s", FETCH_TIMEOUT.as_secs()))?
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn build_client() -> Result<HttpsClient, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(|e| format!("no trust roots for https: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}
