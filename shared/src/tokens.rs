//! Signing keys, JWTs (RFC 7515/7519), the JWKS, and the claims of access tokens (RFC 9068) and
//! ID tokens (OpenID Connect Core §2).
//!
//! Keys are parsed once when the server starts and signing uses the parsed key pairs directly
//! (jsonwebtoken's `encode` would re-parse the PKCS#8 document on every call).

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::{STANDARD as B64_STD, URL_SAFE_NO_PAD as B64};
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};

use crate::model::SigningAlg;

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

struct Key {
    kid: String,
    pair: Pair,
    jwk: Value,
}

impl Key {
    fn ec(pair: EcdsaKeyPair) -> Self {
        // Uncompressed point: 0x04 || x || y.
        let point = pair.public_key().as_ref();
        let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..65]));
        let kid = thumbprint(&format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#));
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": "ES256"});
        Self { kid, pair: Pair::Ec(pair), jwk }
    }

    fn rsa(pair: RsaKeyPair) -> Self {
        let public = pair.public_key();
        let n = B64.encode(public.modulus().big_endian_without_leading_zero());
        let e = B64.encode(public.exponent().big_endian_without_leading_zero());
        let kid = thumbprint(&format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#));
        let jwk = json!({"kty": "RSA", "n": n, "e": e, "kid": kid, "use": "sig", "alg": "RS256"});
        Self { kid, pair: Pair::Rsa(pair), jwk }
    }
}

