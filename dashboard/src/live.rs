//! The live page: every event the hub takes is pushed at once to every
//! open page as a Server-Sent Event (`GET /api/stream`, the browser's
//! `EventSource`). SSE rather than a WebSocket: the page only listens, and
//! SSE is plain HTTP that reconnects by itself.
//!
//! The ingest threads publish into a tokio broadcast channel; each open
//! page is one receiver. There is no batching timer: an event leaves as
//! soon as the HTTP task is polled, which keeps event-to-browser latency
//! to the time of a wakeup. A page that reads too slowly falls behind by
//! more than [`CAPACITY`] events and gets a `lagged` event instead of the
//! ones it missed (it then re-reads the API); the hub never waits for it.
//! Nothing is narrated while no page listens.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use tokio::sync::{broadcast, watch};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, WatchStream};
use tokio_stream::{Stream, StreamExt};

use crate::Shared;

/// How many events a page may be behind before it is told it lagged.
pub const CAPACITY: usize = 4096;

/// The sending side, shared by the ingest threads.
#[derive(Clone)]
pub struct Live {
    events: broadcast::Sender<Arc<str>>,
    /// Set when the dashboard stops, so open streams end and the HTTP
    /// server's graceful shutdown does not wait for the browsers to leave.
    closing: Arc<watch::Sender<bool>>,
}

impl Live {
    pub fn new() -> Live {
        Live { events: broadcast::channel(CAPACITY).0, closing: Arc::new(watch::channel(false).0) }
    }

    /// Whether any page listens (if not, the event is not narrated at all).
    pub fn listened(&self) -> bool {
        self.events.receiver_count() > 0
    }

    /// One narrated event's JSON, to every page.
    pub fn publish(&self, json: String) {
        let _ = self.events.send(json.into());
    }

    /// End every open stream (the dashboard is stopping).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }
}

impl Default for Live {
    fn default() -> Self {
        Live::new()
    }
}

/// `GET /api/stream`: `event: event` with one narrated event as data, or
/// `event: lagged` with how many were missed; a comment every 15 s keeps
/// proxies from closing an idle stream.
pub async fn stream(State(shared): State<Shared>) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let live = &shared.web.live;
    let events = BroadcastStream::new(live.events.subscribe()).map(|received| {
        Some(match received {
            Ok(json) => SseEvent::default().event("event").data(&*json),
            Err(BroadcastStreamRecvError::Lagged(n)) => SseEvent::default().event("lagged").data(n.to_string()),
        })
    });
    // `None` once the dashboard closes: the stream ends there.
    let closed = WatchStream::new(live.closing.subscribe()).filter(|closed| *closed).map(|_| None);
    let hello = tokio_stream::once(Some(SseEvent::default().event("hello").data("{}")));
    let stream =
        hello.chain(events.merge(closed)).take_while(Option::is_some).map(|event| Ok(event.expect("taken while some")));
    Sse::new(stream).keep_alive(KeepAlive::default())
}
