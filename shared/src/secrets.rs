//! Server secrets: the hashing key (codes, client secrets, refresh tokens, sealed values) and the
//! token signing keys. Never in the template, the repository or the logs.
//!
//! Where they come from, chosen by [`Settings`]:
//! - **AWS Secrets Manager** (`SERVER_SECRET_ID`; what `template.yaml` deploys): one secret holding
//!   a [`SecretDocument`], encrypted at rest with KMS. CloudFormation generates `hash_key` at
//!   deploy (`GenerateSecretString`); the first function to start generates the signing keys and
//!   writes them as the secret's next version. Rotation stages new keys (published, not yet used),
//!   then promotes them (`rotate-keys`, README "Rotating keys").
//! - **Environment variables** (`HASH_KEY`, `ES256_PRIVATE_KEY`, `RS256_PRIVATE_KEY`,
//!   `PREVIOUS_*_PRIVATE_KEY`): for a self-managed deployment or the local server.
//! - **Generated for the process**: only where the data dies with the process (memory store,
//!   local server).

use aws_lc_rs::digest;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::Client;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::{random_bytes, OsRandom};
use crate::config::Settings;
use crate::hashing::Hasher;
use crate::tokens::Signer;

/// Shortest `hash_key` accepted in a secret: 43 letters and digits carry 256 bits.
pub const MIN_HASH_KEY_CHARS: usize = 43;

/// A pair of signing keys, PKCS#8 PEM.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SigningKeys {
    pub es256: String,
    pub rs256: String,
}

impl SigningKeys {
    pub fn generate() -> Self {
        let (es256, rs256) = Signer::generate_pem();
        Self { es256, rs256 }
    }
}

/// Never prints a key: only which key sets are present.
impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKeys(<redacted>)")
    }
}

impl std::fmt::Debug for SecretDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretDocument")
            .field("hash_key", &"<redacted>")
            .field("signing", &self.signing)
            .field("next", &self.next)
            .field("previous", &self.previous)
            .finish_non_exhaustive()
    }
}

