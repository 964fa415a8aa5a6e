//! Audit events: one structured event per state change, in the shape of PingOne's audit
//! activities (`action.type`, `result.status`, `actors.client` / `actors.user`, `resources`,
//! `correlationId`, the environment). The default sink writes each event to the log stream as one
//! JSON line (target `audit`); tests record them. An event never holds a secret, code or token:
//! resources are named by ids the store already keys them by (a grant by its digest, never the
//! code), and the constructors take no value that could be one.

use std::sync::{Arc, Mutex};

use serde::Serialize;

tokio::task_local! {
    /// The correlation id of the request being served (set by the route table).
    static CORRELATION_ID: String;
}

/// Runs `f` with `id` as the correlation id of every event it records.
pub async fn with_correlation_id<F: std::future::Future>(id: String, f: F) -> F::Output {
    CORRELATION_ID.scope(id, f).await
}

fn correlation_id() -> String {
    CORRELATION_ID.try_with(String::clone).unwrap_or_default()
}

/// PingOne `action.type` values where PingOne has the event, ours (same style) elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Action {
    #[serde(rename = "DEVICE_AUTHORIZATION.CREATED")]
    DeviceAuthorizationCreated,
    #[serde(rename = "DEVICE_AUTHORIZATION.USER_CODE_CHECKED")]
    UserCodeChecked,
    #[serde(rename = "DEVICE_AUTHORIZATION.CONSENT")]
    DeviceConsent,
    #[serde(rename = "AUTHORIZATION.CONSENT")]
    AuthorizationConsent,
    #[serde(rename = "PASSWORD.CHECK")]
    PasswordCheck,
    /// A person changed their password in a sign-on flow (`password.reset`).
    #[serde(rename = "PASSWORD.RESET")]
    PasswordReset,
    #[serde(rename = "SESSION.CREATED")]
    SessionCreated,
    #[serde(rename = "SESSION.DELETED")]
    SessionDeleted,
    #[serde(rename = "AUTHORIZATION_CODE.ISSUED")]
    CodeIssued,
    #[serde(rename = "TOKEN.ISSUED")]
    TokenIssued,
    #[serde(rename = "REFRESH_TOKEN.ROTATED")]
    RefreshRotated,
    #[serde(rename = "GRANT.REUSE_DETECTED")]
    ReuseDetected,
    #[serde(rename = "TOKEN.REVOKED")]
    TokenRevoked,
    #[serde(rename = "CONSENT.REVOKED")]
    ConsentRevoked,
    #[serde(rename = "ENVIRONMENT.CREATED")]
    EnvironmentCreated,
    #[serde(rename = "APPLICATION.CREATED")]
    ApplicationCreated,
    #[serde(rename = "APPLICATION.UPDATED")]
    ApplicationUpdated,
    #[serde(rename = "APPLICATION.DELETED")]
    ApplicationDeleted,
    #[serde(rename = "SECRET.UPDATED")]
    SecretUpdated,
    #[serde(rename = "ROLE_ASSIGNMENT.CREATED")]
    RoleAssignmentCreated,
    #[serde(rename = "ROLE_ASSIGNMENT.DELETED")]
    RoleAssignmentDeleted,
    #[serde(rename = "POPULATION.CREATED")]
    PopulationCreated,
    #[serde(rename = "POPULATION.UPDATED")]
    PopulationUpdated,
    #[serde(rename = "POPULATION.DELETED")]
    PopulationDeleted,
    #[serde(rename = "USER.CREATED")]
    UserCreated,
    #[serde(rename = "USER.UPDATED")]
    UserUpdated,
    #[serde(rename = "USER.DELETED")]
    UserDeleted,
    #[serde(rename = "PASSWORD.SET")]
    PasswordSet,
}

