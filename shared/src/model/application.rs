//! Applications (OAuth clients) with PingOne's property names (PING-MGMT §5), their secrets and
//! the role assignments of worker applications.

use serde::{Deserialize, Serialize};

use super::directory::RoleAssignment;
use crate::hashing::Hasher;

/// PingOne `grantTypes` values (PING-COMPAT §6) this server implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GrantType {
    AuthorizationCode,
    DeviceCode,
    RefreshToken,
    ClientCredentials,
}

/// PingOne `tokenEndpointAuthMethod` values, and ours for the mutual-TLS methods PingOne lacks
/// (`TLS_CLIENT_AUTH`: PingFederate's `CERTIFICATE`; `SELF_SIGNED_TLS_CLIENT_AUTH`: RFC 8705
/// §2.2). `client_auth::authenticate` has one verifier per method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenEndpointAuthMethod {
    None,
    ClientSecretBasic,
    ClientSecretPost,
    ClientSecretJwt,
    PrivateKeyJwt,
    TlsClientAuth,
    SelfSignedTlsClientAuth,
}

impl TokenEndpointAuthMethod {
    /// Whether the method proves a client secret (so the application has one).
    pub fn uses_secret(self) -> bool {
        use TokenEndpointAuthMethod::*;
        matches!(self, ClientSecretBasic | ClientSecretPost | ClientSecretJwt)
    }

    /// The RFC 8414 / RFC 7591 name.
    pub fn rfc_name(self) -> &'static str {
        use TokenEndpointAuthMethod::*;
        match self {
            None => "none",
            ClientSecretBasic => "client_secret_basic",
            ClientSecretPost => "client_secret_post",
            ClientSecretJwt => "client_secret_jwt",
            PrivateKeyJwt => "private_key_jwt",
            TlsClientAuth => "tls_client_auth",
            SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }
}

/// PingOne `pkceEnforcement` (PING-COMPAT §3.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PkceEnforcement {
    #[default]
    Optional,
    Required,
    S256Required,
}

/// PingOne application `type` (PING-MGMT §5.2). `SERVICE` and the system-only types are not
/// accepted here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppType {
    WebApp,
    NativeApp,
    SinglePageApp,
    Worker,
    #[default]
    CustomApp,
}

/// Signature algorithm of the tokens issued to an application.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlg {
    #[default]
    ES256,
    RS256,
}

/// An application's client secret, encrypted at rest (`Hasher::encrypt`): PingOne's
/// `GET .../secret` gives it back, so a hash alone cannot serve (PING-MGMT §5.5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecret {
    pub current: String,
    /// The secret before the last rotation, valid until `expires_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousSecret>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviousSecret {
    pub secret: String,
    pub expires_ms: i64,
}

/// An OAuth client. `client_id` is PingOne's application `id`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub environment_id: String,
    pub client_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub enabled: bool,
    #[serde(default, rename = "type")]
    pub app_type: AppType,
    pub grant_types: Vec<GrantType>,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// The client secret, encrypted; `None` for public clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    /// Scopes the application may request; a request outside them is `invalid_scope`.
    pub scopes: Vec<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Where the browser may return after signing off (`postLogoutRedirectUris`, exact match).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Lifetime of device and user codes, seconds (`deviceTimeout`, 1..=3600).
    pub device_timeout: u32,
    /// Minimum seconds between polls (`devicePollingInterval`, 1..=60).
    pub device_polling_interval: u32,
    /// Short path segment for `/{envId}/device/{devicePathId}`, unique in the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_path_id: Option<String>,
    /// Number of characters of the user code (6..=12; shown in groups of four).
    pub user_code_length: u8,
    #[serde(default)]
    pub token_signing_alg: SigningAlg,
    /// Access and ID token lifetime, seconds.
    pub access_token_lifetime: u32,
    /// Refresh token lifetime, seconds (`refreshTokenDuration`).
    pub refresh_token_lifetime: u32,
    /// Longest a refresh token family lives, seconds (`refreshTokenRollingDuration`).
    #[serde(default = "default_rolling_duration")]
    pub refresh_token_rolling_duration: u32,
    /// Skip the confirmation of a code that came in the link (PingFederate
    /// `bypassActivationCodeConfirmationOverride`).
    #[serde(default)]
    pub bypass_activation_code_confirmation: bool,
    /// Skip the approval page when the user already granted these scopes (PingFederate
    /// `bypassApprovalPage`).
    #[serde(default)]
    pub bypass_approval_page: bool,
    #[serde(default)]
    pub pkce_enforcement: PkceEnforcement,
    /// Ours: the authorization code flow asks the person to approve the scopes (PingFederate's
    /// approval page). Off by default, as in PingOne, where signing on completes the flow. The
    /// device flow always asks (PingOne's `DAG_CONSENT_REQUIRED`).
    #[serde(default)]
    pub require_consent: bool,
    /// The client's keys (a JWKS serialized as a JSON string, as PingOne takes it) or where to
    /// fetch them (https); stored for `PRIVATE_KEY_JWT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// `TLS_CLIENT_AUTH`: the subject and issuer DNs (RFC 4514) the client certificate must
    /// have (PingFederate's `clientCertSubjectDn` / `clientCertIssuerDn`; ours, PingOne has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_issuer_dn: Option<String>,
    /// Access tokens bound to the client certificate (RFC 8705 §3, `cnf.x5t#S256`).
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// Request state, never stored: the `x5t#S256` thumbprint of the certificate this request's
    /// client authenticated over, when its access tokens are bound to it (set by
    /// `client_auth::authenticate`, read where access tokens are minted).
    #[serde(skip)]
    pub bound_certificate: Option<String>,
    /// Roles of a `WORKER` application (PING-MGMT §3.3); read per management request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role_assignments: Vec<RoleAssignment>,
    #[serde(default)]
    pub created_ms: i64,
    #[serde(default)]
    pub updated_ms: i64,
    /// Bumped by every management write; a write expects the revision it read.
    #[serde(default)]
    pub revision: u64,
}