/// The JSON document stored in the secret:
/// `{"hash_key": "...", "signing": {"es256": PEM, "rs256": PEM}, "next": {..}, "previous": {..}}`.
/// `signing` signs; `next` (staged by a rotation) and `previous` (replaced by one) are published
/// in the JWKS and accepted, never used to sign. Fields this version does not know are kept.
#[derive(Clone, Serialize, Deserialize)]
pub struct SecretDocument {
    pub hash_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningKeys>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<SigningKeys>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<SigningKeys>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl SecretDocument {
    pub fn parse(json: &str) -> Result<Self, String> {
        // serde's message can quote the offending value (a key, say): report only where it is.
        let doc: Self = serde_json::from_str(json).map_err(|e| {
            format!(
                "the server secret is not the expected JSON document ({{\"hash_key\": ...}}): {:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            )
        })?;
        if doc.hash_key.chars().count() < MIN_HASH_KEY_CHARS {
            return Err(format!("the server secret's hash_key must hold at least {MIN_HASH_KEY_CHARS} characters"));
        }
        Ok(doc)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a secret document serialises")
    }

    /// The hasher and signer this document describes; the signing keys must be present.
    pub fn keys(&self) -> Result<(Hasher, Signer), String> {
        let signing = self.signing.as_ref().ok_or("the server secret has no signing keys yet")?;
        let published: Vec<String> = [&self.next, &self.previous]
            .into_iter()
            .flatten()
            .flat_map(|keys| [keys.es256.clone(), keys.rs256.clone()])
            .collect();
        let signer = Signer::from_pem(&signing.es256, &signing.rs256)?.with_previous(&published)?;
        Ok((Hasher::new(self.hash_key.as_bytes()), signer))
    }

    /// Rotation step 1: new keys, published from now on but not yet used to sign.
    pub fn stage(&mut self, keys: SigningKeys) -> Result<(), String> {
        if self.signing.is_none() {
            return Err("the server secret has no signing keys yet: start a function first".into());
        }
        if self.next.is_some() {
            return Err("keys are already staged: promote them before staging more".into());
        }
        self.next = Some(keys);
        Ok(())
    }

    /// Rotation step 2: the staged keys sign; the keys they replace stay published as `previous`
    /// (the keys before those are dropped).
    pub fn promote(&mut self) -> Result<(), String> {
        let next = self.next.take().ok_or("no keys are staged: stage new keys first")?;
        self.previous = self.signing.replace(next);
        Ok(())
    }
}

/// The server's secret in AWS Secrets Manager.
pub struct SecretsManagerSecret {
    client: Client,
    secret_id: String,
}

impl SecretsManagerSecret {
    /// `endpoint_url`: a local Secrets Manager-compatible server (moto), or `None` for AWS.
    pub fn connect(secret_id: &str, endpoint_url: Option<&str>) -> Result<Self, String> {
        let client = Client::new(&crate::aws::sdk_config(endpoint_url)?);
        Ok(Self { client, secret_id: secret_id.to_owned() })
    }

    /// The current version's id and document.
    pub async fn current(&self) -> Result<(String, SecretDocument), String> {
        self.read(None).await
    }

    /// A version's id and document; `None`: the current version.
    pub async fn read(&self, version_id: Option<&str>) -> Result<(String, SecretDocument), String> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await
            .map_err(|e| format!("cannot read the server secret {}: {}", self.secret_id, DisplayErrorContext(&e)))?;
        let json = out.secret_string().ok_or("the server secret holds no string")?;
        Ok((out.version_id().unwrap_or_default().to_owned(), SecretDocument::parse(json)?))
    }

    /// The document with its signing keys, generating and storing them if this is the first
    /// start after the deploy. Returns the version id too (for the start-up log line).
    pub async fn server_document(&self) -> Result<(String, SecretDocument), String> {
        self.amend("signing-keys", |doc| {
            Ok(doc.signing.is_none().then(|| SecretDocument { signing: Some(SigningKeys::generate()), ..doc.clone() }))
        })
        .await
    }

    /// Rotation step 1 (`SecretDocument::stage`) with fresh keys, as a new version.
    pub async fn stage(&self) -> Result<(String, SecretDocument), String> {
        self.rotate("stage", |doc| doc.stage(SigningKeys::generate())).await
    }

    /// Rotation step 2 (`SecretDocument::promote`), as a new version. Deterministic, so two
    /// operators promoting the same version write it once.
    pub async fn promote(&self) -> Result<(String, SecretDocument), String> {
        self.rotate("promote", SecretDocument::promote).await
    }

    async fn rotate(
        &self,
        step: &str,
        apply: impl Fn(&mut SecretDocument) -> Result<(), String>,
    ) -> Result<(String, SecretDocument), String> {
        self.amend(step, |doc| {
            let mut doc = doc.clone();
            apply(&mut doc)?;
            Ok(Some(doc))
        })
        .await
    }

    /// Writes `change(current)` as the new current version, unless it is `None`. The version's
    /// `ClientRequestToken` is derived from `step` and the version it was computed from, so of
    /// two writers starting from the same version only one can succeed (Secrets Manager refuses
    /// a token already used with other content); the other re-reads and, if the change is no
    /// longer needed, takes the winner's document. Concurrent cold starts converge on one key set.
    pub async fn amend(
        &self,
        step: &str,
        change: impl Fn(&SecretDocument) -> Result<Option<SecretDocument>, String>,
    ) -> Result<(String, SecretDocument), String> {
        let (version, doc) = self.current().await?;
        let Some(changed) = change(&doc)? else {
            return Ok((version, doc));
        };
        let token = version_token(step, &version);
        let written = self
            .client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .client_request_token(&token)
            .secret_string(changed.to_json())
            .send()
            .await;
        match written {
            Ok(_) => Ok((token, changed)),
            Err(err) => {
                let (version, now) = self.current().await?;
                match change(&now)? {
                    None => Ok((version, now)),
                    Some(_) => {
                        Err(format!("cannot write the server secret {}: {}", self.secret_id, DisplayErrorContext(&err)))
                    }
                }
            }
        }
    }
}

/// `{step}-{40 hex digits of SHA-256(version)}`: 32 to 64 characters, as Secrets Manager wants.
fn version_token(step: &str, version: &str) -> String {
    let hash = digest::digest(&digest::SHA256, version.as_bytes());
    let hex: String = hash.as_ref().iter().take(20).map(|b| format!("{b:02x}")).collect();
    format!("{step}-{hex}")
}

/// The hasher and signer for these settings. `ephemeral_allowed`: missing secrets may be
/// generated for this process (memory store, local server); otherwise they are an error.
pub async fn server_keys(settings: &Settings, ephemeral_allowed: bool) -> Result<(Hasher, Signer), String> {
    if let Some(secret_id) = &settings.server_secret_id {
        let secret = SecretsManagerSecret::connect(secret_id, settings.secrets_endpoint_url.as_deref())?;
        // A pinned version (a rotation step rolled out by a deploy) or the current one, completed
        // with signing keys on the first start.
        let (version, doc) = match &settings.server_secret_version {
            Some(version) => secret.read(Some(version)).await?,
            None => secret.server_document().await?,
        };
        tracing::info!(secret_version = %version, "server secrets loaded");
        return doc.keys();
    }
    let hasher = match &settings.hash_key {
        Some(key) => Hasher::new(key),
        None if ephemeral_allowed => Hasher::new(&random_bytes::<32>(&OsRandom)),
        None => return Err(MISSING.into()),
    };
    let signer = match &settings.signing_keys {
        Some((es, rs)) => Signer::from_pem(es, rs)?.with_previous(&settings.previous_signing_keys)?,
        None if ephemeral_allowed => Signer::generate(),
        None => return Err(MISSING.into()),
    };
    Ok((hasher, signer))
}

const MISSING: &str = "a persistent store needs lasting server secrets: set SERVER_SECRET_ID (a Secrets Manager \
secret, as template.yaml does), or HASH_KEY, ES256_PRIVATE_KEY and RS256_PRIVATE_KEY";

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> SecretDocument {
        SecretDocument::parse(&format!(r#"{{"hash_key": "{}", "kept": 1}}"#, "k".repeat(64))).unwrap()
    }

    #[test]
    fn parse_refuses_what_is_not_a_server_secret() {
        assert!(SecretDocument::parse("not json").err().unwrap().contains("hash_key"));
        assert!(SecretDocument::parse(r#"{"hash_key": "short"}"#).err().unwrap().contains("43"));
        assert!(document().keys().err().unwrap().contains("no signing keys"));
        let misplaced = format!(r#"{{"hash_key": "{}", "signing": "PRIVATE-KEY-MATERIAL"}}"#, "k".repeat(64));
        let error = SecretDocument::parse(&misplaced).err().unwrap();
        assert!(error.contains("column") && !error.contains("PRIVATE-KEY-MATERIAL"), "{error}");
        let mut doc = document();
        doc.signing = Some(SigningKeys::generate());
        let printed = format!("{doc:?}");
        assert!(!printed.contains("kkkk") && !printed.contains("PRIVATE KEY"), "{printed}");
    }

    #[test]
    fn rotation_publishes_before_it_signs_and_keeps_the_replaced_keys() {
        let mut doc = document();
        assert!(doc.stage(SigningKeys::generate()).unwrap_err().contains("start a function"));
        doc.signing = Some(SigningKeys::generate());
        let kids = |doc: &SecretDocument| -> Vec<String> {
            let jwks = doc.keys().unwrap().1.jwks();
            jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
        };
        let first = kids(&doc);
        assert_eq!(first.len(), 2);
        assert!(doc.promote().unwrap_err().contains("stage"));

        doc.stage(SigningKeys::generate()).unwrap();
        assert!(doc.stage(SigningKeys::generate()).unwrap_err().contains("already staged"));
        let staged = kids(&doc);
        assert_eq!(staged.len(), 4);
        assert_eq!(staged[..2], first[..], "the signing keys stay first until promoted");

        doc.promote().unwrap();
        let promoted = kids(&doc);
        assert_eq!(promoted[..2], staged[2..], "the staged keys sign");
        assert_eq!(promoted[2..], first[..], "the replaced keys stay published");

        doc.stage(SigningKeys::generate()).unwrap();
        doc.promote().unwrap();
        assert!(!kids(&doc).iter().any(|kid| first.contains(kid)), "keys two rotations old are dropped");
        let json: Value = serde_json::from_str(&doc.to_json()).unwrap();
        assert_eq!(json["kept"], 1, "unknown fields survive a rewrite");
    }

    #[test]
    fn version_tokens_have_the_length_secrets_manager_accepts() {
        for version in ["", "0c5f2ab8-7b4e-4f5e-9a65-3c1d2b9e8f10", &"x".repeat(64)] {
            let token = version_token("signing-keys", version);
            assert!((32..=64).contains(&token.len()), "{token}");
        }
        assert_ne!(version_token("stage", "a"), version_token("stage", "b"));
    }
}
