//! The authorization endpoint's errors (page or redirect), the code's binding (client, redirect
//! URI, PKCE, lifetime), refresh rotation and reuse, client credentials, userinfo, introspection
//! and revocation, on both stores.

use blackbox::*;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};
use shared::Dialect;

const REDIRECT: &str = demo::WEB_APP_REDIRECT_URI;
const P1: Dialect = Dialect::PingOne;

fn web() -> Auth<'static> {
    Auth::Basic(WEB_APP_ID, WEB_APP_SECRET)
}

async fn authorize_errors(s: &TestServer) {
    // Before the client and redirect URI are trusted: a page, never a redirect.
    for query in [
        vec![("response_type", "code"), ("redirect_uri", REDIRECT)],
        vec![("response_type", "code"), ("client_id", "nobody"), ("redirect_uri", REDIRECT)],
        vec![("response_type", "code"), ("client_id", WEB_APP_ID)],
        vec![("response_type", "code"), ("client_id", WEB_APP_ID), ("redirect_uri", "http://127.0.0.1:8400/callback/")],
        vec![("response_type", "code"), ("client_id", WEB_APP_ID), ("redirect_uri", "https://evil.example/cb")],
    ] {
        let response = s.authorize(P1, &query).await;
        assert_eq!(response.status(), 400, "{query:?}");
        assert!(response.headers().get("location").is_none(), "{query:?}");
        assert!(response.text().await.unwrap().contains("Sign-in request not accepted"));
    }
    // Afterwards: back to the client with error, state and iss.
    let base = [("client_id", WEB_APP_ID), ("redirect_uri", REDIRECT), ("state", "xyz")];
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "invalid_request"),
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("response_type", "code"), ("scope", "openid admin")], "invalid_scope"),
        (vec![("response_type", "code"), ("acr_values", "Multi_Factor")], "invalid_request"),
        (vec![("response_type", "code"), ("prompt", "select_account")], "invalid_request"),
        (vec![("response_type", "code"), ("max_age", "-1")], "invalid_request"),
        (vec![("response_type", "code"), ("code_challenge", "short")], "invalid_request"),
        (vec![("response_type", "code"), ("prompt", "none")], "login_required"),
    ];
    for (extra, error) in cases {
        let query: Vec<(&str, &str)> = base.iter().copied().chain(extra.iter().copied()).collect();
        let response = s.authorize(P1, &query).await;
        assert_eq!(response.status(), 302, "{extra:?}");
        let location = response.headers()["location"].to_str().unwrap();
        assert!(location.starts_with(REDIRECT), "{location}");
        assert_eq!(query_value(location, "error").as_deref(), Some(error), "{extra:?}: {location}");
        assert_eq!(query_value(location, "state").as_deref(), Some("xyz"));
        assert_eq!(query_value(location, "iss").as_deref(), Some(s.issuer(P1).as_str()));
    }
    // pkceEnforcement S256_REQUIRED: no challenge, or plain, is refused.
    for extra in [vec![], vec![("code_challenge", PKCE_VERIFIER), ("code_challenge_method", "plain")]] {
        let query: Vec<(&str, &str)> =
            [("response_type", "code"), ("client_id", SPA_APP_ID), ("redirect_uri", REDIRECT)]
                .into_iter()
                .chain(extra)
                .collect();
        let response = s.authorize(P1, &query).await;
        let location = response.headers()["location"].to_str().unwrap();
        assert_eq!(query_value(location, "error").as_deref(), Some("invalid_request"), "{location}");
    }
}