/// RFC 7638 JWK thumbprint of the canonical member string.
fn thumbprint(canonical: &str) -> String {
    B64.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

/// The server's signing keys: one ES256 (the default) and one RS256 (per application), plus the
/// public halves of the keys they replaced, published until tokens signed with them expire.
pub struct Signer {
    es256: Key,
    rs256: Key,
    previous: Vec<Key>,
    rng: SystemRandom,
    /// Every published key, parsed once, for checking tokens this server issued.
    verifiers: Vec<(String, jsonwebtoken::Algorithm, jsonwebtoken::DecodingKey)>,
    /// The JWKS as served, serialized once (the keys change only with a new instance).
    jwks_document: Vec<u8>,
}

impl Signer {
    /// Keys from PKCS#8 PEM documents (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(es256_pem: &str, rs256_pem: &str) -> Result<Self, String> {
        let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pem_body(es256_pem)?)
            .map_err(|e| format!("the ES256 key is not a PKCS#8 P-256 private key: {e}"))?;
        let rsa = RsaKeyPair::from_pkcs8(&pem_body(rs256_pem)?)
            .map_err(|e| format!("the RS256 key is not a PKCS#8 RSA private key: {e}"))?;
        if rsa.public_modulus_len() < 256 {
            return Err("the RS256 key must be at least 2048 bits".into());
        }
        Ok(Self::assemble(Key::ec(ec), Key::rsa(rsa), Vec::new()))
    }

    /// Adds keys that were active before a rotation (PKCS#8 PEM, P-256 or RSA): their public
    /// keys stay in the JWKS and their tokens stay valid until they expire.
    pub fn with_previous(self, pems: &[String]) -> Result<Self, String> {
        let mut previous = Vec::new();
        for pem in pems {
            let der = pem_body(pem)?;
            let key = match EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der) {
                Ok(ec) => Key::ec(ec),
                Err(_) => Key::rsa(
                    RsaKeyPair::from_pkcs8(&der)
                        .map_err(|e| format!("a previous key is neither P-256 nor RSA PKCS#8: {e}"))?,
                ),
            };
            previous.push(key);
        }
        Ok(Self::assemble(self.es256, self.rs256, previous))
    }

    fn assemble(es256: Key, rs256: Key, previous: Vec<Key>) -> Self {
        let verifiers = [&es256, &rs256]
            .into_iter()
            .chain(previous.iter())
            .filter_map(|k| {
                let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(k.jwk.clone()).ok()?;
                let alg =
                    if k.jwk["kty"] == "EC" { jsonwebtoken::Algorithm::ES256 } else { jsonwebtoken::Algorithm::RS256 };
                Some((k.kid.clone(), alg, jsonwebtoken::DecodingKey::from_jwk(&jwk).ok()?))
            })
            .collect();
        let mut signer =
            Self { es256, rs256, previous, rng: SystemRandom::new(), verifiers, jwks_document: Vec::new() };
        signer.jwks_document = serde_json::to_vec(&signer.jwks()).expect("a JWKS serializes");
        signer
    }

    /// The claims of a token this server signed (any published key), if its signature holds and
    /// it has not expired. Audience and issuer are the caller's to check.
    pub fn verify(&self, token: &str) -> Option<Value> {
        self.claims(token, true)
    }

    /// The claims of a token this server signed, even if it has expired (an `id_token_hint`,
    /// OIDC RP-Initiated Logout §2).
    pub fn verify_signature(&self, token: &str) -> Option<Value> {
        self.claims(token, false)
    }

    fn claims(&self, token: &str, unexpired: bool) -> Option<Value> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let kid = header.kid?;
        let (_, alg, key) = self.verifiers.iter().find(|(k, _, _)| *k == kid)?;
        if header.alg != *alg {
            return None;
        }
        let mut validation = jsonwebtoken::Validation::new(*alg);
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.validate_exp = unexpired;
        if unexpired {
            validation.set_required_spec_claims(&["exp"]);
        } else {
            validation.set_required_spec_claims::<&str>(&[]);
        }
        jsonwebtoken::decode::<Value>(token, key, &validation).ok().map(|d| d.claims)
    }

    /// Fresh keys that live as long as the process: for the local server and tests.
    pub fn generate() -> Self {
        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key generation");
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        Self::assemble(Key::ec(ec), Key::rsa(rsa), Vec::new())
    }

    /// Both keys as PKCS#8 PEM, to persist generated keys.
    pub fn generate_pem() -> (String, String) {
        use aws_lc_rs::encoding::AsDer;
        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key generation");
        let ec_der = ec.to_pkcs8v1().expect("P-256 key encoding");
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let rsa_der = rsa.as_der().expect("RSA key encoding");
        (to_pem(ec_der.as_ref()), to_pem(rsa_der.as_ref()))
    }

    fn key(&self, alg: SigningAlg) -> &Key {
        match alg {
            SigningAlg::ES256 => &self.es256,
            SigningAlg::RS256 => &self.rs256,
        }
    }

    /// A compact JWS of `claims` with header `typ` and the key's `kid`.
    pub fn sign<T: Serialize>(&self, alg: SigningAlg, typ: &str, claims: &T) -> String {
        let key = self.key(alg);
        let header = json!({"alg": alg_name(alg), "typ": typ, "kid": key.kid});
        let claims = serde_json::to_vec(claims).expect("claims serialize");
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims));
        let signature = match &key.pair {
            Pair::Ec(pair) => pair.sign(&self.rng, input.as_bytes()).expect("ES256 signing").as_ref().to_vec(),
            Pair::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &self.rng, input.as_bytes(), &mut sig).expect("RS256 signing");
                sig
            }
        };
        format!("{input}.{}", B64.encode(signature))
    }

    /// `jwks()` serialized, as the JWKS endpoint serves it.
    pub fn jwks_document(&self) -> &[u8] {
        &self.jwks_document
    }

    /// The JSON Web Key Set of the public keys (RFC 7517 §5).
    pub fn jwks(&self) -> Value {
        let keys: Vec<&Value> =
            [&self.es256, &self.rs256].into_iter().chain(self.previous.iter()).map(|k| &k.jwk).collect();
        json!({ "keys": keys })
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("es256", &self.es256.kid).field("rs256", &self.rs256.kid).finish()
    }
}

fn alg_name(alg: SigningAlg) -> &'static str {
    match alg {
        SigningAlg::ES256 => "ES256",
        SigningAlg::RS256 => "RS256",
    }
}

fn pem_body(pem: &str) -> Result<Vec<u8>, String> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    B64_STD.decode(body).map_err(|_| "the key is not PEM (base64 between BEGIN/END lines)".to_owned())
}

fn to_pem(der: &[u8]) -> String {
    let b64 = B64_STD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"))
}

/// OpenID Connect Core §3.1.3.6: left half of the SHA-256 of the access token, base64url
/// (both ES256 and RS256 hash with SHA-256).
pub fn at_hash(access_token: &str) -> String {
    let d = digest::digest(&digest::SHA256, access_token.as_bytes());
    B64.encode(&d.as_ref()[..16])
}

