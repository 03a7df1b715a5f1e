//! The server loop (`bizbase::http::server`): a deadline for a request's head, the peer's address
//! for handlers, and a graceful stop that lets requests in flight finish. These tests serve a
//! small router of their own: what is under test is the loop, not the application.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, extract::ConnectInfo, routing::get};
use bizbase::http::server::serve;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{Notify, oneshot},
};

const HEAD_TIMEOUT: Duration = Duration::from_millis(400);

/// `/peer` answers the caller's address; `/slow` tells `started`, then answers after 600 ms.
fn router(started: Arc<Notify>) -> Router {
    Router::new()
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/slow",
            get(|| async move {
                started.notify_one();
                tokio::time::sleep(Duration::from_millis(600)).await;
                "done"
            }),
        )
}

async fn start(shutdown: impl Future<Output = ()> + Send + 'static) -> (SocketAddr, Arc<Notify>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let started = Arc::new(Notify::new());
    tokio::spawn(serve(
        listener,
        router(started.clone()),
        HEAD_TIMEOUT,
        shutdown,
    ));
    (addr, started)
}

/// Writes `request` and reads until the server closes the connection (or 5 s pass).
async fn exchange(stream: &mut TcpStream, request: &str) -> String {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_request_head_not_finished_in_time_loses_its_connection() {
    let (addr, _) = start(std::future::pending()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();

    let started = tokio::time::Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;

    assert!(read.is_ok(), "the connection is still open after 5 s");
    assert!(
        rest.is_empty(),
        "no answer: {}",
        String::from_utf8_lossy(&rest)
    );
    assert!(started.elapsed() >= HEAD_TIMEOUT - Duration::from_millis(50));
}

#[tokio::test]
async fn cleartext_http2_is_not_served() {
    // HTTP/2 with prior knowledge: its connection preface and an empty SETTINGS frame. Served, it
    // got a SETTINGS frame back and an open connection without any deadline.
    let (addr, _) = start(std::future::pending()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();

    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;

    assert!(read.is_ok(), "the connection is still open after 5 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 "),
        "an HTTP/2 answer: {answer:?}"
    );
}

#[tokio::test]
async fn a_head_sent_in_time_is_answered_with_the_peer_address() {
    let (addr, _) = start(std::future::pending()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let local = stream.local_addr().unwrap();

    let answer = exchange(
        &mut stream,
        "GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;

    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(&local.to_string()), "{answer}");
}

#[tokio::test]
async fn stopping_lets_a_request_in_flight_finish_and_accepts_no_more() {
    let (stop, stopped) = oneshot::channel::<()>();
    let (addr, started) = start(async {
        stopped.await.ok();
    })
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let in_flight = tokio::spawn(async move {
        exchange(
            &mut stream,
            "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
    });
    started.notified().await;

    stop.send(()).unwrap();
    let answer = in_flight.await.unwrap();

    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("done"), "{answer}");
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}
