//! JWS compact serialization (RFC 7515) and signature checks against JSON Web Keys (RFC 7517,
//! RFC 7518 §3), for client assertions. Verification only: this server never signs with a
//! client's key. Built on aws-lc-rs directly, so every algorithm RFC 7523 clients use (ES512
//! included) is one table.

use aws_lc_rs::{hmac, signature};
use base64::engine::general_purpose::{STANDARD as B64_STD, URL_SAFE_NO_PAD as B64URL};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The JWS algorithms clients may sign assertions with (RFC 7518 §3.1); `none` is not one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
}

impl Alg {
    pub const ALL: [Alg; 12] = [
        Alg::HS256,
        Alg::HS384,
        Alg::HS512,
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::ES512,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::ES512 => "ES512",
        }
    }

    pub fn parse(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.name() == name)
    }

    /// An HMAC algorithm, keyed with a shared secret (client_secret_jwt).
    pub fn symmetric(self) -> bool {
        matches!(self, Alg::HS256 | Alg::HS384 | Alg::HS512)
    }

    /// The names of the symmetric, or of the asymmetric, algorithms (for discovery).
    pub fn names(symmetric: bool) -> Vec<&'static str> {
        Alg::ALL.into_iter().filter(|a| a.symmetric() == symmetric).map(Alg::name).collect()
    }

    /// The key type (`kty`) and, for EC, curve (`crv`) a key must have to verify this algorithm.
    fn key_shape(self) -> (&'static str, Option<&'static str>) {
        match self {
            Alg::HS256 | Alg::HS384 | Alg::HS512 => ("oct", None),
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => ("RSA", None),
            Alg::ES256 => ("EC", Some("P-256")),
            Alg::ES384 => ("EC", Some("P-384")),
            Alg::ES512 => ("EC", Some("P-521")),
        }
    }
}

