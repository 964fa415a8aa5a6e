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

/// Checks `password` against `phc` (or, when there is no user, against a dummy hash with the same
/// cost) on the blocking pool, at most one check per core at a time: each takes 19 MiB and tens
/// of milliseconds of CPU, and must neither stall other requests nor pile up memory.
pub async fn check_password(password: &str, phc: Option<&str>) -> bool {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));
    let Ok(_slot) = slots.acquire().await else {
        return false;
    };
    let (password, real) = (password.to_owned(), phc.map(str::to_owned));
    let checked = tokio::task::spawn_blocking(move || match real {
        Some(phc) => verify_password(&password, &phc),
        None => {
            let _ = verify_password(&password, dummy_hash());
            false
        }
    });
    checked.await.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