fn default_rolling_duration() -> u32 {
    Application::DEFAULT_ROLLING_DURATION
}

impl Application {
    pub const DEFAULT_DEVICE_TIMEOUT: u32 = 600;
    pub const DEFAULT_POLLING_INTERVAL: u32 = 5;
    pub const DEFAULT_USER_CODE_LENGTH: u8 = 8;
    pub const DEFAULT_ACCESS_TOKEN_LIFETIME: u32 = 3600;
    pub const DEFAULT_REFRESH_DURATION: u32 = 2_592_000;
    pub const DEFAULT_ROLLING_DURATION: u32 = 15_552_000;

    /// An application with Ping's defaults; callers set what differs.
    pub fn new(environment_id: &str, client_id: &str, name: &str) -> Self {
        Self {
            environment_id: environment_id.to_owned(),
            client_id: client_id.to_owned(),
            name: name.to_owned(),
            description: None,
            enabled: true,
            app_type: AppType::CustomApp,
            grant_types: vec![GrantType::DeviceCode],
            token_endpoint_auth_method: TokenEndpointAuthMethod::None,
            client_secret: None,
            scopes: vec!["openid".to_owned()],
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            device_timeout: Self::DEFAULT_DEVICE_TIMEOUT,
            device_polling_interval: Self::DEFAULT_POLLING_INTERVAL,
            device_path_id: None,
            user_code_length: Self::DEFAULT_USER_CODE_LENGTH,
            token_signing_alg: SigningAlg::ES256,
            access_token_lifetime: Self::DEFAULT_ACCESS_TOKEN_LIFETIME,
            refresh_token_lifetime: Self::DEFAULT_REFRESH_DURATION,
            refresh_token_rolling_duration: Self::DEFAULT_ROLLING_DURATION,
            bypass_activation_code_confirmation: false,
            bypass_approval_page: false,
            pkce_enforcement: PkceEnforcement::Optional,
            require_consent: false,
            jwks: None,
            jwks_url: None,
            tls_client_auth_subject_dn: None,
            tls_client_auth_issuer_dn: None,
            tls_client_certificate_bound_access_tokens: false,
            bound_certificate: None,
            role_assignments: Vec::new(),
            created_ms: 0,
            updated_ms: 0,
            revision: 0,
        }
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// What the secret's encryption is bound to: a ciphertext opens only for its application.
    fn secret_context(&self) -> String {
        format!("{}/{}", self.environment_id, self.client_id)
    }

    /// Sets a new secret; the current one stays valid until `previous_until_ms` when given
    /// (PingOne's rotation with `previous.expiresAt`), else dies now.
    pub fn set_secret(&mut self, hasher: &Hasher, secret: &str, previous_until_ms: Option<i64>) {
        let previous = match (previous_until_ms, self.client_secret.take()) {
            (Some(expires_ms), Some(old)) => Some(PreviousSecret { secret: old.current, expires_ms }),
            _ => None,
        };
        self.client_secret = Some(ClientSecret { current: hasher.encrypt(&self.secret_context(), secret), previous });
    }

    /// The current secret and the previous one with its expiry, if it still lives at `now_ms`.
    pub fn secrets(&self, hasher: &Hasher, now_ms: i64) -> Option<(String, Option<(String, i64)>)> {
        let stored = self.client_secret.as_ref()?;
        let context = self.secret_context();
        let current = hasher.decrypt(&context, &stored.current)?;
        let previous = stored
            .previous
            .as_ref()
            .filter(|p| p.expires_ms > now_ms)
            .and_then(|p| hasher.decrypt(&context, &p.secret).map(|s| (s, p.expires_ms)));
        Some((current, previous))
    }

    /// Whether `presented` is the current secret or the unexpired previous one, compared in
    /// constant time.
    pub fn secret_matches(&self, hasher: &Hasher, presented: &str, now_ms: i64) -> bool {
        let Some((current, previous)) = self.secrets(hasher, now_ms) else {
            return false;
        };
        let eq =
            |a: &str| aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), presented.as_bytes()).is_ok();
        // Both compared, so the time does not tell which matched.
        let current_ok = eq(&current);
        let previous_ok = previous.is_some_and(|(p, _)| eq(&p));
        current_ok | previous_ok
    }

    /// Ends the previous secret now (PingOne's `DELETE .../secret`).
    pub fn revoke_previous_secret(&mut self) {
        if let Some(secret) = &mut self.client_secret {
            secret.previous = None;
        }
    }

    /// Checks the ranges PingOne documents, so bad configuration fails at load, not mid-flow.
    /// (The management API checks each property with PingOne's error details first.)
    pub fn validate(&self) -> Result<(), String> {
        let id = &self.client_id;
        if !(1..=3600).contains(&self.device_timeout) {
            return Err(format!("application {id}: deviceTimeout must be 1..=3600 seconds"));
        }
        if !(1..=60).contains(&self.device_polling_interval) {
            return Err(format!("application {id}: devicePollingInterval must be 1..=60 seconds"));
        }
        if !crate::codes::USER_CODE_LENGTHS.contains(&usize::from(self.user_code_length)) {
            return Err(format!("application {id}: userCodeLength must be 6..=12"));
        }
        if let Some(path) = &self.device_path_id {
            if !valid_device_path_id(path) {
                return Err(format!(
                    "application {id}: devicePathId must match ^[a-zA-Z0-9_-]{{1,50}}$, not be 'qr' nor a UUID"
                ));
            }
        }
        if self.token_endpoint_auth_method.uses_secret() && self.client_secret.is_none() {
            return Err(format!("application {id}: a client secret is required for its auth method"));
        }
        Ok(())
    }
}

