//! Keyed hashing and sealing with the server secret.
//!
//! Nothing secret is stored raw (DESIGN "State"): device codes, user codes, client secrets and
//! refresh tokens are stored as HMAC-SHA-256 under a server key, each with its own purpose label so a
//! hash of one kind can never be confused with another. The same key MACs the small values the
//! server hands out and takes back unchanged (flow ids, the `ST` session cookie).

use aws_lc_rs::{aead, hmac};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;

/// What a hash or seal is for; part of the MAC input, so purposes never collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    DeviceCode,
    UserCode,
    ClientSecret,
    RefreshToken,
    FlowId,
    SessionCookie,
    Csrf,
    AuthorizationCode,
    /// A flow's binding to the browser key that started it (`browser`).
    FlowBinding,
    /// The keys of the guessing and sign-on counters (no raw address or username is stored).
    Counter,
    /// The key that encrypts client secrets at rest (`Hasher::encrypt`).
    SecretEncryption,
    /// The store key of a used client assertion (its client and `jti`).
    ClientAssertion,
    /// A user code a browser verified and holds until consent (`flows::verified`).
    VerifiedCode,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::DeviceCode => b"device_code",
            Purpose::UserCode => b"user_code",
            Purpose::ClientSecret => b"client_secret",
            Purpose::RefreshToken => b"refresh_token",
            Purpose::FlowId => b"flow_id",
            Purpose::SessionCookie => b"session_cookie",
            Purpose::Csrf => b"csrf",
            Purpose::AuthorizationCode => b"authorization_code",
            Purpose::FlowBinding => b"flow_binding",
            Purpose::Counter => b"counter",
            Purpose::SecretEncryption => b"secret_encryption",
            Purpose::ClientAssertion => b"client_assertion",
            Purpose::VerifiedCode => b"verified_code",
        }
    }
}

/// Length of the truncated tag on sealed values: 128 bits.
const SEAL_TAG_LEN: usize = 16;

/// The server's hashing key. Built once at start; cheap to share.
pub struct Hasher {
    key: hmac::Key,
    /// AES-256-GCM key derived from the server secret, for values an API must give back
    /// (PingOne's `GET .../secret`): stored encrypted, never hashed.
    cipher: aead::LessSafeKey,
}

/// AES-GCM nonce length: 96 bits, drawn at random per encryption.
const NONCE_LEN: usize = aead::NONCE_LEN;

impl Hasher {
    /// `secret` should be at least 32 random bytes (see `config`).
    pub fn new(secret: &[u8]) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let derived = hmac::sign(&key, Purpose::SecretEncryption.label());
        let unbound =
            aead::UnboundKey::new(&aead::AES_256_GCM, derived.as_ref()).expect("a 32-byte key makes an AES-256 key");
        Self { key, cipher: aead::LessSafeKey::new(unbound) }
    }

    /// `plaintext` encrypted (AES-256-GCM, random nonce), base64url; `context` (an environment
    /// and client id) is authenticated, so a ciphertext moved to another record does not open.
    pub fn encrypt(&self, context: &str, plaintext: &str) -> String {
        let nonce_bytes = crate::clock::random_bytes::<NONCE_LEN>(&crate::clock::OsRandom);
        let mut data = plaintext.as_bytes().to_vec();
        let nonce = aead::Nonce::assume_unique_for_key(nonce_bytes);
        self.cipher
            .seal_in_place_append_tag(nonce, aead::Aad::from(context.as_bytes()), &mut data)
            .expect("AES-GCM seals any plaintext below 64 GiB");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&data);
        B64.encode(out)
    }

    /// `plaintext` encrypted for `purpose` (`encrypt` with the purpose's label authenticated
    /// too: no other purpose's ciphertext opens as this one's, nor a client secret's).
    pub fn encrypt_for(&self, purpose: Purpose, context: &str, plaintext: &str) -> String {
        self.encrypt(&purpose_context(purpose, context), plaintext)
    }

    /// The plaintext of a value made by `encrypt_for` with the same purpose and context.
    pub fn decrypt_for(&self, purpose: Purpose, context: &str, ciphertext: &str) -> Option<String> {
        self.decrypt(&purpose_context(purpose, context), ciphertext)
    }

    /// The plaintext of a value made by `encrypt` with the same `context`, or `None`.
    pub fn decrypt(&self, context: &str, ciphertext: &str) -> Option<String> {
        let raw = B64.decode(ciphertext).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = sealed.to_vec();
        let plain = self.cipher.open_in_place(nonce, aead::Aad::from(context.as_bytes()), &mut data).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }

    fn tag(&self, purpose: Purpose, parts: &[&[u8]]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(purpose.label());
        for part in parts {
            // Length-prefix every part so ("ab","c") and ("a","bc") differ.
            ctx.update(&(part.len() as u32).to_be_bytes());
            ctx.update(part);
        }
        ctx.sign()
    }

    /// The keyed hash of `value` for `purpose`, base64url: what the store keeps instead of `value`.
    /// `scope` binds the hash to a context (an environment id), or is empty.
    pub fn digest(&self, purpose: Purpose, scope: &str, value: &str) -> String {
        B64.encode(self.tag(purpose, &[scope.as_bytes(), value.as_bytes()]))
    }

    /// The raw MAC of `value` for `purpose` under `scope` (32 bytes).
    pub fn mac(&self, purpose: Purpose, scope: &str, value: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.tag(purpose, &[scope.as_bytes(), value]).as_ref());
        out
    }

    /// Constant-time check of `value` against a stored digest.
    pub fn verify(&self, purpose: Purpose, scope: &str, value: &str, digest: &str) -> bool {
        let Ok(expected) = B64.decode(digest) else {
            return false;
        };
        let tag = self.tag(purpose, &[scope.as_bytes(), value.as_bytes()]);
        aws_lc_rs::constant_time::verify_slices_are_equal(tag.as_ref(), &expected).is_ok()
    }

    /// `payload` with a MAC appended, base64url. Integrity only: never seal a secret. The MAC
    /// also covers `context` (an environment id), which is not included.
    pub fn seal(&self, purpose: Purpose, context: &str, payload: &[u8]) -> String {
        let tag = self.tag(purpose, &[context.as_bytes(), payload]);
        let mut out = payload.to_vec();
        out.extend_from_slice(&tag.as_ref()[..SEAL_TAG_LEN]);
        B64.encode(out)
    }

    /// The payload of a value made by `seal`, or `None` if it was not made here for `purpose`.
    pub fn open(&self, purpose: Purpose, context: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = B64.decode(sealed).ok()?;
        let split = raw.len().checked_sub(SEAL_TAG_LEN)?;
        let (payload, tag) = raw.split_at(split);
        let expected = self.tag(purpose, &[context.as_bytes(), payload]);
        aws_lc_rs::constant_time::verify_slices_are_equal(&expected.as_ref()[..SEAL_TAG_LEN], tag).ok()?;
        Some(payload.to_vec())
    }
}

