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
//!
//! A page does not get every event: a host making containers, or one
//! traced container, makes far more steps and syscalls than a page can
//! draw. It gets what changes the list — a container's first event, its
//! stages' begins and ends, its statuses, errors and drops — for every
//! container, and every event of the one container it shows
//! (`/api/stream?container=ID`). So there are two channels: the summary
//! one, which every page reads, and the detail one (steps, syscalls,
//! process events), read only by pages showing a container — a flood of
//! another container's steps never makes the list lag. What is published
//! is the event's line, shared; each page's task narrates only what it sends.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use tokio::sync::{broadcast, watch};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, WatchStream};
use tokio_stream::{Stream, StreamExt};

use glassbox_events::{Event, Kind};

use crate::{narrated, Shared};

/// How many events a page may be behind before it is told it lagged.
pub const CAPACITY: usize = 4096;

/// The sending side, shared by the ingest threads.
#[derive(Clone)]
pub struct Live {
    summary: broadcast::Sender<Arc<Published>>,
    detail: broadcast::Sender<Arc<Published>>,
    /// Set when the dashboard stops, so open streams end and the HTTP
    /// server's graceful shutdown does not wait for the browsers to leave.
    closing: Arc<watch::Sender<bool>>,
}

impl Live {
    pub fn new() -> Live {
        Live {
            summary: broadcast::channel(CAPACITY).0,
            detail: broadcast::channel(CAPACITY).0,
            closing: Arc::new(watch::channel(false).0),
        }
    }

    /// Whether any page listens (if not, the event is not narrated at all).
    pub fn listened(&self) -> bool {
        self.summary.receiver_count() > 0
    }

    /// One event, to every page that wants it.
    pub fn publish(&self, published: Published) {
        if published.summary {
            let _ = self.summary.send(Arc::new(published));
        } else if self.detail.receiver_count() > 0 {
            let _ = self.detail.send(Arc::new(published));
        }
    }

    /// End every open stream (the dashboard is stopping).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }
}

/// One event as the pages receive it from the ingest side.
pub struct Published {
    pub container: String,
    /// Wanted by every page (see the module doc), not only the one showing
    /// the container.
    pub summary: bool,
    pub line: Arc<str>,
    pub runtime_pid: i32,
}

impl Published {
    pub fn new(event: &Event, line: Arc<str>, runtime_pid: i32, first: bool) -> Published {
        let summary = first || !matches!(event.kind, Kind::Step { .. } | Kind::Syscall { .. } | Kind::Process { .. });
        Published { container: event.container.clone(), summary, line, runtime_pid }
    }

    /// The narrated JSON for a page showing `open` (None: not for it).
    fn for_page(&self, open: Option<&str>) -> Option<String> {
        if !self.summary && open != Some(self.container.as_str()) {
            return None;
        }
        let event = glassbox_events::from_line(&self.line).ok()?;
        Some(narrated::json(&event, self.runtime_pid))
    }
}

/// `?container=ID`: the container the page shows.
#[derive(serde::Deserialize)]
pub struct StreamQuery {
    container: Option<String>,
}

impl Default for Live {
    fn default() -> Self {
        Live::new()
    }
}

/// `GET /api/stream[?container=ID]`: `event: event` with one narrated
/// event as data, or `event: lagged` with how many were missed; a comment
/// every 15 s keeps proxies from closing an idle stream.
pub async fn stream(
    State(shared): State<Shared>,
    Query(query): Query<StreamQuery>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let live = &shared.web.live;
    let query_wants_detail = query.container.is_some();
    let open = query.container;
    let to_sse = move |received: Result<Arc<Published>, BroadcastStreamRecvError>| match received {
        Ok(published) => {
            published.for_page(open.as_deref()).map(|json| Some(SseEvent::default().event("event").data(json)))
        }
        Err(BroadcastStreamRecvError::Lagged(n)) => Some(Some(SseEvent::default().event("lagged").data(n.to_string()))),
    };
    let summary = BroadcastStream::new(live.summary.subscribe());
    // Only a page showing a container reads the detail channel.
    type Received = Result<Arc<Published>, BroadcastStreamRecvError>;
    let detail: Pin<Box<dyn Stream<Item = Received> + Send>> = match query_wants_detail {
        true => Box::pin(BroadcastStream::new(live.detail.subscribe())),
        false => Box::pin(tokio_stream::pending()),
    };
    let events = summary.merge(detail).filter_map(to_sse);
    // `None` once the dashboard closes: the stream ends there.
    let closed = WatchStream::new(live.closing.subscribe()).filter(|closed| *closed).map(|_| None);
    let hello = tokio_stream::once(Some(SseEvent::default().event("hello").data("{}")));
    let stream =
        hello.chain(events.merge(closed)).take_while(Option::is_some).map(|event| Ok(event.expect("taken while some")));
    Sse::new(stream).keep_alive(KeepAlive::default())
}
