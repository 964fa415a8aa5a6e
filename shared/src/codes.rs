//! User codes and device codes (RFC 8628 §3.2, §6.1).
//!
//! Both are handed to the device once and afterwards exist only as keyed hashes (`hashing`).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;

use crate::clock::Random;

/// RFC 8628 §6.1: twenty consonants, no vowels (no words), no look-alike digits.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Shortest and longest user code an application may configure.
pub const USER_CODE_LENGTHS: std::ops::RangeInclusive<usize> = 6..=12;

/// The activation code a person types, in canonical form (upper case, no separators).
#[derive(Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl UserCode {
    /// A fresh code of `len` characters, each drawn uniformly from the alphabet.
    pub fn generate(random: &dyn Random, len: usize) -> Self {
        let mut code = String::with_capacity(len);
        let mut buf = [0u8; 32];
        while code.len() < len {
            random.fill(&mut buf);
            // 240 = 12 * 20: rejecting 240..=255 keeps every letter equally likely.
            for b in buf.iter().filter(|b| **b < 240) {
                if code.len() == len {
                    break;
                }
                code.push(USER_CODE_ALPHABET[usize::from(*b % 20)] as char);
            }
        }
        Self(code)
    }

    /// Reads what a person typed: any case, with or without the dash, spaces allowed.
    /// Returns `None` when a character is outside the alphabet or the length is impossible.
    pub fn parse(input: &str) -> Option<Self> {
        let code: String =
            input.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
        let valid = USER_CODE_LENGTHS.contains(&code.len()) && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
        valid.then_some(Self(code))
    }

    /// The canonical form, the input of the keyed hash.
    pub fn canonical(&self) -> &str {
        &self.0
    }

    /// The form shown to people: groups of four joined by dashes (`BVKV-2GZ2` style).
    pub fn display(&self) -> String {
        let groups: Vec<&str> =
            self.0.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
        groups.join("-")
    }
}

impl fmt::Debug for UserCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserCode(<redacted>)")
    }
}

/// The device's secret for polling: 256 random bits, base64url (43 characters).
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceCode(String);

impl DeviceCode {
    pub fn generate(random: &dyn Random) -> Self {
        let mut bytes = [0u8; 32];
        random.fill(&mut bytes);
        Self(B64.encode(bytes))
    }

    /// Wraps a value received from a client. Any string is accepted: an unknown one simply has
    /// no grant behind its hash.
    pub fn from_client(value: &str) -> Self {
        Self(value.to_owned())
    }

    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceCode(<redacted>)")
    }
}

/// A random opaque identifier or secret of `bytes` random bytes, base64url.
pub fn random_token(random: &dyn Random, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    random.fill(&mut buf);
    B64.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SeededRandom;

    #[test]
    fn generated_codes_use_only_the_alphabet_and_display_in_groups_of_four() {
        let random = SeededRandom::new(7);
        for _ in 0..200 {
            let code = UserCode::generate(&random, 8);
            assert_eq!(code.canonical().len(), 8);
            assert!(code.canonical().bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
            let shown = code.display();
            assert_eq!(shown.len(), 9);
            assert_eq!(&shown[4..5], "-");
        }
    }

    #[test]
    fn letters_are_close_to_uniform() {
        let random = SeededRandom::new(11);
        let mut counts = [0u32; 20];
        for _ in 0..2000 {
            for b in UserCode::generate(&random, 10).canonical().bytes() {
                let i = USER_CODE_ALPHABET.iter().position(|a| *a == b).unwrap();
                counts[i] += 1;
            }
        }
        // 20000 letters, 1000 expected each; a biased modulo would skew the first 16 by ~6%.
        assert!(counts.iter().all(|c| (900..=1100).contains(c)), "{counts:?}");
    }

    #[test]
    fn typed_codes_are_normalised() {
        let expected = UserCode::parse("BCDF-GHJK").unwrap();
        for typed in ["bcdfghjk", "bcdf-ghjk", " BCDF GHJK ", "Bcdf - gHjk", "BCDFGHJK"] {
            assert_eq!(UserCode::parse(typed).as_ref(), Some(&expected), "{typed}");
        }
        assert_eq!(expected.display(), "BCDF-GHJK");
    }

    #[test]
    fn impossible_codes_are_rejected() {
        for typed in ["", "BCD", "BCDF-GHJA", "BCDF-GHJ1", "ÄBCD-GHJK", "BCDFGHJKLMNPQ"] {
            assert!(UserCode::parse(typed).is_none(), "{typed}");
        }
    }

    #[test]
    fn device_codes_carry_256_bits_and_hide_in_debug() {
        let code = DeviceCode::generate(&SeededRandom::new(3));
        assert_eq!(B64.decode(code.secret()).unwrap().len(), 32);
        assert_eq!(format!("{code:?}"), "DeviceCode(<redacted>)");
        assert!(!format!("{:?}", UserCode::parse("BCDFGHJK")).contains("BCDF"));
    }
}