/// Why a token could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum JwsError {
    Malformed(&'static str),
    /// `alg` is `none`, unknown, or names no signature algorithm we accept.
    Algorithm(String),
    /// A `crit` header names extensions we do not understand (RFC 7515 §4.1.11).
    Critical,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// A parsed, not yet verified, JWS.
#[derive(Debug)]
pub struct Jws {
    pub alg: Alg,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jws {
    /// Parses a compact JWS whose payload is a JSON object.
    pub fn parse(token: &str) -> Result<Jws, JwsError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed("not three dot-separated parts"));
        };
        let signing_input = token[..header.len() + 1 + payload.len()].to_owned();
        let decode = |part: &str, what| B64URL.decode(part).map_err(|_| JwsError::Malformed(what));
        let header: Header = serde_json::from_slice(&decode(header, "header is not base64url")?)
            .map_err(|_| JwsError::Malformed("header is not a JSON object with alg"))?;
        if header.crit.is_some() {
            return Err(JwsError::Critical);
        }
        let alg = Alg::parse(&header.alg).ok_or_else(|| JwsError::Algorithm(header.alg.clone()))?;
        let claims: Map<String, Value> = serde_json::from_slice(&decode(payload, "payload is not base64url")?)
            .map_err(|_| JwsError::Malformed("payload is not a JSON object"))?;
        let signature = decode(signature, "signature is not base64url")?;
        Ok(Jws { alg, kid: header.kid, claims, signing_input, signature })
    }

    /// Whether the signature verifies under the shared `secret` (HS* only; constant time).
    pub fn verify_secret(&self, secret: &[u8]) -> bool {
        let algorithm = match self.alg {
            Alg::HS256 => hmac::HMAC_SHA256,
            Alg::HS384 => hmac::HMAC_SHA384,
            Alg::HS512 => hmac::HMAC_SHA512,
            _ => return false,
        };
        hmac::verify(&hmac::Key::new(algorithm, secret), self.signing_input.as_bytes(), &self.signature).is_ok()
    }

    /// Whether the signature verifies under the public key `jwk` (asymmetric algorithms only;
    /// the key must fit the algorithm: its `kty`, `crv` and, if it states one, `alg`).
    pub fn verify_key(&self, jwk: &Jwk) -> bool {
        if self.alg.symmetric() || !jwk.fits(self.alg) {
            return false;
        }
        let message = self.signing_input.as_bytes();
        match &jwk.public {
            PublicKey::Rsa { n, e } => {
                let params: &signature::RsaParameters = match self.alg {
                    Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Alg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                signature::RsaPublicKeyComponents { n: n.as_slice(), e: e.as_slice() }
                    .verify(params, message, &self.signature)
                    .is_ok()
            }
            PublicKey::Ec { point, .. } => {
                let algorithm: &signature::EcdsaVerificationAlgorithm = match self.alg {
                    Alg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
                    Alg::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
                    Alg::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
                    _ => return false,
                };
                signature::UnparsedPublicKey::new(algorithm, point).verify(message, &self.signature).is_ok()
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PublicKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// The uncompressed point `04 || x || y`.
    Ec {
        crv: &'static str,
        point: Vec<u8>,
    },
}

/// A client's public signing key from its JWKS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jwk {
    pub kid: Option<String>,
    alg: Option<String>,
    public: PublicKey,
    /// `x5c`: the certificate chain, standard base64 DER, leaf first (RFC 7517 §4.7).
    pub x5c: Vec<String>,
}

impl Jwk {
    fn fits(&self, alg: Alg) -> bool {
        let (kty, crv) = alg.key_shape();
        let shape_ok = match &self.public {
            PublicKey::Rsa { .. } => kty == "RSA",
            PublicKey::Ec { crv: key_crv, .. } => kty == "EC" && crv == Some(*key_crv),
        };
        shape_ok && self.alg.as_deref().is_none_or(|a| a == alg.name())
    }

    /// One key of a JWKS. `Ok(None)`: a key that is not for us to verify signatures with (an
    /// encryption key, or a key type we do not use); `Err`: a key that is broken or private.
    fn parse(value: &Value) -> Result<Option<Jwk>, String> {
        let text = |name: &str| value.get(name).and_then(Value::as_str);
        let bytes = |name: &str| -> Result<Vec<u8>, String> {
            let v = text(name).ok_or_else(|| format!("a key lacks '{name}'"))?;
            B64URL.decode(v).map_err(|_| format!("'{name}' of a key is not base64url"))
        };
        if ["d", "p", "q", "dp", "dq", "qi", "k"].iter().any(|m| value.get(*m).is_some()) {
            return Err("a key holds private or secret material: register public keys only".into());
        }
        if text("use").is_some_and(|u| u != "sig") {
            return Ok(None);
        }
        let public = match text("kty") {
            Some("RSA") => PublicKey::Rsa { n: bytes("n")?, e: bytes("e")? },
            Some("EC") => {
                let (crv, size) = match text("crv") {
                    Some("P-256") => ("P-256", 32),
                    Some("P-384") => ("P-384", 48),
                    Some("P-521") => ("P-521", 66),
                    _ => return Ok(None),
                };
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != size || y.len() != size {
                    return Err(format!("the coordinates of a {crv} key must be {size} bytes"));
                }
                PublicKey::Ec { crv, point: [&[4u8][..], &x, &y].concat() }
            }
            _ => return Ok(None),
        };
        let x5c = match value.get("x5c") {
            None => Vec::new(),
            Some(Value::Array(certs)) => certs
                .iter()
                .map(|c| c.as_str().filter(|c| B64_STD.decode(c).is_ok()).map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or("x5c must be an array of base64 DER certificates")?,
            Some(_) => return Err("x5c must be an array".into()),
        };
        Ok(Some(Jwk { kid: text("kid").map(str::to_owned), alg: text("alg").map(str::to_owned), public, x5c }))
    }
}

/// The signing keys of a JWKS document (`{"keys": [...]}`), or what is wrong with it.
pub fn parse_jwks(document: &[u8]) -> Result<Vec<Jwk>, String> {
    let value: Value = serde_json::from_slice(document).map_err(|_| "the JWKS is not JSON".to_owned())?;
    let keys = value.get("keys").and_then(Value::as_array).ok_or("a JWKS is an object with a 'keys' array")?;
    let mut parsed = Vec::new();
    for key in keys {
        if let Some(jwk) = Jwk::parse(key)? {
            parsed.push(jwk);
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &[u8]) -> String {
        B64URL.encode(v)
    }

    fn token(header: &str, payload: &str, sig: &[u8]) -> String {
        format!("{}.{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()), b64(sig))
    }

    #[test]
    fn parses_and_refuses_what_it_must() {
        let t = token(r#"{"alg":"HS256","kid":"k"}"#, r#"{"iss":"a"}"#, b"sig");
        let jws = Jws::parse(&t).unwrap();
        assert_eq!((jws.alg, jws.kid.as_deref(), jws.claims["iss"].as_str()), (Alg::HS256, Some("k"), Some("a")));
        assert_eq!(jws.signing_input, t.rsplit_once('.').unwrap().0);
        let none = token(r#"{"alg":"none"}"#, r#"{"iss":"a"}"#, b"");
        assert_eq!(Jws::parse(&none).unwrap_err(), JwsError::Algorithm("none".into()));
        let crit = token(r#"{"alg":"HS256","crit":["exp"]}"#, "{}", b"s");
        assert_eq!(Jws::parse(&crit).unwrap_err(), JwsError::Critical);
        assert!(matches!(Jws::parse("a.b"), Err(JwsError::Malformed(_))));
        assert!(matches!(Jws::parse("a.b.c.d"), Err(JwsError::Malformed(_))));
        assert!(matches!(Jws::parse(&token(r#"{"alg":"HS256"}"#, "[1]", b"s")), Err(JwsError::Malformed(_))));
    }

    #[test]
    fn hmac_verifies_only_its_secret() {
        let header = b64(br#"{"alg":"HS256"}"#);
        let payload = b64(br#"{"iss":"a"}"#);
        let input = format!("{header}.{payload}");
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"secret"), input.as_bytes());
        let jws = Jws::parse(&format!("{input}.{}", b64(tag.as_ref()))).unwrap();
        assert!(jws.verify_secret(b"secret"));
        assert!(!jws.verify_secret(b"secreT"));
    }

    #[test]
    fn jwks_keep_signing_keys_and_refuse_private_ones() {
        let x = b64(&[1u8; 32]);
        let doc = format!(
            r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{x}","y":"{x}","kid":"a"}},
                {{"kty":"EC","crv":"P-256","x":"{x}","y":"{x}","use":"enc"}},{{"kty":"OKP","crv":"Ed25519","x":"{x}"}}]}}"#
        );
        let keys = parse_jwks(doc.as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].fits(Alg::ES256) && !keys[0].fits(Alg::ES384) && !keys[0].fits(Alg::RS256));
        let private = format!(r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{x}","y":"{x}","d":"{x}"}}]}}"#);
        assert!(parse_jwks(private.as_bytes()).unwrap_err().contains("private"));
        let short = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ"}]}"#;
        assert!(parse_jwks(short.as_bytes()).is_err());
        assert!(parse_jwks(b"{}").is_err());
    }
}
