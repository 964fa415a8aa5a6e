//! The authorization code flow with PKCE and OpenID Connect, on both stores, driven by a
//! third-party library (the `openidconnect` crate) unmodified: discovery, PKCE, nonce, code
//! exchange, ID token validation (signature, nonce, at_hash), userinfo.

use blackbox::*;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use shared::Dialect;

async fn openidconnect_flow(kind: StoreKind, dialect: Dialect) {
    let s = TestServer::start(kind).await;
    // The person's browser, which the relying party's client library also uses here.
    let http = browser();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(s.issuer(dialect)).unwrap(), &http)
        .await
        .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(WEB_APP_ID.to_owned()),
        Some(ClientSecret::new(WEB_APP_SECRET.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(demo::WEB_APP_REDIRECT_URI.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let to_pages = http.get(url.as_str()).send().await.unwrap();
    assert_eq!(to_pages.status(), 302, "authorize sends the browser to the sign-on pages");
    let flow = TestServer::flow_of(&to_pages);
    s.remember_flow(&flow, &http);
    let back = s.complete_authorization(&flow, true).await;
    assert!(back.starts_with(demo::WEB_APP_REDIRECT_URI), "{back}");
    assert_eq!(query_value(&back, "state").as_deref(), Some(csrf.secret().as_str()));
    assert_eq!(query_value(&back, "iss").as_deref(), Some(s.issuer(dialect).as_str()), "RFC 9207");
    let code = query_value(&back, "code").unwrap();
    let verifier_secret = verifier.secret().clone();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token for openid");
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).expect("ID token signature, issuer, audience, nonce");
    assert_eq!(claims.subject().as_str(), demo::USER_ID);
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("demo"));
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash), "at_hash");
    assert!(claims.auth_time().is_some() && claims.auth_context_ref().is_some());
    assert!(tokens.refresh_token().is_some());

    let info: CoreUserInfoClaims =
        client.user_info(tokens.access_token().clone(), None).unwrap().request_async(&http).await.expect("userinfo");
    assert_eq!(info.subject().as_str(), demo::USER_ID);
    assert_eq!(info.email().map(|e| e.as_str()), Some("demo@example.com"));

    // A replayed code fails and revokes what was issued from it (RFC 6749 §4.1.2). (A request
    // that fails a check, say the verifier, spends and revokes nothing: see security.rs.)
    let replay = s
        .post_form(
            &s.token_url(dialect),
            Auth::Basic(WEB_APP_ID, WEB_APP_SECRET),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", demo::WEB_APP_REDIRECT_URI),
                ("code_verifier", &verifier_secret),
            ],
        )
        .await;
    assert_eq!(replay.json["error"], "invalid_grant", "{replay:?}");
    let revoked: Result<CoreUserInfoClaims, _> =
        client.user_info(tokens.access_token().clone(), None).unwrap().request_async(&http).await;
    assert!(revoked.is_err(), "the access token of a replayed code is revoked");
    s.stop().await;
}

#[tokio::test]
async fn openidconnect_crate_signs_in_on_memory_in_both_dialects() {
    for dialect in BOTH_DIALECTS {
        openidconnect_flow(StoreKind::Memory, dialect).await;
    }
}

#[tokio::test]
async fn openidconnect_crate_signs_in_on_dynamodb() {
    for dialect in BOTH_DIALECTS {
        openidconnect_flow(StoreKind::DynamoDb, dialect).await;
    }
}
