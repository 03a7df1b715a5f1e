//! The rest of a request body that its handler did not read.
//!
//! A handler may answer before reading the body: an upload refused because the key exists, a
//! caller without access, a body over the limit. Over HTTP/1.1 the connection can then only be
//! closed — and closing a socket with unread bytes makes the kernel send a reset, which can
//! overtake the answer: the client (supabase-js over Node's fetch, say) then sees a network
//! failure instead of the 409 or 403 it was sent. So the body of every HTTP/1 request is wrapped:
//! if the handler drops it unfinished, a task reads the rest and throws it away — at most `cap`
//! bytes, for at most `wait` — which lets the answer arrive whole and keeps the connection for
//! the next request, as Node's own HTTP server does.
//!
//! Not wrapped: requests without a body, a body declared larger than `cap` (closing is the
//! answer), `Expect: 100-continue` (the client has not sent the body and never will), HTTP/2
//! (a stream is reset alone, the connection stays).

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::Body,
    extract::Request,
    http::{Version, header},
};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;

/// How much of an unread body is read to keep the connection, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct DrainLimits {
    /// Bytes read at most (the largest body any route accepts).
    pub cap: u64,
    /// Time spent at most.
    pub wait: Duration,
}

/// `req` with its body read to the end (within `limits`) if the handler drops it unfinished.
pub fn guard(req: Request, limits: DrainLimits) -> Request {
    let headers = req.headers();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let expects_continue = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if req.version() > Version::HTTP_11
        || expects_continue
        || declared.is_some_and(|n| n > limits.cap)
        || http_body::Body::is_end_stream(req.body())
    {
        return req;
    }
    req.map(|body| {
        Body::new(Unread {
            body: Some(body),
            limits,
        })
    })
}

/// A request body that, dropped before its end, is read to the end by a task of its own.
struct Unread {
    body: Option<Body>,
    limits: DrainLimits,
}

impl http_body::Body for Unread {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.body.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}

impl Drop for Unread {
    fn drop(&mut self) {
        let Some(body) = self.body.take() else { return };
        if http_body::Body::is_end_stream(&body) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let limits = self.limits;
        runtime.spawn(async move {
            let _ = tokio::time::timeout(limits.wait, discard(body, limits.cap)).await;
        });
    }
}

/// Reads `body` to its end, or until more than `cap` bytes or an error.
async fn discard(mut body: Body, cap: u64) {
    let mut read = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            read = read.saturating_add(data.len() as u64);
            if read > cap {
                return;
            }
        }
    }
}
