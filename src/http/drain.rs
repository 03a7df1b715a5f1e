//! The rest of a request body that its handler did not read.
//!
//! A handler may answer before reading the whole body: an upload refused because the key exists,
//! a caller without access, a body over the limit. Over HTTP/1.1 the connection can then only be
//! closed — and closing a socket with unread bytes makes the kernel send a reset, which can
//! overtake the answer: the client (supabase-js over Node's fetch, say) then sees a network
//! failure instead of the 409 or 403 it was sent. So the body of every HTTP/1 request is wrapped:
//! if the handler drops it unfinished, a task reads the rest and throws it away — at most `cap`
//! bytes in all, for at most `wait` — which lets the answer arrive whole and keeps the connection
//! for the next request, as Node's own HTTP server does.
//!
//! A body must arrive within `deadline` of its head (the request timeout), read by the handler or
//! drained: past it, reading fails and the connection closes.
//!
//! Not drained: a body declared larger than `cap` (closing is the answer), one sent with
//! `Expect: 100-continue` that the handler never began to read (the client waits for the server's
//! go-ahead, which the refusal replaces), and HTTP/2 (a stream is reset alone, the connection stays).

use std::{
    future::Future,
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
use http_body_util::{BodyExt, Limited};
use tokio::time::{Instant, Sleep};

/// How much of an unread body is read to keep the connection, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct DrainLimits {
    /// Bytes of a body read at most, by the handler and the drain together (the largest body any
    /// route accepts).
    pub cap: u64,
    /// Time the drain spends at most, from the moment the handler let go of the body.
    pub wait: Duration,
    /// Time the whole body may take to arrive, from the request's head (the request timeout):
    /// past it, reading fails and the connection closes. Without it a client sending a body
    /// slowly, or not at all, held its connection and handler for as long as it liked.
    pub deadline: Duration,
}

/// `req` with its body read to the end (within `limits`) if the handler drops it unfinished.
pub fn guard(req: Request, limits: DrainLimits) -> Request {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // hyper honours `Expect` on HTTP/1.1 only, and the last such header.
    let awaits_continue = req.version() == Version::HTTP_11
        && req
            .headers()
            .get_all(header::EXPECT)
            .iter()
            .next_back()
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if req.version() > Version::HTTP_11
        || declared.is_some_and(|n| n > limits.cap)
        || http_body::Body::is_end_stream(req.body())
    {
        return req;
    }
    req.map(|body| {
        Body::new(Unread {
            body: Some(body),
            read: 0,
            awaits_continue,
            limits,
            due: Instant::now() + limits.deadline,
            late: None,
        })
    })
}

/// A request body that, dropped before its end, is read to the end by a task of its own.
struct Unread {
    /// `None` once it ended (or failed): nothing is left to drain.
    body: Option<Body>,
    /// Bytes the handler read.
    read: u64,
    /// Sent with `Expect: 100-continue` and not yet read: the client has sent nothing.
    awaits_continue: bool,
    limits: DrainLimits,
    /// When the body must have arrived ([`DrainLimits::deadline`]).
    due: Instant,
    /// The timer for `due`, armed the first time the body is not there yet (a body that comes
    /// with its head, as most do, never needs one).
    late: Option<Pin<Box<Sleep>>>,
}

impl http_body::Body for Unread {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        // Reading it makes hyper send `100 Continue`: from here on the client sends the body.
        self.awaits_continue = false;
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(body).poll_frame(cx);
        if polled.is_pending() {
            let due = self.due;
            let late = self
                .late
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
            if late.as_mut().poll(cx).is_ready() {
                // Dropped unfinished with nothing to drain: hyper closes the connection.
                self.body = None;
                return Poll::Ready(Some(Err(axum::Error::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                )))));
            }
        }
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                self.read = self.read.saturating_add(n);
            }
            Poll::Ready(None | Some(Err(_))) => self.body = None,
            Poll::Pending => {}
        }
        polled
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
        if self.awaits_continue || http_body::Body::is_end_stream(&body) {
            return;
        }
        let Some(left) = self.limits.cap.checked_sub(self.read) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let wait = self.limits.wait;
        runtime.spawn(async move {
            let _ = tokio::time::timeout(wait, discard(body, left)).await;
        });
    }
}

/// Reads `body` to its end, or until more than `left` bytes or an error.
async fn discard(body: Body, left: u64) {
    let mut body = Limited::new(body, usize::try_from(left).unwrap_or(usize::MAX));
    while let Some(Ok(_)) = body.frame().await {}
}