async fn code_binding(s: &TestServer) {
    let spa = Auth::Public(SPA_APP_ID);
    // Wrong verifier, wrong redirect URI, other client: invalid_grant.
    let code = s.code_for(P1, SPA_APP_ID, "openid").await;
    let wrong_verifier = s
        .post_form(
            &s.token_url(P1),
            spa,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &"a".repeat(43)),
            ],
        )
        .await;
    wrong_verifier.assert_oauth_error(400, "invalid_grant", "The code_verifier does not match the code_challenge.");
    let code = s.code_for(P1, SPA_APP_ID, "openid").await;
    let wrong_redirect = s
        .post_form(
            &s.token_url(P1),
            spa,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://spa.example/cb?x=1"),
                ("code_verifier", PKCE_VERIFIER),
            ],
        )
        .await;
    wrong_redirect.assert_oauth_error(
        400,
        "invalid_grant",
        "The redirect_uri does not match the authorization request.",
    );
    let code = s.code_for(P1, SPA_APP_ID, "openid").await;
    s.redeem(P1, web(), &code).await.assert_oauth_error(
        400,
        "invalid_grant",
        "The authorization code is invalid or expired.",
    );
    // Codes live 60 seconds.
    let code = s.code_for(P1, SPA_APP_ID, "openid").await;
    s.advance_s(61);
    s.redeem(P1, spa, &code).await.assert_oauth_error(
        400,
        "invalid_grant",
        "The authorization code is invalid or expired.",
    );
    // A resumed flow has one code: resuming again (its answer was lost) gives the same code
    // while it is unredeemed, and nothing once it is redeemed.
    let response = s
        .authorize(
            P1,
            &[("response_type", "code"), ("client_id", WEB_APP_ID), ("redirect_uri", REDIRECT), ("scope", "openid")],
        )
        .await;
    let flow = TestServer::flow_of(&response);
    let first = s.complete_authorization(&flow, true).await;
    let resume = s.url(&format!("/{ENV}/as/resume?flowId={flow}"));
    let again = s.browser_of(&flow).get(&resume).send().await.unwrap();
    assert_eq!(again.status(), 302);
    let code = query_value(&first, "code").unwrap();
    assert_eq!(query_value(again.headers()["location"].to_str().unwrap(), "code"), Some(code.clone()), "one code");
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    assert_eq!(s.post_form(&s.token_url(P1), web(), &form).await.status, 200);
    let after = s.browser_of(&flow).get(&resume).send().await.unwrap();
    assert_eq!(after.status(), 400, "no code after redemption");
    // Denied: access_denied back to the client.
    let response = s
        .authorize(
            P1,
            &[
                ("response_type", "code"),
                ("client_id", SPA_APP_ID),
                ("redirect_uri", REDIRECT),
                ("scope", "email"),
                ("code_challenge", PKCE_CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let back = s.complete_authorization(&TestServer::flow_of(&response), false).await;
    assert_eq!(query_value(&back, "error").as_deref(), Some("access_denied"));
}

async fn refresh_rules(s: &TestServer) {
    let code = s.code_for(P1, WEB_APP_ID, "openid profile email").await;
    let first = s.redeem(P1, web(), &code).await;
    assert_eq!(first.status, 200, "{first:?}");
    let rt0 = first.str("refresh_token");
    let refresh = |token: String, scope: &'static str| async move {
        let mut fields = vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", token)];
        if !scope.is_empty() {
            fields.push(("scope", scope.to_owned()));
        }
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        s.post_form(&s.token_url(P1), web(), &fields).await
    };
    // Rotation: a new refresh token every time; narrowing allowed, widening not.
    let second = refresh(rt0.clone(), "openid email").await;
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(second.json["scope"], "openid email");
    let rt1 = second.str("refresh_token");
    assert_ne!(rt0, rt1);
    refresh(rt1.clone(), "openid admin").await.assert_oauth_error(
        400,
        "invalid_scope",
        "The requested scope(s) must be blank or a subset of the provided scopes.",
    );
    let third = refresh(rt1.clone(), "").await;
    assert_eq!(third.json["scope"], "openid profile email", "the family keeps its scopes");
    let rt2 = third.str("refresh_token");
    // Reuse of a rotated token revokes the whole family.
    let reuse = refresh(rt0.clone(), "").await;
    reuse.assert_oauth_error(400, "invalid_grant", "The refresh token is invalid, expired or revoked.");
    refresh(rt2.clone(), "").await.assert_oauth_error(
        400,
        "invalid_grant",
        "The refresh token is invalid, expired or revoked.",
    );
    let introspected =
        s.post_form(&s.url(&format!("/{ENV}/as/introspect")), web(), &[("token", &third.str("access_token"))]).await;
    assert_eq!(introspected.json, json!({"active": false}), "access tokens of a revoked family are inactive");
    // A forged refresh token fails its MAC.
    let forged = format!("{}x", &rt2[..rt2.len() - 1]);
    refresh(forged, "").await.assert_oauth_error(
        400,
        "invalid_grant",
        "The refresh token is invalid, expired or revoked.",
    );
    // Another client cannot use it.
    let code = s.code_for(P1, WEB_APP_ID, "openid").await;
    let mine = s.redeem(P1, web(), &code).await.str("refresh_token");
    let theirs = s
        .post_form(
            &s.token_url(P1),
            Auth::Public(SPA_APP_ID),
            &[("grant_type", "refresh_token"), ("refresh_token", &mine)],
        )
        .await;
    theirs.assert_oauth_error(400, "invalid_grant", "The refresh token is invalid, expired or revoked.");
}

async fn resource_side(s: &TestServer) {
    let code = s.code_for(P1, WEB_APP_ID, "openid profile").await;
    let tokens = s.redeem(P1, web(), &code).await;
    let access = tokens.str("access_token");
    let userinfo = s.url(&format!("/{ENV}/as/userinfo"));
    // Bearer in the header (GET) and in the form (POST).
    let got: Value = s
        .http
        .get(&userinfo)
        .header(AUTHORIZATION, format!("Bearer {access}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        got,
        json!({"sub": demo::USER_ID, "preferred_username": "demo", "given_name": "Demo", "family_name": "User"})
    );
    let posted = s
        .http
        .post(&userinfo)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("access_token={access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let missing = s.http.get(&userinfo).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer realm=\"userinfo\"");
    let bad = s.http.get(&userinfo).header(AUTHORIZATION, "Bearer nope").send().await.unwrap();
    assert_eq!(bad.status(), 401);
    assert!(bad.headers()["www-authenticate"].to_str().unwrap().contains("error=\"invalid_token\""));

    // Client credentials (a worker): no refresh token, no ID token, no person; not for userinfo.
    let worker = s
        .post_form(
            &s.token_url(P1),
            Auth::Basic(WORKER_APP_ID, WORKER_APP_SECRET),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(worker.status, 200, "{worker:?}");
    assert!(worker.json.get("refresh_token").is_none() && worker.json.get("id_token").is_none());
    let worker_info = s
        .http
        .get(&userinfo)
        .header(AUTHORIZATION, format!("Bearer {}", worker.str("access_token")))
        .send()
        .await
        .unwrap();
    assert_eq!(worker_info.status(), 403);
    s.post_form(&s.token_url(P1), Auth::Public(DEVICE_APP_ID), &[("grant_type", "client_credentials")])
        .await
        .assert_oauth_error(
            400,
            "unauthorized_client",
            "The client is not authorized to use the client_credentials grant type.",
        );

    // Introspection (client-authenticated) and revocation, PingOne and PingFederate paths.
    for (dialect, introspect, revoke) in [
        (P1, s.url(&format!("/{ENV}/as/introspect")), s.url(&format!("/{ENV}/as/revoke"))),
        (Dialect::PingFederate, s.url("/as/introspect.oauth2"), s.url("/as/revoke_token.oauth2")),
    ] {
        let code = s.code_for(dialect, WEB_APP_ID, "openid").await;
        let tokens = s.redeem(dialect, web(), &code).await;
        let at = s.post_form(&introspect, web(), &[("token", &tokens.str("access_token"))]).await;
        assert_eq!((at.json["active"].as_bool(), at.json["sub"].as_str()), (Some(true), Some(demo::USER_ID)), "{at:?}");
        assert_eq!(at.json["client_id"], WEB_APP_ID);
        let rt = s.post_form(&introspect, web(), &[("token", &tokens.str("refresh_token"))]).await;
        assert_eq!(rt.json["active"], true);
        assert_eq!(s.post_form(&introspect, web(), &[("token", "garbage")]).await.json, json!({"active": false}));
        let unauthenticated = s.post_form(&introspect, Auth::Basic(WEB_APP_ID, "wrong"), &[("token", "x")]).await;
        assert_eq!(unauthenticated.status, 401);
        // Another client's revocation does nothing; the owner's revokes the family.
        let other = s
            .post_form(&revoke, Auth::Post(POST_APP_ID, POST_APP_SECRET), &[("token", &tokens.str("refresh_token"))])
            .await;
        assert_eq!(other.status, 200);
        assert_eq!(
            s.post_form(&introspect, web(), &[("token", &tokens.str("refresh_token"))]).await.json["active"],
            true
        );
        let revoked = s.post_form(&revoke, web(), &[("token", &tokens.str("refresh_token"))]).await;
        assert_eq!(revoked.status, 200);
        for token in [tokens.str("refresh_token"), tokens.str("access_token")] {
            assert_eq!(s.post_form(&introspect, web(), &[("token", &token)]).await.json, json!({"active": false}));
        }
        assert_eq!(s.post_form(&revoke, web(), &[("token", "unknown")]).await.status, 200, "unknown tokens: 200");
    }
}

/// prompt=none answers from the session; prompt=login signs in again; with a session and a
/// remembered consent the browser goes straight back to the application.
async fn prompts(s: &TestServer) {
    let code = s.code_for(P1, WEB_APP_ID, "openid").await;
    assert_eq!(s.redeem(P1, web(), &code).await.status, 200);
    // A browser with a session from the flow API.
    let person = browser();
    let flow = s.start_flow_in(&person, None).await;
    let login =
        s.flow_action(&flow, "usernamePassword.check", json!({"username": "demo", "password": "demo-password"})).await;
    assert!(login.header("set-cookie").is_some_and(|c| c.starts_with("ST=")), "{login:?}");
    let base = [("response_type", "code"), ("client_id", WEB_APP_ID), ("redirect_uri", REDIRECT), ("scope", "openid")];
    let silent: Vec<(&str, &str)> = base.iter().copied().chain([("prompt", "none")]).collect();
    let answer = s.authorize_in(&person, P1, &silent).await;
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    let silent_code = query_value(&location, "code").expect("prompt=none with a session and consent gives a code");
    let silent_tokens = s
        .post_form(
            &s.token_url(P1),
            web(),
            &[("grant_type", "authorization_code"), ("code", &silent_code), ("redirect_uri", REDIRECT)],
        )
        .await;
    assert_eq!(silent_tokens.status, 200, "{silent_tokens:?}");
    // The web app has no consent step (PingOne): wider scopes need no approval either.
    let wider: Vec<(&str, &str)> = [
        ("response_type", "code"),
        ("client_id", WEB_APP_ID),
        ("redirect_uri", REDIRECT),
        ("scope", "openid offline_access"),
        ("prompt", "none"),
    ]
    .to_vec();
    let answer = s.authorize_in(&person, P1, &wider).await;
    assert!(query_value(answer.headers()["location"].to_str().unwrap(), "code").is_some(), "no consent step");
    // An app that asks for consent (`requireConsent`) and has none remembered: consent_required.
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let asks: Vec<(&str, &str)> = [
        ("response_type", "code"),
        ("client_id", SPA_APP_ID),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("prompt", "none"),
    ]
    .to_vec();
    let answer = s.authorize_in(&person, P1, &asks).await;
    assert_eq!(
        query_value(answer.headers()["location"].to_str().unwrap(), "error").as_deref(),
        Some("consent_required")
    );
    let old: Vec<(&str, &str)> = silent.iter().copied().chain([("max_age", "1")]).collect();
    s.advance_s(2);
    let answer = s.authorize_in(&person, P1, &old).await;
    assert_eq!(query_value(answer.headers()["location"].to_str().unwrap(), "error").as_deref(), Some("login_required"));
    // prompt=login, and max_age=0 (OIDC Core §3.1.2.1), ask for the password despite the session.
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let forced: Vec<(&str, &str)> = base.iter().copied().chain([extra]).collect();
        let to_pages = s.authorize_in(&person, P1, &forced).await;
        let page = person.get(to_pages.headers()["location"].to_str().unwrap()).send().await.unwrap();
        assert!(page.text().await.unwrap().contains("<title>Sign in</title>"), "{extra:?}");
    }
    let normal = s.authorize_in(&person, P1, &base).await;
    let back = normal.headers()["location"].to_str().unwrap();
    assert!(back.starts_with(REDIRECT) && query_value(back, "code").is_some(), "session and consent: straight back");
}

async fn all(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    authorize_errors(&s).await;
    code_binding(&s).await;
    refresh_rules(&s).await;
    resource_side(&s).await;
    prompts(&s).await;
    s.stop().await;
}

#[tokio::test]
async fn code_flow_rules_on_memory() {
    all(StoreKind::Memory).await;
}

#[tokio::test]
async fn code_flow_rules_on_dynamodb() {
    all(StoreKind::DynamoDb).await;
}
