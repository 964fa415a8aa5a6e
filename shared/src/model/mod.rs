//! The records: the directory (environments, applications, that is OAuth clients, populations
//! and users, with PingOne's property names) here, grants and flows in their modules.

pub mod application;
pub mod directory;
pub mod flow;
pub mod grant;

pub use application::*;
pub use directory::*;

/// Usernames are matched case-insensitively, as PingOne does.
pub fn username_key(username: &str) -> String {
    username.trim().to_lowercase()
}
