//! Calls to the management API (`/v1/...`) with a worker application's token.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;

use crate::{demo, Answer, Auth, TestServer, ENV};

/// The demo admin worker (every role over the demo environment and the organization).
pub const ADMIN: Auth<'static> = Auth::Basic(demo::ADMIN_APP_ID, demo::ADMIN_APP_SECRET);

impl TestServer {
    /// A `client_credentials` access token of a worker application of the demo environment.
    pub async fn worker_token(&self, auth: Auth<'_>) -> String {
        let url = self.url(&format!("/{ENV}/as/token"));
        let answer = self.post_form(&url, auth, &[("grant_type", "client_credentials")]).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.str("access_token")
    }

    /// The demo admin worker's token.
    pub async fn admin_token(&self) -> String {
        self.worker_token(ADMIN).await
    }

    /// A management call: `path` below `/v1`, a bearer token if any, a JSON body if any.
    pub async fn api(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        self.api_as(method, path, token, body.map(|b| ("application/json", b))).await
    }

    /// A management call with a body of another media type.
    pub async fn api_as(&self, method: Method, path: &str, token: Option<&str>, body: Option<(&str, Value)>) -> Answer {
        let mut request = self.http.request(method, self.url(&format!("/v1{path}")));
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some((media, body)) = body {
            request = request.header(CONTENT_TYPE, media).body(body.to_string());
        }
        Answer::read(request.send().await.expect("send")).await
    }

    /// Asserts a PingOne error object with status and top-level code; returns its details.
    pub fn assert_p1_error<'a>(answer: &'a Answer, status: u16, code: &str) -> &'a Vec<Value> {
        assert_eq!(answer.status, status, "{answer:?}");
        assert_eq!(answer.json["code"], code, "{answer:?}");
        assert!(answer.json["id"].is_string() && answer.json["message"].is_string(), "{answer:?}");
        static EMPTY: Vec<Value> = Vec::new();
        answer.json["details"].as_array().unwrap_or(&EMPTY)
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers of the management API tests (`tests/tests/management_*.rs`).

/// PingOne's built-in role names (`GET /v1/roles`).
pub const ORGANIZATION_ADMIN: &str = "Organization Admin";
pub const ENVIRONMENT_ADMIN: &str = "Environment Admin";
pub const IDENTITY_DATA_ADMIN: &str = "Identity Data Admin";
pub const CLIENT_APPLICATION_DEVELOPER: &str = "Client Application Developer";

/// The media type of an admin's password set (PING-MGMT §8.1).
pub const PASSWORD_SET: &str = "application/vnd.pingidentity.password.set+json";

/// Generates `$name::memory` and `$name::dynamodb`, each running `async fn $name(StoreKind)`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn memory() {
                    super::$name($crate::StoreKind::Memory).await;
                }

                #[tokio::test]
                async fn dynamodb() {
                    super::$name($crate::StoreKind::DynamoDb).await;
                }
            }
        )*
    };
}

/// `/environments/{env}{rest}` (a path below `/v1`).
pub fn env_path(env: &str, rest: &str) -> String {
    format!("/environments/{env}{rest}")
}

/// A worker application made through the API, with its secret.
#[derive(Clone, Debug)]
pub struct Worker {
    pub id: String,
    pub secret: String,
}

impl Worker {
    pub fn auth(&self) -> Auth<'_> {
        Auth::Basic(&self.id, &self.secret)
    }
}

/// The body of a non-interactive worker (PING-MGMT §3.1).
pub fn worker_body(name: &str, enabled: bool) -> Value {
    serde_json::json!({
        "name": name, "enabled": enabled, "type": "WORKER", "protocol": "OPENID_CONNECT",
        "grantTypes": ["CLIENT_CREDENTIALS"], "tokenEndpointAuthMethod": "CLIENT_SECRET_BASIC"
    })
}

