//! `bench-floor ADDR BODY_FILE CONTENT_TYPE`: answers every request with 200, `CONTENT_TYPE` and
//! the bytes of `BODY_FILE`, over HTTP/1.1 keep-alive on a multi-threaded tokio runtime, with
//! nothing else: what this machine gives hyper alone, the benchmark's floor.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, body_file, content_type] = &args[..] else {
        eprintln!("usage: bench-floor ADDR BODY_FILE CONTENT_TYPE");
        std::process::exit(2);
    };
    let body = Bytes::from(std::fs::read(body_file).expect("the body file"));
    let content_type = hyper::header::HeaderValue::from_str(content_type).expect("a content type");
    let listener = tokio::net::TcpListener::bind(addr).await.expect("the address");
    println!("floor listening on http://{}", listener.local_addr().expect("bound"));
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let (body, content_type) = (body.clone(), content_type.clone());
        tokio::spawn(async move {
            let service = service_fn(move |_req| {
                let mut response = hyper::Response::new(Full::new(body.clone()));
                response.headers_mut().insert(hyper::header::CONTENT_TYPE, content_type.clone());
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
