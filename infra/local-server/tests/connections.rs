//! Probe finding F9: the local server puts up with slow and stalled clients only so long, serves a
//! bounded number of connections, backs off when it runs out of descriptors instead of spinning,
//! and answers a broken body in the endpoint's own error shape.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use local_server::{Limits, Server};
use shared::clock::{OsRandom, SystemClock};
use shared::hashing::Hasher;
use shared::store::memory::MemoryStore;
use shared::tokens::Signer;
use shared::{App, Settings};

const ENV: &str = shared::demo::ENVIRONMENT_ID;

async fn server(limits: Limits) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut settings = Settings::from_lookup(|_| None).unwrap();
    settings.public_base_url = base;
    let hasher = Hasher::new(&shared::clock::random_bytes::<32>(&OsRandom));
    let app = App::new(
        settings,
        Arc::new(MemoryStore::new()),
        hasher,
        Signer::generate(),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
    );
    shared::demo::seed(&app).await.unwrap();
    Server::serve_with(Arc::new(app), listener, limits).unwrap()
}

/// Sends `raw`, then reads until the server answers and closes, or `patience` runs out.
fn exchange(addr: std::net::SocketAddr, raw: &[u8], patience: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(patience)).unwrap();
    stream.write_all(raw).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    (String::from_utf8_lossy(&answer).into_owned(), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let limits =
        Limits { header_timeout: Duration::from_secs(1), body_timeout: Duration::from_secs(1), max_connections: 64 };
    let s = server(limits).await;
    let addr = s.addr;
    let answers = tokio::task::spawn_blocking(move || {
        let half_header = exchange(addr, b"GET /pf/JWKS HTTP/1.1\r\nHost: x\r\nX-Slow: ", Duration::from_secs(10));
        let short_body = exchange(
            addr,
            format!("POST /{ENV}/as/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=").as_bytes(),
            Duration::from_secs(10),
        );
        let broken_chunk = exchange(
            addr,
            format!("POST /{ENV}/flows/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{{}}\r\n0\r\n\r\n").as_bytes(),
            Duration::from_secs(10),
        );
        (half_header, short_body, broken_chunk)
    })
    .await
    .unwrap();
    let ((_, half_header_took), (short_body, short_body_took), (broken, _)) = answers;
    assert!(half_header_took < Duration::from_secs(5), "a stalled header is cut off: {half_header_took:?}");
    assert!(short_body_took < Duration::from_secs(5), "a missing body is cut off: {short_body_took:?}");
    assert!(short_body.starts_with("HTTP/1.1 408"), "{short_body}");
    assert!(short_body.contains("\"error\":\"invalid_request\""), "the token endpoint's shape: {short_body}");
    assert!(broken.starts_with("HTTP/1.1 400"), "a broken chunk is a bad request, not a large one: {broken}");
    assert!(broken.contains("\"code\":\"INVALID_REQUEST\""), "the flow API's shape: {broken}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_bounded() {
    let limits =
        Limits { header_timeout: Duration::from_secs(2), body_timeout: Duration::from_secs(2), max_connections: 4 };
    let s = server(limits).await;
    let addr = s.addr;
    let waited = tokio::task::spawn_blocking(move || {
        let stalled: Vec<TcpStream> = (0..4)
            .map(|_| {
                let mut c = TcpStream::connect(addr).unwrap();
                c.write_all(b"GET /pf/JWKS HTTP/1.1\r\n").unwrap();
                c
            })
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        // A fifth waits for a slot: the stalled ones hold all four until they time out.
        let (quick, _) = exchange(
            addr,
            b"GET /pf/JWKS HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_millis(500),
        );
        let (later, took) =
            exchange(addr, b"GET /pf/JWKS HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", Duration::from_secs(10));
        drop(stalled);
        (quick, later, took)
    })
    .await
    .unwrap();
    let (quick, later, took) = waited;
    assert!(quick.is_empty(), "no fifth connection is served while four are held: {quick}");
    assert!(later.starts_with("HTTP/1.1 200"), "served once the stalled ones are cut off ({took:?}): {later}");
    s.stop().await;
}

/// Out of file descriptors, the accept loop backs off: a handful of log lines, not millions, and
/// the server serves again once connections close.
#[test]
fn running_out_of_descriptors_backs_off() {
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n 48 && exec {} --addr 127.0.0.1:0", env!("CARGO_BIN_EXE_local-server")))
        .env_remove("PUBLIC_BASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start local-server with few descriptors");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let url = loop {
        let line = lines_rx.recv_timeout(Duration::from_secs(20)).expect("the server starts");
        if let Some(url) = line.strip_prefix("Ping-compatible authorization server listening on ") {
            break url.trim_start_matches("http://").to_owned();
        }
    };
    let addr: std::net::SocketAddr = url.parse().unwrap();
    let held: Vec<TcpStream> = (0..80).filter_map(|_| TcpStream::connect(addr).ok()).collect();
    std::thread::sleep(Duration::from_secs(2));
    let failures = lines_rx.try_iter().filter(|l| l.contains("accept failed")).count();
    drop(held);
    std::thread::sleep(Duration::from_millis(1500));
    let (answer, _) =
        exchange(addr, b"GET /pf/JWKS HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    assert!(failures >= 1, "the descriptors ran out (else this test tests nothing)");
    assert!(failures <= 12, "{failures} log lines in 2 s: the loop spins");
    assert!(answer.starts_with("HTTP/1.1 200"), "serves again: {answer}");
}
