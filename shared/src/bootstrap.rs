//! The first credential (PING-MGMT §4.2-4.3): PingOne's admin console creates the first worker
//! application by hand; here `bootstrap` (infra/local-server `--bin bootstrap`) creates an
//! environment with its default population and an admin worker holding Environment Admin,
//! Identity Data Admin and Client Application Developer over it (and Organization Admin when
//! asked). Running it again changes nothing and shows no secret.

use crate::app::App;
use crate::hashing::Hasher;
use crate::model::{
    AppType, Application, Environment, GrantType, Role, RoleAssignment, ScopeType, TokenEndpointAuthMethod,
    ORGANIZATION_ID,
};
use crate::store::{Applied, Expect, Kind, Record, RecordKey, StoreError, StoreResult};

/// The name of the worker `bootstrap` creates.
pub const ADMIN_WORKER_NAME: &str = "Admin Worker";

/// A worker application (client credentials, `CLIENT_SECRET_BASIC`) with the admin roles over
/// `environment_id`, and Organization Admin over the organization if `org_admin`.
pub fn admin_worker(hasher: &Hasher, environment_id: &str, id: &str, secret: &str, org_admin: bool) -> Application {
    let mut app = Application::new(environment_id, id, ADMIN_WORKER_NAME);
    app.app_type = AppType::Worker;
    app.grant_types = vec![GrantType::ClientCredentials];
    app.token_endpoint_auth_method = TokenEndpointAuthMethod::ClientSecretBasic;
    app.scopes = Vec::new();
    app.set_secret(hasher, secret, None);
    let assignment = |n: u8, role, scope_type, scope_id: &str| RoleAssignment {
        // Stable ids, so seeding the same worker twice writes the same record.
        id: format!("{}{n:02}", &id[..id.len().saturating_sub(2)]),
        role,
        scope_type,
        scope_id: scope_id.to_owned(),
        created_ms: 0,
    };
    app.role_assignments = vec![
        assignment(1, Role::EnvironmentAdmin, ScopeType::Environment, environment_id),
        assignment(2, Role::IdentityDataAdmin, ScopeType::Environment, environment_id),
        assignment(3, Role::ClientApplicationDeveloper, ScopeType::Environment, environment_id),
    ];
    if org_admin {
        app.role_assignments.push(assignment(4, Role::OrganizationAdmin, ScopeType::Organization, ORGANIZATION_ID));
    }
    app
}

/// Makes sure environment `id` exists with a default population (`population_id` if it has to
/// create one). Harmless when both exist.
pub async fn environment(app: &App, id: &str, name: &str, population_id: &str) -> StoreResult<()> {
    let now = app.clock.now_ms();
    let key = RecordKey::new(id, Kind::Environment, id);
    if app.store.get_record(&key).await?.is_none() {
        let env = Environment {
            id: id.to_owned(),
            name: name.to_owned(),
            description: None,
            env_type: "SANDBOX".to_owned(),
            region: "NA".to_owned(),
            created_ms: now,
            updated_ms: now,
            revision: 0,
        };
        created(app.store.apply(&Record::Environment(env).replacing(None, Expect::Absent)).await?)?;
    }
    if app.store.list_records(id, Kind::Population).await?.is_empty() {
        let mut population = crate::management::populations::default_population(id, now);
        population.id = population_id.to_owned();
        created(app.store.apply(&Record::Population(population).replacing(None, Expect::Absent)).await?)?;
    }
    Ok(())
}

fn created(applied: Applied) -> StoreResult<()> {
    match applied {
        Applied::Applied => Ok(()),
        Applied::Conflict(_) => Err(StoreError::Corrupt("a record with this name or id exists already".into())),
    }
}

/// What `bootstrap` made or found.
#[derive(Debug)]
pub struct Bootstrapped {
    pub environment_id: String,
    pub client_id: String,
    /// The worker's secret when it was created now; never shown again.
    pub secret: Option<String>,
}

/// Finds or creates the environment named `name` and its admin worker.
pub async fn bootstrap(app: &App, name: &str, org_admin: bool) -> StoreResult<Bootstrapped> {
    let environments = app.store.list_records("", Kind::Environment).await?;
    let existing = environments.iter().find_map(|r| match r {
        Record::Environment(e) if e.name.eq_ignore_ascii_case(name) => Some(e.id.clone()),
        _ => None,
    });
    let environment_id = existing.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    environment(app, &environment_id, name, &uuid::Uuid::new_v4().to_string()).await?;
    let workers = app.store.list_applications(&environment_id).await?;
    if let Some(worker) = workers.iter().find(|a| a.app_type == AppType::Worker && a.name == ADMIN_WORKER_NAME) {
        return Ok(Bootstrapped { environment_id, client_id: worker.client_id.clone(), secret: None });
    }
    let client_id = uuid::Uuid::new_v4().to_string();
    let secret = crate::codes::random_token(&*app.random, 48);
    let mut worker = admin_worker(&app.hasher, &environment_id, &client_id, &secret, org_admin);
    let now = app.clock.now_ms();
    (worker.created_ms, worker.updated_ms) = (now, now);
    for r in &mut worker.role_assignments {
        r.id = uuid::Uuid::new_v4().to_string();
        r.created_ms = now;
    }
    created(app.store.apply(&Record::Application(worker).replacing(None, Expect::Absent)).await?)?;
    Ok(Bootstrapped { environment_id, client_id, secret: Some(secret) })
}
