//! Cold start of every Lambda binary: the time from exec to its first call to the Lambda runtime
//! API's `next` endpoint (config, store client, keys and handlers all built by then), median of 20
//! runs, and the peak RSS at that moment. A fake runtime API on loopback answers nothing.
//!
//! `cargo run -p blackbox --bin cold-start -- [DIR_WITH_BINARIES] [RUNS]`
//! DIR defaults to `$CARGO_TARGET_DIR/release` (build with `cargo build --release -p functions`).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use shared::routes::ROUTES;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let dir = args.first().map(PathBuf::from).unwrap_or_else(|| PathBuf::from(target).join("release"));
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(20);
    let (es, rs) = shared::tokens::Signer::generate_pem();
    let mut names: Vec<&str> = ROUTES.iter().map(|r| r.endpoint.function_name()).collect();
    names.sort_unstable();
    names.dedup();
    println!("{:<22} {:>12} {:>12} {:>14}", "function", "median ms", "max ms", "peak RSS KiB");
    for name in names {
        let bin = dir.join(name);
        if !bin.exists() {
            println!("{name:<22} missing: {}", bin.display());
            continue;
        }
        let mut times = Vec::new();
        let mut rss = 0;
        for _ in 0..runs {
            let (elapsed, peak) = measure(&bin, name, &es, &rs);
            times.push(elapsed);
            rss = rss.max(peak);
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("{name:<22} {:>12.2} {:>12.2} {:>14}", ms(times[times.len() / 2]), ms(times[times.len() - 1]), rss);
    }
}

/// Starts the binary against a fake runtime API; returns the time until it asks for its first
/// event and its peak resident memory then.
fn measure(bin: &Path, name: &str, es: &str, rs: &str) -> (Duration, u64) {
    let api = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = api.local_addr().unwrap().port();
    let started = Instant::now();
    let mut child = blackbox::lambda_command(bin, name, port)
        .env("STORE", "dynamodb")
        .env("TABLE_NAME", "bench")
        .env("DYNAMODB_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("HASH_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
        .env("ES256_PRIVATE_KEY", es)
        .env("RS256_PRIVATE_KEY", rs)
        .env("PUBLIC_BASE_URL", "https://auth.example.com")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the function");
    let (stream, _) = api.accept().expect("the function calls the runtime API");
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).expect("request line");
    let elapsed = started.elapsed();
    assert!(line.contains("/runtime/invocation/next"), "{name}: first call was {line}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    (elapsed, peak)
}
