//! Prints fresh server secrets as environment variables: the hashing key and both signing keys.
//!
//! `cargo run -q -p local-server --bin generate-keys > secrets.env`
//! For a rotation, move the current signing keys to `PREVIOUS_ES256_PRIVATE_KEY` /
//! `PREVIOUS_RS256_PRIVATE_KEY` and put the new ones in place (see the README).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

fn main() {
    let (es256, rs256) = shared::tokens::Signer::generate_pem();
    let hash_key = shared::clock::random_bytes::<32>(&shared::clock::OsRandom);
    println!("HASH_KEY={}", B64.encode(hash_key));
    println!("ES256_PRIVATE_KEY=\"{}\"", es256.trim_end());
    println!("RS256_PRIVATE_KEY=\"{}\"", rs256.trim_end());
}
