//! Password hashing with argon2id (RFC 9106), verified in constant time, off the async workers.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

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

/// A hash no password matches in practice, checked for unknown and disabled users so that the
/// answer takes as long as for a real one.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a real password"))
}

/// Runs an argon2 job on the blocking pool, at most one per core at a time: each takes 19 MiB and
/// tens of milliseconds of CPU, and must neither stall other requests nor pile up memory. `None`
/// when the pool is gone (the runtime is shutting down).
async fn off_the_workers<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));
    let _slot = slots.acquire().await.ok()?;
    tokio::task::spawn_blocking(job).await.ok()
}

/// Checks `password` against `phc` (or, when there is no user, against a dummy hash with the same
/// cost), off the async workers (`off_the_workers`).
pub async fn check_password(password: &str, phc: Option<&str>) -> bool {
    let (password, real) = (password.to_owned(), phc.map(str::to_owned));
    off_the_workers(move || match real {
        Some(phc) => verify_password(&password, &phc),
        None => {
            let _ = verify_password(&password, dummy_hash());
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// `hash_password` off the async workers (`off_the_workers`); `None` if the runtime is going away.
pub async fn hash_password_off_workers(password: &str) -> Option<String> {
    let password = password.to_owned();
    off_the_workers(move || hash_password(&password)).await
}

/// The shortest and longest password the default policy takes, in characters.
pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 255;

/// The default password policy, after PingOne's "Standard" policy (PING-MGMT §8: cleartext values
/// are checked against the policy) kept simple: 8 to 255 characters, an upper-case letter, a
/// lower-case letter and a digit, not only white space. Each unmet rule as one English sentence;
/// empty when the password passes. The sign-on flow's `password.reset` and the management API's
/// password set both judge by it.
pub fn policy_failures(password: &str) -> Vec<String> {
    let length = password.chars().count();
    let has = |test: fn(char) -> bool| password.chars().any(test);
    let mut failures = Vec::new();
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        failures.push(format!("The password must be {MIN_LENGTH} to {MAX_LENGTH} characters long."));
    }
    if !has(char::is_uppercase) {
        failures.push("The password must contain an upper-case letter.".to_owned());
    }
    if !has(char::is_lowercase) {
        failures.push("The password must contain a lower-case letter.".to_owned());
    }
    if !has(|c| c.is_ascii_digit()) {
        failures.push("The password must contain a digit (0-9).".to_owned());
    }
    if password.chars().all(char::is_whitespace) {
        failures.push("The password must not be only white space.".to_owned());
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_names_each_unmet_rule() {
        assert!(policy_failures("Device-Pass1").is_empty());
        assert_eq!(policy_failures("short1A").len(), 1);
        assert_eq!(policy_failures("alllowercase").len(), 2, "no upper case, no digit");
        assert_eq!(policy_failures("        ").len(), 4);
        assert!(policy_failures(&format!("Aa1{}", "x".repeat(253)))[0].contains("8 to 255"));
    }

    /// The check runs off the async worker: on a one-thread runtime another task keeps running
    /// while argon2 works.
    #[test]
    fn checks_leave_the_async_worker_free() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let phc = hash_password("demo-password");
            let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
            let counting = ticks.clone();
            let ticker = tokio::spawn(async move {
                loop {
                    counting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
            });
            assert!(check_password("demo-password", Some(&phc)).await);
            assert!(!check_password("wrong", Some(&phc)).await);
            assert!(!check_password("demo-password", None).await, "no user: the dummy hash, no match");
            ticker.abort();
            assert!(ticks.load(std::sync::atomic::Ordering::SeqCst) > 10, "the worker ran other tasks meanwhile");
        });
    }

    #[test]
    fn hashes_verify_only_the_right_password() {
        let phc = hash_password("demo-password");
        assert!(phc.starts_with("$argon2id$"));
        assert!(!phc.contains("demo-password"));
        assert!(verify_password("demo-password", &phc));
        assert!(!verify_password("demo-passwore", &phc));
        assert!(!verify_password("demo-password", "garbage"));
    }

    #[test]
    fn the_policy_names_every_unmet_rule() {
        assert!(policy_failures("Tr0ub4dor").is_empty());
        assert!(policy_failures("Ab1 defg").is_empty(), "spaces inside are fine");
        assert!(policy_failures("Ñandú2024").is_empty(), "letters of any script");
        assert_eq!(policy_failures("Ab1defg"), ["The password must be 8 to 255 characters long."]);
        assert!(policy_failures(&format!("Ab1{}", "x".repeat(252))).is_empty(), "255 characters");
        assert_eq!(
            policy_failures(&format!("Ab1{}", "x".repeat(253))),
            ["The password must be 8 to 255 characters long."]
        );
        assert_eq!(
            policy_failures(&"é".repeat(8)).len(),
            2,
            "characters, not bytes: only the upper case and digit miss"
        );
        assert_eq!(policy_failures("abcdefg1"), ["The password must contain an upper-case letter."]);
        assert_eq!(policy_failures("ABCDEFG1"), ["The password must contain a lower-case letter."]);
        assert_eq!(policy_failures("Abcdefgh"), ["The password must contain a digit (0-9)."]);
        assert_eq!(
            policy_failures("        "),
            [
                "The password must contain an upper-case letter.",
                "The password must contain a lower-case letter.",
                "The password must contain a digit (0-9).",
                "The password must not be only white space.",
            ]
        );
        assert_eq!(policy_failures("").len(), 5, "short, and every kind of character missing");
    }

    #[tokio::test]
    async fn hashes_made_off_the_workers_verify() {
        let phc = hash_password_off_workers("Tr0ub4dor").await.unwrap();
        assert!(check_password("Tr0ub4dor", Some(&phc)).await);
    }
}