/// PingOne's `devicePathId` pattern, `^[a-zA-Z0-9_-]{1,50}$`. Ours: not `qr` (`/device/qr`) and
/// not shaped like a client id (a UUID), since `/device/{appIdentifier}` takes either.
pub fn valid_device_path_id(path: &str) -> bool {
    (1..=50).contains(&path.len())
        && path.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && path != "qr"
        && uuid::Uuid::try_parse(path).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_previous_secret_until_it_expires() {
        let hasher = Hasher::new(b"0123456789abcdef0123456789abcdef");
        let mut app = Application::new("env", "app", "App");
        app.set_secret(&hasher, "first", None);
        assert!(app.secret_matches(&hasher, "first", 0));
        assert!(!app.secret_matches(&hasher, "firs", 0));
        app.set_secret(&hasher, "second", Some(1_000));
        assert!(app.secret_matches(&hasher, "second", 999));
        assert!(app.secret_matches(&hasher, "first", 999), "the previous secret until expiresAt");
        assert!(!app.secret_matches(&hasher, "first", 1_000), "and not after");
        app.revoke_previous_secret();
        assert!(!app.secret_matches(&hasher, "first", 0));
        app.set_secret(&hasher, "third", None);
        assert!(!app.secret_matches(&hasher, "second", 0), "rotation without expiresAt ends the old one");
        let stored = serde_json::to_string(&app).unwrap();
        assert!(!stored.contains("third"), "encrypted at rest");
        let mut moved = app.clone();
        moved.client_id = "other".into();
        assert!(!moved.secret_matches(&hasher, "third", 0), "a ciphertext opens only for its application");
    }
}
