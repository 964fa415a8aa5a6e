//! What a handler gets besides the request: the app, the dialect of the route it was reached
//! by, and the route's path parameters. Its own module so that the endpoints and the route
//! table that imports them depend on it, not on each other.

use crate::app::{App, Dialect};

/// Path parameters of a matched route; `environment_id` is the default one on PingFederate routes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PathParams {
    pub environment_id: String,
    /// The other `{name}` segments, percent-decoded, by name (without braces).
    pub values: Vec<(&'static str, String)>,
}

impl PathParams {
    /// The value of the `{name}` segment, if the route has one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    pub fn flow_id(&self) -> Option<&str> {
        self.get("flowId")
    }

    pub fn app_identifier(&self) -> Option<&str> {
        self.get("appIdentifier")
    }
}

pub struct Context<'a> {
    pub app: &'a App,
    pub dialect: Dialect,
    /// The path pattern of the matched route (`/v1/environments/{envId}/users/{userId}`), for
    /// handlers that serve several routes.
    pub pattern: &'static str,
    pub params: PathParams,
}

impl Context<'_> {
    pub fn environment_id(&self) -> &str {
        &self.params.environment_id
    }
}
