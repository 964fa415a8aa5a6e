//! Everything a handler needs, built once per process (Lambda cold start or local server start).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::audit::{self, Action, AuditSink, LogSink, Status};
use crate::clock::{Clock, OsRandom, Random, SystemClock};
use crate::config::{Settings, StoreSettings};
use crate::hashing::Hasher;
use crate::model::Application;
use crate::store::dynamodb::DynamoStore;
use crate::store::memory::MemoryStore;
use crate::store::{Store, StoreResult};
use crate::tokens::Signer;

/// The two API dialects served over one core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Multi-tenant routes under `/{envId}/...`.
    PingOne,
    /// Single-tenant routes on the default environment (`/as/*.oauth2`).
    PingFederate,
}

/// The OAuth endpoints, for the one URL builder (`App::endpoint_url`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Authorize,
    Token,
    Userinfo,
    Jwks,
    Introspect,
    Revoke,
    Signoff,
    DeviceAuthorization,
}

impl Endpoint {
    /// The path under a PingOne issuer, and PingFederate's path under the base URL.
    fn paths(self) -> (&'static str, &'static str) {
        match self {
            Endpoint::Authorize => ("authorize", "/as/authorization.oauth2"),
            Endpoint::Token => ("token", "/as/token.oauth2"),
            Endpoint::Userinfo => ("userinfo", "/idp/userinfo.openid"),
            Endpoint::Jwks => ("jwks", "/pf/JWKS"),
            Endpoint::Introspect => ("introspect", "/as/introspect.oauth2"),
            Endpoint::Revoke => ("revoke", "/as/revoke_token.oauth2"),
            Endpoint::Signoff => ("signoff", "/idp/init_logout.openid"),
            Endpoint::DeviceAuthorization => ("device_authorization", "/as/device_authz.oauth2"),
        }
    }
}

fn endpoint_url_at(base: &str, dialect: Dialect, environment_id: &str, endpoint: Endpoint) -> String {
    let (pingone, pingfederate) = endpoint.paths();
    match dialect {
        Dialect::PingOne => format!("{base}/{environment_id}/as/{pingone}"),
        Dialect::PingFederate => format!("{base}{pingfederate}"),
    }
}

/// Per-environment application lists with the time they were loaded, ms.
type DirectoryCache = HashMap<String, (i64, Arc<Vec<Application>>)>;

/// Environments an instance keeps applications for. Any UUID routes, so without a bound every
/// probed environment id would stay in memory for good.
pub const MAX_CACHED_ENVIRONMENTS: usize = 1000;

pub struct App {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub hasher: Hasher,
    pub signer: Signer,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    /// Where audit events go (the log stream unless `with_audit` says otherwise).
    pub audit: Arc<dyn AuditSink>,
    directory: Mutex<DirectoryCache>,
    /// The keys of clients that register a `jwksUrl`.
    pub jwks: crate::client_auth::jwks::JwksCache,
    /// The discovery documents, built at first use.
    pub discovery: crate::endpoints::discovery::Documents,
    /// The flows this instance answered with last (`flows::cache`).
    pub flows: crate::flows::cache::FlowCache,
}

impl App {
    pub fn new(
        settings: Settings,
        store: Arc<dyn Store>,
        hasher: Hasher,
        signer: Signer,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Self {
        let audit: Arc<dyn AuditSink> = Arc::new(LogSink);
        Self {
            settings,
            store,
            hasher,
            signer,
            clock,
            random,
            audit,
            directory: Mutex::new(HashMap::new()),
            jwks: Default::default(),
            discovery: Default::default(),
            flows: Default::default(),
        }
    }

    /// The same app with audit events going to `sink`.
    pub fn with_audit(self, sink: Arc<dyn AuditSink>) -> Self {
        Self { audit: sink, ..self }
    }

    /// An audit event of `action` in `environment_id`, now; `.emit()` records it.
    pub fn audit(&self, environment_id: &str, action: Action, status: Status, description: &str) -> audit::Event<'_> {
        audit::event(&self.audit, self.clock.now_ms(), environment_id, action, status, description)
    }

    /// The production wiring: store, server secrets (`crate::secrets`) and clock from `settings`.
    /// Generated secrets are only allowed on the memory store, whose data dies with the process.
    pub async fn from_settings(settings: Settings) -> Result<Self, String> {
        let store: Arc<dyn Store> = match &settings.store {
            StoreSettings::Memory => Arc::new(MemoryStore::new()),
            StoreSettings::DynamoDb { table, endpoint_url } => {
                Arc::new(DynamoStore::new(DynamoStore::client(endpoint_url.as_deref())?, table))
            }
        };
        let ephemeral_allowed = settings.store == StoreSettings::Memory;
        let (hasher, signer) = crate::secrets::server_keys(&settings, ephemeral_allowed).await?;
        Ok(Self::new(settings, store, hasher, signer, Arc::new(SystemClock), Arc::new(OsRandom)))
    }