impl TestServer {
    /// A management call to an absolute URL (a `_links` href).
    pub async fn api_url(&self, method: Method, url: &str, token: &str) -> Answer {
        let request = self.http.request(method, url).header(AUTHORIZATION, format!("Bearer {token}"));
        Answer::read(request.send().await.expect("send")).await
    }

    /// A management call with a raw `Authorization` header and a raw body.
    pub async fn api_raw(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
        body: Option<(&str, &str)>,
    ) -> Answer {
        let mut request = self.http.request(method, self.url(&format!("/v1{path}")));
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        if let Some((media, body)) = body {
            request = request.header(CONTENT_TYPE, media).body(body.to_owned());
        }
        Answer::read(request.send().await.expect("send")).await
    }

    /// Role name -> role id, from `GET /v1/roles`.
    pub async fn role_ids(&self, token: &str) -> std::collections::HashMap<String, String> {
        let roles = self.api(Method::GET, "/roles", Some(token), None).await;
        assert_eq!(roles.status, 200, "{roles:?}");
        roles.json["_embedded"]["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .map(|r| (r["name"].as_str().unwrap().to_owned(), r["id"].as_str().unwrap().to_owned()))
            .collect()
    }

    /// `POST .../applications` that must succeed; the created resource.
    pub async fn create_app(&self, token: &str, env: &str, body: Value) -> Value {
        let created = self.api(Method::POST, &env_path(env, "/applications"), Some(token), Some(body)).await;
        assert_eq!(created.status, 201, "{created:?}");
        created.json
    }

    /// `POST .../applications` of the demo environment, whatever it answers.
    pub async fn create_app_answer(&self, token: &str, body: Value) -> Answer {
        self.api(Method::POST, &env_path(ENV, "/applications"), Some(token), Some(body)).await
    }

    /// `GET .../applications/{id}/secret` that must succeed: the current secret.
    pub async fn app_secret(&self, token: &str, env: &str, app_id: &str) -> String {
        let secret =
            self.api(Method::GET, &env_path(env, &format!("/applications/{app_id}/secret")), Some(token), None).await;
        assert_eq!(secret.status, 200, "{secret:?}");
        secret.str("secret")
    }

    /// A new enabled worker of `env` without roles, and its secret.
    pub async fn create_worker(&self, token: &str, env: &str, name: &str) -> Worker {
        let id = self.create_app(token, env, worker_body(name, true)).await["id"].as_str().unwrap().to_owned();
        let secret = self.app_secret(token, env, &id).await;
        Worker { id, secret }
    }

    /// `POST .../applications/{app}/roleAssignments` of the role named `role` over
    /// `ORGANIZATION`/`ENVIRONMENT` `scope_id`.
    pub async fn assign_role(
        &self,
        token: &str,
        app_id: &str,
        role_id: &str,
        scope_type: &str,
        scope_id: &str,
    ) -> Answer {
        let body = serde_json::json!({ "role": { "id": role_id }, "scope": { "id": scope_id, "type": scope_type } });
        self.api(
            Method::POST,
            &env_path(ENV, &format!("/applications/{app_id}/roleAssignments")),
            Some(token),
            Some(body),
        )
        .await
    }

    /// A new worker of the demo environment holding `roles` (role name, scope type, scope id),
    /// each given by the actor of `token`.
    pub async fn worker_with_roles(&self, token: &str, name: &str, roles: &[(&str, &str, &str)]) -> Worker {
        let worker = self.create_worker(token, ENV, name).await;
        let ids = self.role_ids(token).await;
        for (role, scope_type, scope_id) in roles {
            let assigned = self.assign_role(token, &worker.id, &ids[*role], scope_type, scope_id).await;
            assert_eq!(assigned.status, 201, "{role} over {scope_type} {scope_id}: {assigned:?}");
        }
        worker
    }

    /// `POST .../users` of the demo environment.
    pub async fn create_user(&self, token: &str, body: Value) -> Answer {
        self.api(Method::POST, &env_path(ENV, "/users"), Some(token), Some(body)).await
    }

    /// A user of the demo environment with a password; its id.
    pub async fn user_with_password(&self, token: &str, username: &str, password: &str) -> String {
        let body = serde_json::json!({ "username": username, "email": format!("{username}@example.com") });
        let user = self.create_user(token, body).await;
        assert_eq!(user.status, 201, "{user:?}");
        let id = user.str("id");
        let set = self.set_password(token, &id, password).await;
        assert_eq!(set.status, 200, "{set:?}");
        id
    }

    /// `PUT .../users/{id}/password` (password.set) of a demo-environment user.
    pub async fn set_password(&self, token: &str, user_id: &str, password: &str) -> Answer {
        let body = serde_json::json!({ "value": password, "forceChange": false });
        self.api_as(
            Method::PUT,
            &env_path(ENV, &format!("/users/{user_id}/password")),
            Some(token),
            Some((PASSWORD_SET, body)),
        )
        .await
    }

    /// The person's side of a device flow in `browser` for `username` through the flow API, then
    /// the poll: the token response. Signing on leaves the session cookie in `browser`.
    pub async fn device_tokens(
        &self,
        browser: &reqwest::Client,
        app_id: &str,
        username: &str,
        password: &str,
    ) -> Answer {
        let dialect = shared::Dialect::PingOne;
        let grant = self.device_authorization(dialect, Auth::Public(app_id), "openid").await;
        assert_eq!(grant.status, 200, "{grant:?}");
        let flow = self.start_flow_in(browser, None).await;
        let credentials = serde_json::json!({ "username": username, "password": password });
        let login = self.flow_action_in(browser, &flow, "usernamePassword.check", credentials).await;
        assert_eq!(login.json["status"], "DAG_USER_CODE_REQUIRED", "{login:?}");
        let code = serde_json::json!({ "userCode": grant.str("user_code") });
        let verify = self.flow_action_in(browser, &flow, "deviceAuthGrant.userCode.verify", code).await;
        assert_eq!(verify.json["status"], "DAG_CONSENT_REQUIRED", "{verify:?}");
        let consent =
            self.flow_action_in(browser, &flow, "deviceAuthGrant.consent", serde_json::json!({"accept": true})).await;
        assert_eq!(consent.json["status"], "COMPLETED", "{consent:?}");
        self.advance_s(grant.json["interval"].as_i64().unwrap_or(5));
        let tokens = self.poll(dialect, Auth::Public(app_id), &grant.str("device_code")).await;
        assert_eq!(tokens.status, 200, "{tokens:?}");
        tokens
    }

    /// A refresh-token grant for a public client.
    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> Answer {
        let url = self.token_url(shared::Dialect::PingOne);
        self.post_form(
            &url,
            Auth::Public(client_id),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
        )
        .await
    }
}

impl TestServer {
    /// A worker of the demo environment holding Organization Admin over the organization and
    /// nothing else. No actor may assign Organization Admin through the API (PING-MGMT §3.3's
    /// "Can assign"), so it is written to the store, as `bootstrap` would.
    pub async fn seed_organization_admin(&self) -> Worker {
        use shared::model::{Role, ScopeType, ORGANIZATION_ID};
        let id = uuid::Uuid::new_v4().to_string();
        let secret = format!("org-admin-{}", uuid::Uuid::new_v4().simple());
        let mut worker = shared::bootstrap::admin_worker(&self.app.hasher, ENV, &id, &secret, true);
        worker.name = "Organization Admin only".to_owned();
        worker.role_assignments.retain(|r| r.role == Role::OrganizationAdmin);
        assert!(worker
            .role_assignments
            .iter()
            .all(|r| r.scope_type == ScopeType::Organization && r.scope_id == ORGANIZATION_ID));
        self.app.store.put_application(&worker).await.expect("seed a worker");
        self.app.invalidate_applications(ENV);
        Worker { id, secret }
    }
}
