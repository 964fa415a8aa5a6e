//! A third-party client library, the `oauth2` crate, completes the device flow unmodified: its
//! device authorization request, its polling loop (with `authorization_pending` and its own
//! interval handling) and its token response parsing. Its sleep advances the server's clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use blackbox::*;
use oauth2::basic::BasicClient;
use oauth2::{ClientId, DeviceAuthorizationUrl, Scope, StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl};
use shared::Dialect;

async fn oauth2_crate_device_flow(kind: StoreKind, dialect: Dialect) {
    let s = Arc::new(TestServer::start(kind).await);
    let client = BasicClient::new(ClientId::new(DEVICE_APP_ID.to_owned()))
        .set_device_authorization_url(DeviceAuthorizationUrl::new(s.device_authorization_url(dialect)).unwrap())
        .set_token_uri(TokenUrl::new(s.token_url(dialect)).unwrap());
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("offline_access".into()))
        .request_async(&http)
        .await
        .expect("device authorization through the oauth2 crate");
    assert_eq!(details.interval(), Duration::from_secs(5));

    // The person approves while the library sleeps after its first, pending, poll.
    let approved = Arc::new(AtomicBool::new(false));
    let user_code = details.user_code().secret().to_owned();
    let sleep = {
        let s = s.clone();
        move |interval: Duration| {
            let s = s.clone();
            let approved = approved.clone();
            let user_code = user_code.clone();
            async move {
                s.clock.advance_ms(i64::try_from(interval.as_millis()).unwrap());
                if !approved.swap(true, Ordering::SeqCst) {
                    s.approve(&user_code, true).await;
                }
            }
        }
    };
    let token = client
        .exchange_device_access_token(&details)
        .request_async(&http, sleep, None)
        .await
        .expect("the oauth2 crate polls until it gets tokens");
    assert!(!token.access_token().secret().is_empty());
    assert!(token.refresh_token().is_some());
    let scopes: Vec<String> = token.scopes().unwrap().iter().map(|s| s.to_string()).collect();
    assert_eq!(scopes, ["openid", "offline_access"]);
    let jwks: serde_json::Value = s.http.get(s.jwks_url(dialect)).send().await.unwrap().json().await.unwrap();
    let issuer = s.issuer(dialect);
    let (_, claims) = verify_jwt(token.access_token().secret(), &jwks, &issuer, &issuer);
    assert_eq!(claims["sub"], demo::USER_ID);
    let Ok(s) = Arc::try_unwrap(s) else { panic!("the polling loop has released the server") };
    s.stop().await;
}

#[tokio::test]
async fn oauth2_crate_completes_the_flow_on_memory_in_both_dialects() {
    for dialect in BOTH_DIALECTS {
        oauth2_crate_device_flow(StoreKind::Memory, dialect).await;
    }
}

#[tokio::test]
async fn oauth2_crate_completes_the_flow_on_dynamodb() {
    oauth2_crate_device_flow(StoreKind::DynamoDb, Dialect::PingOne).await;
}
