//! Verifies a JWT against a JWKS URL and prints its header and claims, as a resource server would.
//!
//! `cargo run -q -p blackbox --bin verify-token -- JWKS_URL TOKEN [ISSUER] [AUDIENCE]`
//! ISSUER and AUDIENCE default to the token's own `iss` and `aud`; the signature, the key id and
//! the expiry are always checked.

use jsonwebtoken::{decode, decode_header, jwk::JwkSet, DecodingKey, Validation};
use serde_json::Value;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: verify-token JWKS_URL TOKEN [ISSUER] [AUDIENCE]");
        std::process::exit(2);
    }
    match verify(&args).await {
        Ok(out) => println!("{out}"),
        Err(e) => {
            eprintln!("INVALID: {e}");
            std::process::exit(1);
        }
    }
}

async fn verify(args: &[String]) -> Result<String, String> {
    let (jwks_url, token) = (&args[0], &args[1]);
    let jwks: JwkSet = reqwest::get(jwks_url.as_str())
        .await
        .map_err(|e| format!("cannot fetch the JWKS: {e}"))?
        .json()
        .await
        .map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    let header = decode_header(token).map_err(|e| format!("not a JWT: {e}"))?;
    let kid = header.kid.clone().ok_or("the token has no kid")?;
    let jwk = jwks.find(&kid).ok_or(format!("kid {kid} is not in the JWKS"))?;
    let unverified: Value = jsonwebtoken::dangerous::insecure_decode::<Value>(token).map_err(|e| e.to_string())?.claims;
    let issuer = args.get(2).cloned().or_else(|| unverified["iss"].as_str().map(str::to_owned)).ok_or("no iss")?;
    let audience = args.get(3).cloned().or_else(|| unverified["aud"].as_str().map(str::to_owned)).ok_or("no aud")?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let data = decode::<Value>(token, &key, &validation).map_err(|e| e.to_string())?;
    Ok(format!(
        "VALID {:?} kid={kid} typ={}\n{}",
        header.alg,
        header.typ.unwrap_or_default(),
        serde_json::to_string_pretty(&data.claims).unwrap_or_default()
    ))
}