    /// The claims of an access token this server signed that is unexpired by this app's clock
    /// (`Signer::verify` checks expiry against the system time; tests run a manual clock).
    pub fn verify_token(&self, token: &str) -> Option<serde_json::Value> {
        let claims = self.signer.verify(token)?;
        let live = claims.get("exp").and_then(serde_json::Value::as_i64).is_some_and(|exp| exp > self.clock.now_s());
        live.then_some(claims)
    }

    /// The issuer identifier (RFC 8414 §2) of an environment in a dialect (on the public base URL,
    /// also for requests that came through the mutual-TLS domain: RFC 8705 §5).
    pub fn issuer(&self, dialect: Dialect, environment_id: &str) -> String {
        match dialect {
            Dialect::PingOne => format!("{}/{environment_id}/as", self.settings.public_base_url),
            Dialect::PingFederate => self.settings.public_base_url.clone(),
        }
    }

    /// The URL of an endpoint of an environment in a dialect.
    pub fn endpoint_url(&self, dialect: Dialect, environment_id: &str, endpoint: Endpoint) -> String {
        endpoint_url_at(&self.settings.public_base_url, dialect, environment_id, endpoint)
    }

    /// The URL of an endpoint on the mutual-TLS domain (`MTLS_BASE_URL`), when there is one.
    pub fn mtls_endpoint_url(&self, dialect: Dialect, environment_id: &str, endpoint: Endpoint) -> Option<String> {
        let base = self.settings.mtls_base_url.as_deref()?;
        Some(endpoint_url_at(base, dialect, environment_id, endpoint))
    }

    /// Every application of an environment, from this instance's cache while it is fresh.
    /// Applications change rarely and are read on every request, so one query per instance per
    /// `directory_cache_ms` keeps polls at one store request.
    pub async fn applications(&self, environment_id: &str) -> StoreResult<Arc<Vec<Application>>> {
        let now = self.clock.now_ms();
        if let Some((loaded, apps)) = self.lock_directory().get(environment_id) {
            if now - loaded < self.settings.directory_cache_ms {
                return Ok(apps.clone());
            }
        }
        let apps = Arc::new(self.store.list_applications(environment_id).await?);
        let mut cache = self.lock_directory();
        if cache.len() >= MAX_CACHED_ENVIRONMENTS {
            // Stale entries go first; if all are fresh, the oldest. Bounded work: the cap.
            cache.retain(|_, (loaded, _)| now - *loaded < self.settings.directory_cache_ms);
            if cache.len() >= MAX_CACHED_ENVIRONMENTS {
                if let Some(oldest) = cache.iter().min_by_key(|(_, (loaded, _))| *loaded).map(|(k, _)| k.clone()) {
                    cache.remove(&oldest);
                }
            }
        }
        cache.insert(environment_id.to_owned(), (now, apps.clone()));
        Ok(apps)
    }

    /// Environments whose applications this instance holds (for tests of the bound).
    pub fn cached_environments(&self) -> usize {
        self.lock_directory().len()
    }

    /// The enabled application with this client id.
    pub async fn application(&self, environment_id: &str, client_id: &str) -> StoreResult<Option<Application>> {
        let apps = self.applications(environment_id).await?;
        Ok(apps.iter().find(|a| a.client_id == client_id && a.enabled).cloned())
    }

    /// The enabled application named by a client id or its `devicePathId`.
    pub async fn application_by_identifier(
        &self,
        environment_id: &str,
        identifier: &str,
    ) -> StoreResult<Option<Application>> {
        let apps = self.applications(environment_id).await?;
        // A client id first: a `devicePathId` never takes the place of an application's id.
        let by_id = apps.iter().find(|a| a.client_id == identifier);
        let found = by_id.or_else(|| apps.iter().find(|a| a.device_path_id.as_deref() == Some(identifier)));
        Ok(found.filter(|a| a.enabled).cloned())
    }

    /// Forgets cached applications (after a management write in this instance).
    pub fn invalidate_applications(&self, environment_id: &str) {
        self.lock_directory().remove(environment_id);
    }

    fn lock_directory(&self) -> std::sync::MutexGuard<'_, DirectoryCache> {
        self.directory.lock().unwrap_or_else(|p| p.into_inner())
    }
}
