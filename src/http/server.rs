//! The HTTP server: the router on hyper's HTTP/1.1 connections, as `axum::serve` runs it, plus the
//! one thing `axum::serve` cannot be told — a deadline for a request's head. Without
//! one, a client that sends its headers a byte at a time (or never finishes them) holds its
//! connection, and a file descriptor, for as long as it likes.

use std::{future::Future, net::SocketAddr, time::Duration};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::{Request, body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long a client has to send a request's line and headers, counted from when the server
/// starts waiting for them — so also how long an idle keep-alive connection stays open (hyper
/// times both with one clock). Longer than the 60 s idle timeouts of common proxies (nginx's
/// upstream keep-alive, cloud load balancers), so a proxy in front closes an idle connection
/// first rather than sending a request down one bizbase is closing.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(75);

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and waits for the
/// open connections to finish their requests (idle ones close at once). A client has
/// `head_timeout` ([`HEAD_TIMEOUT`] in `bizbase serve`) for each request's head. Handlers see the
/// peer as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    head_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    // HTTP/1.1 only. Browsers and supabase-js reach bizbase over HTTP/1.1, or over HTTP/2 to a
    // TLS proxy in front of it; cleartext HTTP/2 (prior knowledge) had none of HTTP/1's deadlines —
    // hyper has no idle or header timeout for it — so a client that opened a connection and sent
    // nothing, or half a HEADERS frame, kept it for good.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    refused(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            app.clone().oneshot(request.map(Body::new))
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A failed `accept`: a connection the peer gave up on is nothing; anything else (out of file
/// descriptors, say) is logged, and accepting pauses a second so open connections can close.
async fn refused(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
