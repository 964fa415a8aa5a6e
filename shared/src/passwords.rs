//! Password hashing with argon2id (RFC 9106), verified in constant time.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// An argon2id PHC string for `password` (argon2 crate defaults: m=19 MiB, t=2, p=1, OWASP's
/// minimum recommendation).
pub fn hash_password(password: &str) -> String {
    let salt_bytes = crate::clock::random_bytes::<16>(&crate::clock::OsRandom);
    let salt = SaltString::encode_b64(&salt_bytes).expect("a 16-byte salt encodes");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters")
        .to_string()
}

/// Whether `password` matches `phc`. A malformed stored hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spends the same work as a real check, for unknown usernames, so response time does not
/// reveal which usernames exist.
pub fn burn_equivalent_time(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not a real password"));
    let _ = verify_password(password, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_right_password() {
        let phc = hash_password("demo-password");
        assert!(phc.starts_with("$argon2id$"));
        assert!(!phc.contains("demo-password"));
        assert!(verify_password("demo-password", &phc));
        assert!(!verify_password("demo-passwore", &phc));
        assert!(!verify_password("demo-password", "garbage"));
    }
}
