//! A Ping-compatible OAuth 2.0 / OpenID Connect authorization server: everything that is not
//! wiring. Entry points (Lambda functions, the local server) build an [`App`] once and hand
//! requests to [`routes::dispatch`].

pub mod app;
pub mod audit;
pub mod aws;
pub mod bootstrap;
pub mod browser;
pub mod certificate;
pub mod client_auth;
pub mod clock;
pub mod codes;
pub mod config;
pub mod context;
pub mod demo;
pub mod endpoints;
pub mod error;
pub mod flows;
pub mod grants;
pub mod hashing;
pub mod http;
pub mod management;
pub mod model;
pub mod pages;
pub mod passwords;
pub mod routes;
pub mod secrets;
pub mod sessions;
pub mod store;
pub mod tokens;

pub use app::{App, Dialect};
pub use config::Settings;