/// `result.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Success,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Actors {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Actor>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Resource {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionField {
    #[serde(rename = "type")]
    pub kind: Action,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResultField {
    pub status: Status,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdRef {
    pub id: String,
}

/// One audit activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: String,
    pub recorded_at: String,
    pub correlation_id: String,
    pub environment: IdRef,
    pub action: ActionField,
    pub result: ResultField,
    pub actors: Actors,
    pub resources: Vec<Resource>,
}

/// Where events go.
pub trait AuditSink: Send + Sync {
    fn record(&self, event: &AuditEvent);
}

/// The log stream: one JSON line per event, target `audit`.
pub struct LogSink;

impl AuditSink for LogSink {
    fn record(&self, event: &AuditEvent) {
        let line = serde_json::to_string(event).unwrap_or_default();
        tracing::info!(target: "audit", audit = %line, "audit");
    }
}

/// Keeps every event (tests), and logs it too.
#[derive(Default)]
pub struct Recorder(Mutex<Vec<AuditEvent>>);

impl Recorder {
    pub fn take(&self) -> Vec<AuditEvent> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl AuditSink for Recorder {
    fn record(&self, event: &AuditEvent) {
        LogSink.record(event);
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(event.clone());
    }
}

/// An event being built: `Audit::event(...)` then `.client(..)`, `.user(..)`, `.resource(..)`.
pub struct Event<'a> {
    sink: &'a Arc<dyn AuditSink>,
    event: AuditEvent,
}

impl Event<'_> {
    pub fn client(mut self, id: &str) -> Self {
        self.event.actors.client = Some(Actor { id: id.to_owned(), kind: "CLIENT" });
        self
    }

    pub fn user(mut self, id: &str) -> Self {
        self.event.actors.user = Some(Actor { id: id.to_owned(), kind: "USER" });
        self
    }

    /// `kind` is PingOne's resource type (`USER`, `APPLICATION`, `FLOW`, `GRANT`, `SESSION`,
    /// `ACCESS_TOKEN`); `id` an identifier that is no credential.
    pub fn resource(mut self, kind: &'static str, id: &str) -> Self {
        self.event.resources.push(Resource { kind, id: id.to_owned() });
        self
    }

    /// Records the event.
    pub fn emit(self) {
        self.sink.record(&self.event);
    }
}

/// Builds an event of `action` with `status` in `environment`, stamped `now_ms`.
pub fn event<'a>(
    sink: &'a Arc<dyn AuditSink>,
    now_ms: i64,
    environment: &str,
    action: Action,
    status: Status,
    description: &str,
) -> Event<'a> {
    Event {
        sink,
        event: AuditEvent {
            id: uuid::Uuid::new_v4().to_string(),
            recorded_at: crate::flows::view::iso_ms(now_ms),
            correlation_id: correlation_id(),
            environment: IdRef { id: environment.to_owned() },
            action: ActionField { kind: action },
            result: ResultField { status, description: description.to_owned() },
            actors: Actors::default(),
            resources: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_have_pingones_shape_and_the_requests_correlation_id() {
        let recorder = Arc::new(Recorder::default());
        let sink: Arc<dyn AuditSink> = recorder.clone();
        with_correlation_id("corr-1".into(), async {
            event(&sink, 0, "env", Action::PasswordCheck, Status::Failed, "Wrong credentials.")
                .client("c")
                .user("u")
                .resource("USER", "u")
                .emit();
        })
        .await;
        let events = recorder.take();
        let json = serde_json::to_value(&events[0]).unwrap();
        assert_eq!(json["correlationId"], "corr-1");
        assert_eq!(json["action"]["type"], "PASSWORD.CHECK");
        assert_eq!(json["result"]["status"], "FAILED");
        assert_eq!(json["actors"]["client"], serde_json::json!({"id": "c", "type": "CLIENT"}));
        assert_eq!(json["resources"][0], serde_json::json!({"type": "USER", "id": "u"}));
        assert_eq!(json["environment"]["id"], "env");
        assert_eq!(json["recordedAt"], "1970-01-01T00:00:00.000Z");
    }
}
