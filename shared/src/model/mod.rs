//! The records: the directory (applications, that is OAuth clients, and users, with PingOne's
//! property names) here, grants and flows in their modules.

pub mod flow;
pub mod grant;

use serde::{Deserialize, Serialize};

/// PingOne `grantTypes` values (PING-COMPAT §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GrantType {
    AuthorizationCode,
    DeviceCode,
    RefreshToken,
    ClientCredentials,
}

/// PingOne `tokenEndpointAuthMethod` values. The JWT methods and mTLS plug in at
/// `client_auth::authenticate`; until then such an application cannot authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenEndpointAuthMethod {
    None,
    ClientSecretBasic,
    ClientSecretPost,
    ClientSecretJwt,
    PrivateKeyJwt,
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

/// Signature algorithm of the tokens issued to an application.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlg {
    #[default]
    ES256,
    RS256,
}

/// An OAuth client. `client_id` is PingOne's application `id`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub environment_id: String,
    pub client_id: String,
    pub name: String,
    pub enabled: bool,
    pub grant_types: Vec<GrantType>,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// Keyed hash of the client secret (`hashing::Purpose::ClientSecret`); never the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_hash: Option<String>,
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
    /// Short path segment for `/{envId}/device/{devicePathId}`.
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
}

impl Application {
    pub const DEFAULT_DEVICE_TIMEOUT: u32 = 600;
    pub const DEFAULT_POLLING_INTERVAL: u32 = 5;
    pub const DEFAULT_USER_CODE_LENGTH: u8 = 8;

    /// An application with Ping's defaults; callers set what differs.
    pub fn new(environment_id: &str, client_id: &str, name: &str) -> Self {
        Self {
            environment_id: environment_id.to_owned(),
            client_id: client_id.to_owned(),
            name: name.to_owned(),
            enabled: true,
            grant_types: vec![GrantType::DeviceCode],
            token_endpoint_auth_method: TokenEndpointAuthMethod::None,
            client_secret_hash: None,
            scopes: vec!["openid".to_owned()],
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            device_timeout: Self::DEFAULT_DEVICE_TIMEOUT,
            device_polling_interval: Self::DEFAULT_POLLING_INTERVAL,
            device_path_id: None,
            user_code_length: Self::DEFAULT_USER_CODE_LENGTH,
            token_signing_alg: SigningAlg::ES256,
            access_token_lifetime: 3600,
            refresh_token_lifetime: 2_592_000,
            bypass_activation_code_confirmation: false,
            bypass_approval_page: false,
            pkce_enforcement: PkceEnforcement::Optional,
            require_consent: false,
        }
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Checks the ranges PingOne documents, so bad configuration fails at load, not mid-flow.
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
            let ok = (1..=50).contains(&path.len())
                && path.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok || path == "qr" {
                return Err(format!(
                    "application {id}: devicePathId must match ^[a-zA-Z0-9_-]{{1,50}}$ and not be 'qr'"
                ));
            }
        }
        let confidential = matches!(
            self.token_endpoint_auth_method,
            TokenEndpointAuthMethod::ClientSecretBasic | TokenEndpointAuthMethod::ClientSecretPost
        );
        if confidential && self.client_secret_hash.is_none() {
            return Err(format!("application {id}: a client secret is required for its auth method"));
        }
        Ok(())
    }
}

/// A person who can sign on.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub environment_id: String,
    pub id: String,
    pub username: String,
    /// argon2id PHC string; never the password.
    pub password_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub enabled: bool,
}

/// Usernames are matched case-insensitively, as PingOne does.
pub fn username_key(username: &str) -> String {
    username.trim().to_lowercase()
}
