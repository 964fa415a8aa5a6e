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