/// RFC 9068 §2.2 access token claims.
#[derive(Serialize, Debug)]
pub struct AccessTokenClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: &'a str,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<[&'a str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<&'a str>,
    /// The grant family the token hangs off (`d.`/`c.` + grant id), for revocation checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// Environment and organization of a worker application's token: PingOne's platform-API
    /// claims, which the management API requires (PING-MGMT §3.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<&'a str>,
    /// RFC 8705 §3.1: the certificate the token is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation<'a>>,
}

/// The `cnf` claim of a certificate-bound access token (RFC 8705 §3.1).
#[derive(Serialize, Debug)]
pub struct Confirmation<'a> {
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: &'a str,
}

/// OpenID Connect Core §2 ID token claims, with the profile/email claims the scopes grant.
#[derive(Serialize, Debug)]
pub struct IdTokenClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    pub sid: &'a str,
    pub amr: [&'a str; 1],
    pub acr: &'a str,
    pub at_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, jwk::JwkSet, Algorithm, DecodingKey, Validation};

    #[test]
    fn tokens_verify_against_the_published_jwks() {
        let signer = Signer::generate();
        let jwks: JwkSet = serde_json::from_value(signer.jwks()).unwrap();
        for (alg, expected) in [(SigningAlg::ES256, Algorithm::ES256), (SigningAlg::RS256, Algorithm::RS256)] {
            let token = signer.sign(alg, "at+jwt", &json!({"sub": "u1", "exp": 4_000_000_000u64, "aud": "x"}));
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.alg, expected);
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
            let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid is in the JWKS");
            let mut validation = Validation::new(expected);
            validation.set_audience(&["x"]);
            let data = decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap();
            assert_eq!(data.claims["sub"], "u1");
        }
    }

    #[test]
    fn pem_keys_round_trip_and_bad_pem_is_explained() {
        let (ec, rsa) = Signer::generate_pem();
        let a = Signer::from_pem(&ec, &rsa).unwrap();
        let b = Signer::from_pem(&ec, &rsa).unwrap();
        assert_eq!(a.jwks(), b.jwks(), "the same keys give the same JWKS and kids");
        assert_eq!(serde_json::from_slice::<Value>(a.jwks_document()).unwrap(), a.jwks(), "served as built");
        assert!(Signer::from_pem("not pem!", &rsa).unwrap_err().contains("PEM"));
        assert!(Signer::from_pem(&rsa, &rsa).unwrap_err().contains("ES256"));
    }

    #[test]
    fn rotation_keeps_previous_keys_published_and_verifiable() {
        let (old_ec, old_rsa) = Signer::generate_pem();
        let old = Signer::from_pem(&old_ec, &old_rsa).unwrap();
        let old_token = old.sign(SigningAlg::ES256, "at+jwt", &json!({"exp": 4_000_000_000u64}));
        let (new_ec, new_rsa) = Signer::generate_pem();
        let rotated = Signer::from_pem(&new_ec, &new_rsa).unwrap().with_previous(&[old_ec, old_rsa]).unwrap();
        assert_eq!(rotated.jwks()["keys"].as_array().unwrap().len(), 4);
        assert!(rotated.verify(&old_token).is_some(), "tokens of the previous key stay valid");
        let new_token = rotated.sign(SigningAlg::ES256, "at+jwt", &json!({"exp": 4_000_000_000u64}));
        assert_ne!(
            jsonwebtoken::decode_header(&new_token).unwrap().kid,
            jsonwebtoken::decode_header(&old_token).unwrap().kid
        );
        assert!(rotated.verify(&new_token).is_some());
        assert!(old.verify(&new_token).is_none(), "unknown kid");
        let expired = rotated.sign(SigningAlg::ES256, "at+jwt", &json!({"exp": 1}));
        assert!(rotated.verify(&expired).is_none());
    }

    #[test]
    fn at_hash_is_the_left_half_of_sha256() {
        // Computed independently: base64url(sha256(token)[:16]) with Python's hashlib.
        assert_eq!(at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNOyRKRUw"), "2cpb3f2qn0xML3I5_SbTIg");
    }
}
