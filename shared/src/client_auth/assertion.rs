//! The claims of a client assertion (RFC 7523 §3, PING-MGMT §10.2): who issued it, for whom,
//! and when. Signatures are `jws`'s; single use is the store's (`GuardStore::claim_assertion`).

use serde_json::{Map, Value};

/// `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Clock skew allowed for `exp`, `nbf` and `iat`, seconds.
pub const SKEW_S: i64 = 60;
/// The furthest ahead `exp` may lie (PingOne: one hour), seconds.
pub const MAX_LIFETIME_S: i64 = 3600;
/// The longest `jti` accepted (it is hashed before it is stored).
pub const MAX_JTI_LEN: usize = 256;

/// What a valid assertion's claims come to: its `jti` and when the assertion stops being
/// acceptable (the time its `jti` must be remembered until), seconds.
#[derive(Debug, PartialEq, Eq)]
pub struct Accepted {
    pub jti: String,
    pub remember_until: i64,
}

/// The `iss` an assertion claims (before anything is verified: it only says whose keys to try).
pub fn issuer(claims: &Map<String, Value>) -> Option<&str> {
    claims.get("iss").and_then(Value::as_str)
}

/// Checks the claims of an assertion whose signature verified: `iss` = `sub` = `client_id`,
/// `aud` names one of `audiences`, `exp` present, not passed and at most an hour ahead,
/// `nbf`/`iat` not in the future, `jti` present. `Err` names the failed rule (for the log).
pub fn check(
    claims: &Map<String, Value>,
    client_id: &str,
    audiences: &[String],
    now_s: i64,
) -> Result<Accepted, &'static str> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    // NumericDate (RFC 7519 §2) may be non-integer: whole seconds are what the rules compare.
    let time = |name: &str| claims.get(name).and_then(numeric_date);
    if text("iss") != Some(client_id) {
        return Err("iss is not the client id");
    }
    if text("sub") != Some(client_id) {
        return Err("sub is not the client id");
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => audiences.contains(aud),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(|a| audiences.iter().any(|x| x == a)),
        _ => false,
    };
    if !aud_ok {
        return Err("aud names neither the token endpoint, the issuer nor the endpoint called");
    }
    let Some(exp) = time("exp") else {
        return Err("exp is missing or not a number");
    };
    if exp + SKEW_S <= now_s {
        return Err("the assertion expired");
    }
    if exp > now_s + MAX_LIFETIME_S + SKEW_S {
        return Err("exp is more than an hour ahead");
    }
    for name in ["nbf", "iat"] {
        match claims.get(name) {
            None => {}
            Some(v) => match numeric_date(v) {
                Some(t) if t <= now_s + SKEW_S => {}
                Some(_) => return Err(if name == "nbf" { "nbf is in the future" } else { "iat is in the future" }),
                None => return Err("nbf or iat is not a number"),
            },
        }
    }
    let jti = match text("jti") {
        Some(jti) if !jti.is_empty() && jti.len() <= MAX_JTI_LEN => jti,
        Some(_) => return Err("jti is empty or longer than 256 characters"),
        None => return Err("jti is missing"),
    };
    Ok(Accepted { jti: jti.to_owned(), remember_until: exp + SKEW_S })
}

fn numeric_date(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15).map(|f| f.floor() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_000_000;

    fn claims(changes: Value) -> Map<String, Value> {
        let mut c = json!({"iss": "c", "sub": "c", "aud": "https://as/token", "exp": NOW + 300, "jti": "j"});
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c.as_object().unwrap().clone()
    }

    fn run(changes: Value) -> Result<Accepted, &'static str> {
        check(&claims(changes), "c", &["https://as/token".into(), "https://as".into()], NOW)
    }

    #[test]
    fn each_rule_fails_alone() {
        assert_eq!(run(json!({})), Ok(Accepted { jti: "j".into(), remember_until: NOW + 360 }));
        assert!(run(json!({"aud": ["x", "https://as"]})).is_ok());
        assert!(run(json!({"nbf": NOW + 60, "iat": NOW})).is_ok());
        assert_eq!(
            run(json!({"exp": NOW as f64 + 300.5, "iat": NOW as f64 - 0.25})).unwrap().remember_until,
            NOW + 360
        );
        for (changes, rule) in [
            (json!({"iss": "d"}), "iss"),
            (json!({"sub": "d"}), "sub"),
            (json!({"sub": null}), "sub"),
            (json!({"aud": "https://as/other"}), "aud"),
            (json!({"aud": ["x"]}), "aud"),
            (json!({"aud": null}), "aud"),
            (json!({"exp": null}), "exp"),
            (json!({"exp": "soon"}), "exp"),
            (json!({"exp": NOW - 61}), "expired"),
            (json!({"exp": NOW + 3661}), "hour"),
            (json!({"nbf": NOW + 61}), "nbf"),
            (json!({"iat": NOW + 61}), "iat"),
            (json!({"jti": null}), "jti"),
            (json!({"jti": ""}), "jti"),
            (json!({"jti": "x".repeat(257)}), "jti"),
        ] {
            let err = run(changes.clone()).unwrap_err();
            assert!(err.contains(rule), "{changes}: {err}");
        }
    }
}
