//! The smallest HTTP server answering the Retry success body: the reference that shows whether
//! the mock limits a benchmark (`scripts/bench.sh`). Prints its URL, then serves until killed.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;

const BODY: &[u8] = br#"{"id":"4a1bc63d-4719-4bd3-b1ad-5ee590b05e87","name":"cse-gve7lg","jobId":18702}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_request| async {
                let response = hyper::Response::builder()
                    .header("content-type", "application/json;charset=UTF-8")
                    .body(Full::new(Bytes::from_static(BODY)))
                    .expect("a static response is valid");
                Ok::<_, Infallible>(response)
            });
            let _ = Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
