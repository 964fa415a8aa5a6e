//! Settings, read once at start from the environment and validated, so a misconfigured function
//! fails at cold start with a message instead of mid-request.

use base64::engine::general_purpose::STANDARD as B64_STD;
use base64::Engine;

/// The environment id of the PingFederate-style routes (and of the demo data).
pub const DEFAULT_ENVIRONMENT_ID: &str = "00000000-0000-4000-8000-000000000001";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreSettings {
    /// The embedded in-memory store (local server, tests).
    Memory,
    /// DynamoDB table, optionally at a local endpoint.
    DynamoDb { table: String, endpoint_url: Option<String> },
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// Scheme, host and optional base path that clients use, without a trailing slash:
    /// `http://127.0.0.1:8080` locally, the API Gateway URL or custom domain in AWS.
    pub public_base_url: String,
    pub default_environment_id: String,
    pub store: StoreSettings,
    /// How long an instance trusts its cached copy of an environment's applications, ms.
    pub directory_cache_ms: i64,
    /// The Secrets Manager secret holding the server secrets (`SERVER_SECRET_ID`, name or ARN;
    /// see `crate::secrets`). When set, the variables below that hold secrets must not be.
    pub server_secret_id: Option<String>,
    /// The secret version to use (`SERVER_SECRET_VERSION`, set by a deploy after a key rotation
    /// step so that every function uses the same keys); `None`: the current version.
    pub server_secret_version: Option<String>,
    /// A local Secrets Manager-compatible endpoint (`SECRETS_MANAGER_ENDPOINT_URL`, tests).
    pub secrets_endpoint_url: Option<String>,
    /// The HMAC key for codes and secrets (`HASH_KEY`, base64, at least 32 bytes).
    pub hash_key: Option<Vec<u8>>,
    /// PKCS#8 PEM signing keys (`ES256_PRIVATE_KEY`, `RS256_PRIVATE_KEY`).
    pub signing_keys: Option<(String, String)>,
    /// Keys replaced by a rotation, still published (`PREVIOUS_ES256_PRIVATE_KEY`,
    /// `PREVIOUS_RS256_PRIVATE_KEY`).
    pub previous_signing_keys: Vec<String>,
    /// PingFederate's server-wide `bypassActivationCodeConfirmation`.
    pub bypass_activation_code_confirmation: bool,
    /// PingFederate's server-wide "Bypass Authorization Approval" (for grants already approved).
    pub bypass_authorization_approval: bool,
    /// Ours, for tests and laptops (`JWKS_ALLOW_LOOPBACK`): a client's `jwksUrl` may be plain http
    /// on a loopback address. Otherwise only https.
    pub jwks_allow_loopback: bool,
    /// Ours (`MTLS_BASE_URL`): the base URL of a mutual-TLS domain serving the same API (the
    /// template's custom domain with `MutualTlsTruststoreUri`); discovery then publishes
    /// `mtls_endpoint_aliases` there (RFC 8705 §5). `None`: no such domain.
    pub mtls_base_url: Option<String>,
    /// Ours: the device authorization rate limits (see `DeviceAuthorizationLimits`).
    pub device_authorization_limits: DeviceAuthorizationLimits,
    /// Ours, opt-in (`FLOW_API_HOLDS_VERIFIED_CODES`): a user code verified on the flow API goes
    /// to the client to hold in a cookie until consent instead of being written on the flow
    /// (`flows::verified`; one store request less). Off, the flow API asks nothing of a client
    /// that PingOne does not; the hosted pages (a browser) always hold the code.
    pub flow_api_holds_verified_codes: bool,
}

/// Device authorization requests allowed per minute (`DEVICE_AUTHORIZATION_PER_NETWORK_PER_MINUTE`,
/// `DEVICE_AUTHORIZATION_PER_CLIENT_PER_MINUTE`); `None` (the variable set to 0): no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceAuthorizationLimits {
    /// Per network (an IPv4 address, an IPv6 /64).
    pub per_network: Option<u32>,
    /// Per application.
    pub per_client: Option<u32>,
}

impl Default for DeviceAuthorizationLimits {
    fn default() -> Self {
        Self { per_network: Some(20), per_client: Some(600) }
    }
}

