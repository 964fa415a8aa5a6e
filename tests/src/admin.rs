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
