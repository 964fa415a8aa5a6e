//! The demo data the local server starts with (documented in the README).

use crate::app::App;
use crate::config::DEFAULT_ENVIRONMENT_ID;
use crate::model::{AppType, Application, GrantType, TokenEndpointAuthMethod, User};
use crate::store::StoreResult;

pub const ENVIRONMENT_ID: &str = DEFAULT_ENVIRONMENT_ID;
pub const DEVICE_APP_ID: &str = "00000000-0000-4000-8000-0000000000d1";
pub const WEB_APP_ID: &str = "00000000-0000-4000-8000-0000000000a1";
pub const WEB_APP_SECRET: &str = "demo-web-secret";
pub const WEB_APP_REDIRECT_URI: &str = "http://127.0.0.1:8400/callback";
pub const WEB_APP_POST_LOGOUT_URI: &str = "http://127.0.0.1:8400/signed-out";
pub const USER_ID: &str = "00000000-0000-4000-8000-0000000000e1";
pub const ADMIN_APP_ID: &str = "00000000-0000-4000-8000-0000000000b1";
pub const ADMIN_APP_SECRET: &str = "demo-admin-secret";
pub const POPULATION_ID: &str = "00000000-0000-4000-8000-0000000000c1";
pub const USERNAME: &str = "demo";
pub const PASSWORD: &str = "demo-password";
/// `PASSWORD` hashed with this server's Argon2id parameters, once: the password is public, and
/// hashing it at every start would cost each start about 20 MB of memory and 30 ms.
const PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$xIi53rngrB7M54DKaWoo5w$gtkW2YOaARH26SMNZ9DzxlgfQDmQIkmeMZL41+TUnS0";

/// The public device application (a TV or CLI).
pub fn device_app() -> Application {
    let mut app = Application::new(ENVIRONMENT_ID, DEVICE_APP_ID, "Demo TV");
    app.grant_types = vec![GrantType::DeviceCode, GrantType::RefreshToken];
    app.scopes = ["openid", "profile", "email", "offline_access"].map(String::from).to_vec();
    app.device_path_id = Some("tv".to_owned());
    app
}

/// The confidential web application.
pub fn web_app(app: &App) -> Application {
    let mut web = Application::new(ENVIRONMENT_ID, WEB_APP_ID, "Demo Web App");
    web.grant_types = vec![GrantType::AuthorizationCode, GrantType::DeviceCode, GrantType::RefreshToken];
    web.token_endpoint_auth_method = TokenEndpointAuthMethod::ClientSecretBasic;
    web.app_type = AppType::WebApp;
    web.set_secret(&app.hasher, WEB_APP_SECRET, None);
    web.scopes = ["openid", "profile", "email", "offline_access"].map(String::from).to_vec();
    web.redirect_uris = vec![WEB_APP_REDIRECT_URI.to_owned()];
    web.post_logout_redirect_uris = vec![WEB_APP_POST_LOGOUT_URI.to_owned()];
    web
}

/// The admin worker application: every role over the demo environment and the organization.
pub fn admin_app(app: &App) -> Application {
    let mut admin = crate::bootstrap::admin_worker(&app.hasher, ENVIRONMENT_ID, ADMIN_APP_ID, ADMIN_APP_SECRET, true);
    admin.name = "Demo Admin Worker".to_owned();
    admin
}

pub fn user() -> User {
    let mut user = User::new(ENVIRONMENT_ID, USER_ID, USERNAME, Some(PASSWORD_HASH.to_owned()));
    user.population_id = POPULATION_ID.to_owned();
    user.given_name = Some("Demo".to_owned());
    user.family_name = Some("User".to_owned());
    user.email = Some("demo@example.com".to_owned());
    user
}

/// Writes the demo environment into the app's store.
pub async fn seed(app: &App) -> StoreResult<()> {
    crate::bootstrap::environment(app, ENVIRONMENT_ID, "Demo", POPULATION_ID).await?;
    app.store.put_application(&admin_app(app)).await?;
    app.store.put_application(&device_app()).await?;
    app.store.put_application(&web_app(app)).await?;
    app.store.put_user(&user()).await?;
    app.invalidate_applications(ENVIRONMENT_ID);
    Ok(())
}

/// The demo data as the server prints it at start.
pub fn describe(base_url: &str) -> String {
    format!(
        "Demo environment {ENVIRONMENT_ID} (also the PingFederate default)\n\
         \x20 device app  client_id={DEVICE_APP_ID} (public; DEVICE_CODE, REFRESH_TOKEN; devicePathId tv)\n\
         \x20 web app     client_id={WEB_APP_ID} secret={WEB_APP_SECRET} (client_secret_basic; redirect {WEB_APP_REDIRECT_URI})\n\
         \x20 admin       client_id={ADMIN_APP_ID} secret={ADMIN_APP_SECRET} (WORKER; all four roles; management API)\n\
         \x20 user        {USERNAME} / {PASSWORD}\n\
         Try: curl -s -d client_id={DEVICE_APP_ID} -d scope=openid {base_url}/{ENVIRONMENT_ID}/as/device_authorization"
    )
}

#[cfg(test)]
mod password_hash_tests {
    #[tokio::test]
    async fn the_stored_demo_hash_is_the_demo_password_under_the_servers_parameters() {
        assert!(crate::passwords::check_password(super::PASSWORD, Some(super::PASSWORD_HASH)).await);
        assert!(!crate::passwords::check_password("demo-passwore", Some(super::PASSWORD_HASH)).await);
        let fresh = crate::passwords::hash_password(super::PASSWORD);
        let params = |phc: &str| phc.split('$').take(4).collect::<Vec<_>>().join("$");
        assert_eq!(params(&fresh), params(super::PASSWORD_HASH), "same algorithm, version and cost");
    }
}