impl Settings {
    /// Settings from environment variables (documented in the README).
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let public_base_url = get("PUBLIC_BASE_URL")
            .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned())
            .trim_end_matches('/')
            .to_owned();
        if public_base_url.is_empty() {
            return Err("PUBLIC_BASE_URL is empty: set it to the URL clients use (after a first deploy, the \
                        stack's ApiUrl output: sam deploy --parameter-overrides PublicBaseUrl=...)"
                .into());
        }
        if !(public_base_url.starts_with("https://") || public_base_url.starts_with("http://")) {
            return Err(format!("PUBLIC_BASE_URL must be an http(s) URL, got '{public_base_url}'"));
        }
        let store = match get("STORE").as_deref().unwrap_or("memory") {
            "memory" => StoreSettings::Memory,
            "dynamodb" => StoreSettings::DynamoDb {
                table: get("TABLE_NAME").ok_or("STORE=dynamodb needs TABLE_NAME")?,
                endpoint_url: get("DYNAMODB_ENDPOINT_URL"),
            },
            other => return Err(format!("STORE must be 'memory' or 'dynamodb', got '{other}'")),
        };
        let hash_key = match get("HASH_KEY") {
            Some(b64) => {
                let key = B64_STD.decode(b64.trim()).map_err(|_| "HASH_KEY must be base64")?;
                if key.len() < 32 {
                    return Err("HASH_KEY must hold at least 32 bytes".into());
                }
                Some(key)
            }
            None => None,
        };
        let signing_keys = match (get("ES256_PRIVATE_KEY"), get("RS256_PRIVATE_KEY")) {
            (Some(es), Some(rs)) => Some((es, rs)),
            (None, None) => None,
            _ => return Err("set both ES256_PRIVATE_KEY and RS256_PRIVATE_KEY, or neither".into()),
        };
        let server_secret_id = get("SERVER_SECRET_ID").filter(|id| !id.is_empty());
        if server_secret_id.is_some() && (hash_key.is_some() || signing_keys.is_some()) {
            return Err(
                "SERVER_SECRET_ID holds the server secrets: unset HASH_KEY and the *_PRIVATE_KEY variables".into()
            );
        }
        let directory_cache_ms = match get("DIRECTORY_CACHE_SECONDS") {
            Some(v) => v.parse::<i64>().map_err(|_| "DIRECTORY_CACHE_SECONDS must be a number")? * 1000,
            None => 60_000,
        };
        let flag = |name: &str| -> Result<bool, String> {
            match get(name).as_deref() {
                None | Some("false") | Some("0") | Some("") => Ok(false),
                Some("true") | Some("1") => Ok(true),
                Some(other) => Err(format!("{name} must be true or false, got '{other}'")),
            }
        };
        let per_minute = |name: &str, default: Option<u32>| -> Result<Option<u32>, String> {
            match get(name) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<u32>() {
                    Ok(0) => Ok(None),
                    Ok(n) => Ok(Some(n)),
                    Err(_) => {
                        Err(format!("{name} must be a whole number of requests per minute (0: no limit), got '{v}'"))
                    }
                },
            }
        };
        let defaults = DeviceAuthorizationLimits::default();
        let device_authorization_limits = DeviceAuthorizationLimits {
            per_network: per_minute("DEVICE_AUTHORIZATION_PER_NETWORK_PER_MINUTE", defaults.per_network)?,
            per_client: per_minute("DEVICE_AUTHORIZATION_PER_CLIENT_PER_MINUTE", defaults.per_client)?,
        };
        let previous_signing_keys =
            ["PREVIOUS_ES256_PRIVATE_KEY", "PREVIOUS_RS256_PRIVATE_KEY"].iter().filter_map(|name| get(name)).collect();
        Ok(Self {
            previous_signing_keys,
            device_authorization_limits,
            bypass_activation_code_confirmation: flag("BYPASS_ACTIVATION_CODE_CONFIRMATION")?,
            bypass_authorization_approval: flag("BYPASS_AUTHORIZATION_APPROVAL")?,
            jwks_allow_loopback: flag("JWKS_ALLOW_LOOPBACK")?,
            flow_api_holds_verified_codes: flag("FLOW_API_HOLDS_VERIFIED_CODES")?,
            mtls_base_url: get("MTLS_BASE_URL").map(|u| u.trim_end_matches('/').to_owned()).filter(|u| !u.is_empty()),
            public_base_url,
            default_environment_id: get("DEFAULT_ENVIRONMENT_ID").unwrap_or_else(|| DEFAULT_ENVIRONMENT_ID.to_owned()),
            store,
            directory_cache_ms,
            server_secret_id,
            secrets_endpoint_url: get("SECRETS_MANAGER_ENDPOINT_URL"),
            server_secret_version: get("SERVER_SECRET_VERSION").filter(|v| !v.is_empty()),
            hash_key,
            signing_keys,
        })
    }

    /// Whether a client's `jwksUrl` may be fetched: https, or loopback http when allowed.
    pub fn jwks_url_allowed(&self, url: &str) -> bool {
        let Ok(url) = url::Url::parse(url) else { return false };
        match (url.scheme(), url.host()) {
            ("https", Some(_)) => true,
            ("http", Some(url::Host::Ipv4(ip))) => self.jwks_allow_loopback && ip.is_loopback(),
            ("http", Some(url::Host::Ipv6(ip))) => self.jwks_allow_loopback && ip.is_loopback(),
            _ => false,
        }
    }

    /// Whether cookies may drop `Secure`: only for plain-http loopback development.
    pub fn insecure_loopback(&self) -> bool {
        self.public_base_url.starts_with("http://127.0.0.1") || self.public_base_url.starts_with("http://localhost")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_local_server() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.public_base_url, "http://127.0.0.1:8080");
        assert_eq!(s.store, StoreSettings::Memory);
        assert_eq!(s.default_environment_id, DEFAULT_ENVIRONMENT_ID);
        assert!(s.insecure_loopback());
    }

    #[test]
    fn bad_settings_say_what_to_fix() {
        assert!(settings(&[("STORE", "dynamodb")]).unwrap_err().contains("TABLE_NAME"));
        assert!(settings(&[("STORE", "redis")]).unwrap_err().contains("memory"));
        assert!(settings(&[("HASH_KEY", "c2hvcnQ=")]).unwrap_err().contains("32 bytes"));
        assert!(settings(&[("ES256_PRIVATE_KEY", "x")]).unwrap_err().contains("both"));
        let both = [("SERVER_SECRET_ID", "s"), ("HASH_KEY", "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=")];
        assert!(settings(&both).unwrap_err().contains("unset HASH_KEY"));
        assert_eq!(settings(&both[..1]).unwrap().server_secret_id.as_deref(), Some("s"));
        assert!(settings(&[("PUBLIC_BASE_URL", "ftp://x")]).unwrap_err().contains("http"));
        assert!(settings(&[("PUBLIC_BASE_URL", "")]).unwrap_err().contains("ApiUrl"));
        assert!(settings(&[("BYPASS_AUTHORIZATION_APPROVAL", "yes")]).unwrap_err().contains("true or false"));
        assert!(settings(&[("BYPASS_AUTHORIZATION_APPROVAL", "true")]).unwrap().bypass_authorization_approval);
        let s =
            settings(&[("PUBLIC_BASE_URL", "https://auth.example.com/"), ("STORE", "dynamodb"), ("TABLE_NAME", "t")])
                .unwrap();
        assert_eq!(s.public_base_url, "https://auth.example.com");
        assert!(!s.insecure_loopback());
    }

    #[test]
    fn device_authorization_limits_default_and_switch_off() {
        assert_eq!(settings(&[]).unwrap().device_authorization_limits, DeviceAuthorizationLimits::default());
        let s = settings(&[
            ("DEVICE_AUTHORIZATION_PER_NETWORK_PER_MINUTE", "0"),
            ("DEVICE_AUTHORIZATION_PER_CLIENT_PER_MINUTE", "5000"),
        ])
        .unwrap();
        assert_eq!(
            s.device_authorization_limits,
            DeviceAuthorizationLimits { per_network: None, per_client: Some(5000) }
        );
        let bad = settings(&[("DEVICE_AUTHORIZATION_PER_CLIENT_PER_MINUTE", "-1")]).unwrap_err();
        assert!(bad.contains("DEVICE_AUTHORIZATION_PER_CLIENT_PER_MINUTE") && bad.contains("0: no limit"), "{bad}");
    }
}