/// The context `encrypt_for` authenticates: the purpose's label, a NUL (which no client-secret
/// context holds), then `context`.
fn purpose_context(purpose: Purpose, context: &str) -> String {
    format!("{}\0{context}", String::from_utf8_lossy(purpose.label()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_depend_on_purpose_scope_and_key() {
        let h = Hasher::new(b"0123456789abcdef0123456789abcdef");
        let a = h.digest(Purpose::UserCode, "env1", "BCDF-GHJK");
        assert_eq!(a, h.digest(Purpose::UserCode, "env1", "BCDF-GHJK"));
        assert_ne!(a, h.digest(Purpose::UserCode, "env2", "BCDF-GHJK"));
        assert_ne!(a, h.digest(Purpose::DeviceCode, "env1", "BCDF-GHJK"));
        let other = Hasher::new(b"another key, also thirty-two b..");
        assert_ne!(a, other.digest(Purpose::UserCode, "env1", "BCDF-GHJK"));
        assert!(h.verify(Purpose::UserCode, "env1", "BCDF-GHJK", &a));
        assert!(!h.verify(Purpose::UserCode, "env1", "BCDF-GHJL", &a));
        assert!(!h.verify(Purpose::UserCode, "env1", "BCDF-GHJK", "not base64!"));
    }

    #[test]
    fn encrypted_values_open_only_in_their_context_and_unchanged() {
        let h = Hasher::new(b"0123456789abcdef0123456789abcdef");
        let a = h.encrypt("env/app", "s3cret");
        assert_ne!(a, h.encrypt("env/app", "s3cret"), "a fresh nonce each time");
        assert!(!a.contains("s3cret"));
        assert_eq!(h.decrypt("env/app", &a).as_deref(), Some("s3cret"));
        assert_eq!(h.decrypt("env/other", &a), None);
        assert_eq!(Hasher::new(b"another key, also thirty-two b..").decrypt("env/app", &a), None);
        let mut tampered = a.into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(h.decrypt("env/app", std::str::from_utf8(&tampered).unwrap()), None);
        assert_eq!(h.decrypt("env/app", "short"), None);
    }

    #[test]
    fn sealed_values_open_only_for_their_purpose_and_unchanged() {
        let h = Hasher::new(b"0123456789abcdef0123456789abcdef");
        let sealed = h.seal(Purpose::FlowId, "env1", b"payload");
        assert_eq!(h.open(Purpose::FlowId, "env1", &sealed).as_deref(), Some(&b"payload"[..]));
        assert_eq!(h.open(Purpose::FlowId, "env2", &sealed), None);
        assert_eq!(h.open(Purpose::SessionCookie, "env1", &sealed), None);
        let mut tampered = sealed.into_bytes();
        tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
        assert_eq!(h.open(Purpose::FlowId, "env1", std::str::from_utf8(&tampered).unwrap()), None);
        assert_eq!(h.open(Purpose::FlowId, "env1", "short"), None);
        assert_eq!(h.open(Purpose::FlowId, "env1", "%%%"), None);
    }
}
