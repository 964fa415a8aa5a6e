//! Discovery documents and JWKS in both dialects describe exactly what is served.

use blackbox::*;
use serde_json::Value;
use shared::Dialect;

#[tokio::test]
async fn discovery_documents_point_at_working_endpoints() {
    let s = TestServer::start(StoreKind::Memory).await;
    for (dialect, path) in [
        (Dialect::PingOne, format!("/{ENV}/as/.well-known/openid-configuration")),
        (Dialect::PingFederate, "/.well-known/openid-configuration".to_owned()),
        (Dialect::PingOne, format!("/{ENV}/as/.well-known/oauth-authorization-server")),
        (Dialect::PingOne, format!("/.well-known/oauth-authorization-server/{ENV}/as")),
        (Dialect::PingFederate, "/.well-known/oauth-authorization-server".to_owned()),
    ] {
        let doc: Value = s.http.get(s.url(&path)).send().await.unwrap().json().await.unwrap();
        assert_eq!(doc["issuer"], s.issuer(dialect));
        assert_eq!(doc["token_endpoint"], s.token_url(dialect));
        assert_eq!(doc["device_authorization_endpoint"], s.device_authorization_url(dialect));
        assert_eq!(doc["jwks_uri"], s.jwks_url(dialect));
        assert_eq!(
            doc["grant_types_supported"],
            serde_json::json!(["authorization_code", "refresh_token", "client_credentials", DEVICE_GRANT])
        );
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        for endpoint in ["authorization_endpoint", "userinfo_endpoint", "introspection_endpoint", "revocation_endpoint"]
        {
            assert!(doc[endpoint].as_str().unwrap().starts_with(&s.base), "{endpoint}");
        }
        for required in ["subject_types_supported", "id_token_signing_alg_values_supported", "scopes_supported"] {
            assert!(doc[required].is_array(), "{required} in {dialect:?}");
        }
        let jwks = s.http.get(doc["jwks_uri"].as_str().unwrap()).send().await.unwrap();
        assert_eq!(jwks.status(), 200);
        assert_eq!(jwks.headers()["cache-control"], "public, max-age=300");
        let keys: Value = jwks.json().await.unwrap();
        let algs: Vec<&str> = keys["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap()).collect();
        assert_eq!(algs, ["ES256", "RS256"]);
        assert!(keys["keys"].as_array().unwrap().iter().all(|k| k["kid"].is_string() && k.get("d").is_none()));
        let grant = s.device_authorization(dialect, Auth::Public(DEVICE_APP_ID), "openid").await;
        assert_eq!(grant.status, 200);
    }
    s.stop().await;
}

#[tokio::test]
async fn device_start_passes_a_well_formed_code_to_the_sign_on_ui() {
    let s = TestServer::start(StoreKind::Memory).await;
    let response = s.http.get(s.url(&format!("/{ENV}/device?user_code=bcdf%20ghjk"))).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(&s.url(&format!("/{ENV}/signon/?flowId="))), "{location}");
    assert!(location.ends_with("&user_code=BCDF-GHJK"), "{location}");
    let junk = s.http.get(s.url(&format!("/{ENV}/device?user_code=%3Cscript%3E"))).send().await.unwrap();
    assert!(!junk.headers()["location"].to_str().unwrap().contains("user_code"), "junk is not passed on");
    s.stop().await;
}

/// Client authentication in discovery (RFC 8414 §2, RFC 8705 §3.3, §5): every method and
/// signing algorithm the endpoints take, and the mutual-TLS aliases only when a mutual-TLS
/// domain is configured.
#[tokio::test]
async fn discovery_lists_every_client_authentication_method() {
    let methods = [
        "none",
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
        "tls_client_auth",
        "self_signed_tls_client_auth",
    ];
    let algs =
        ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];
    let plain = TestServer::start(StoreKind::Memory).await;
    let mtls =
        TestServer::start_with(StoreKind::Memory, |s| s.mtls_base_url = Some("https://mtls.example".into())).await;
    for dialect in [Dialect::PingOne, Dialect::PingFederate] {
        let doc = |s: &TestServer| {
            let url = match dialect {
                Dialect::PingOne => s.url(&format!("/{ENV}/as/.well-known/openid-configuration")),
                Dialect::PingFederate => s.url("/.well-known/openid-configuration"),
            };
            let http = s.http.clone();
            async move { http.get(url).send().await.unwrap().json::<Value>().await.unwrap() }
        };
        let d = doc(&plain).await;
        assert_eq!(d["token_endpoint_auth_methods_supported"], serde_json::json!(methods));
        assert_eq!(d["revocation_endpoint_auth_methods_supported"], serde_json::json!(methods));
        assert_eq!(d["introspection_endpoint_auth_methods_supported"], serde_json::json!(methods[1..]), "not none");
        for name in ["token", "introspection", "revocation"] {
            assert_eq!(d[format!("{name}_endpoint_auth_signing_alg_values_supported")], serde_json::json!(algs));
        }
        assert_eq!(d["tls_client_certificate_bound_access_tokens"], true);
        assert!(d.get("mtls_endpoint_aliases").is_none(), "no mutual-TLS domain, no aliases");

        let aliases = doc(&mtls).await["mtls_endpoint_aliases"].clone();
        let (token, device) = match dialect {
            Dialect::PingOne => (
                format!("https://mtls.example/{ENV}/as/token"),
                format!("https://mtls.example/{ENV}/as/device_authorization"),
            ),
            Dialect::PingFederate => (
                "https://mtls.example/as/token.oauth2".to_owned(),
                "https://mtls.example/as/device_authz.oauth2".to_owned(),
            ),
        };
        assert_eq!(aliases["token_endpoint"], token.as_str(), "{aliases}");
        assert_eq!(aliases["device_authorization_endpoint"], device.as_str(), "{aliases}");
        for name in ["revocation_endpoint", "introspection_endpoint", "userinfo_endpoint"] {
            assert!(
                aliases[name].as_str().is_some_and(|u| u.starts_with("https://mtls.example/")),
                "{name}: {aliases}"
            );
        }
    }
    plain.stop().await;
    mtls.stop().await;
}
