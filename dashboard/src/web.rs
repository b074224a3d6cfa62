//! The web page and the API it reads beyond the container list: the page
//! itself (`/`, `/app.js`, `/style.css`: plain HTML, JavaScript and CSS
//! compiled into the binary, no build step, nothing fetched from another
//! site, so it works offline), the live stream ([`crate::live`]), each
//! container's detail ([`crate::detail`], narrated by [`crate::narrated`]),
//! its Chrome trace export ([`crate::chrome_trace`]), replay
//! ([`crate::replay`]) and the book ([`crate::book`]).
//!
//! Everything a container controls — its id, args, env, hostname,
//! annotations, paths, syscall strings, error messages — reaches the page
//! as JSON strings, and the page puts it in the DOM as text only
//! (`textContent`, never `innerHTML`). Two headers make that a rule the
//! browser enforces rather than a habit: a Content-Security-Policy that
//! runs only scripts served by the dashboard itself (no inline script, no
//! `eval`, no other origin), so markup smuggled into the page could not
//! run even if it were parsed; and `X-Content-Type-Options: nosniff`, so a
//! JSON answer is never taken for HTML.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use glassbox_events::Event;

use crate::detail::{self, Detail, Origin};
use crate::live::{self, Live, Published};
use crate::{chrome_trace, narrated, replay, Shared};

const INDEX_HTML: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const STYLE_CSS: &str = include_str!("../web/style.css");

/// The page's own policy: scripts, styles, images and connections from
/// the dashboard only; no plugins, no framing, no forms posted elsewhere.
pub const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// The book's: mdBook's pages carry inline scripts of their own (theme,
/// sidebar); they are the project's text, not a container's, and still
/// load nothing from elsewhere.
pub const BOOK_POLICY: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'";

/// What the web side keeps: the live stream, the detail rings, and where
/// the book and the records are.
#[derive(Clone, Default)]
pub struct WebState {
    pub live: Live,
    pub detail: Arc<Mutex<Detail>>,
    pub book: Arc<OnceLock<PathBuf>>,
}

impl WebState {
    /// Events: each line into its container's ring (one lock for all), and to the open pages.
    /// `received`: the lines they were read from, or none (kernel records).
    pub fn take_events(&self, events: &[Event], received: &[&str]) {
        let listened = self.live.listened();
        let mut published = Vec::new();
        let mut detail = self.detail.lock().expect("detail lock");
        for (i, event) in events.iter().enumerate() {
            // The line as received (it parsed), without its newline: no need
            // to write it anew. Lines are read back with from_line before
            // anything leaves for a page, so this is only memory; one with
            // line breaks between its tokens (JSON allows them) is written
            // anew all the same, so a ring is one line per event — from the
            // whole line: `event` was read without its arguments.
            let line: Arc<str> = match received.get(i).map(|l| l.strip_suffix('\n').unwrap_or(l)) {
                // (Two single-char searches: memchr each, where a char set is decoded char by char.)
                Some(line) if !line.contains('\n') && !line.contains('\r') => Arc::from(line),
                Some(line) => match glassbox_events::from_line(line) {
                    Ok(whole) => glassbox_events::to_line(&whole).trim_end().into(),
                    Err(_) => continue,
                },
                None => glassbox_events::to_line(event).trim_end().into(),
            };
            let (runtime_pid, first) = detail.push(event, line.clone());
            if listened {
                published.push(Published::new(event, line, runtime_pid, first));
            }
        }
        drop(detail);
        for p in published {
            self.live.publish(p);
        }
    }

    /// Where records are read back from when memory let them go.
    pub fn set_roots(&self, roots: Vec<PathBuf>) {
        self.detail.lock().expect("detail lock").set_roots(roots);
    }
}

/// The page's routes, merged into [`crate::api::router`].
pub fn routes(shared: &Shared) -> Router<Shared> {
    Router::new()
        .route("/", get(|| asset(INDEX_HTML, "text/html; charset=utf-8")))
        .route("/app.js", get(|| asset(APP_JS, "text/javascript; charset=utf-8")))
        .route("/style.css", get(|| asset(STYLE_CSS, "text/css; charset=utf-8")))
        .route("/api/stream", get(live::stream))
        .route("/api/containers/{id}/events", get(events))
        .route("/api/containers/{id}/trace.json", get(trace_json))
        .route("/api/replay", post(replay::replay).layer(DefaultBodyLimit::max(replay::MAX_BODY)))
        .merge(crate::book::routes(shared.web.book.get().map(|p| p.as_path())))
}

async fn asset(text: &'static str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], text).into_response()
}

/// Every response: `nosniff`, no referrer, and the policy of its kind.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let policy = if path == "/book" || path.starts_with("/book/") { BOOK_POLICY } else { PAGE_POLICY };
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn no_such(id: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": "no such container", "id": id }))).into_response()
}

/// A container's detail, from memory or its record (reading a file off
/// the async workers).
async fn detail_of(shared: &Shared, id: &str) -> Option<(Vec<Event>, i32, Origin)> {
    let lookup = shared.web.detail.lock().expect("detail lock").lookup(id);
    tokio::task::spawn_blocking(move || detail::resolve(lookup)).await.ok().flatten()
}

/// `GET /api/containers/{id}/events`:
/// `{"id","origin":"memory"|"disk"|"memory-partial","runtime_pid","events":[narrated…]}`.
async fn events(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let Some((events, runtime_pid, origin)) = detail_of(&shared, &id).await else { return no_such(&id) };
    let body = format!(
        r#"{{"id":{},"origin":"{}","runtime_pid":{runtime_pid},"events":{}}}"#,
        serde_json::Value::from(id.as_str()),
        origin.name(),
        narrated::array(&events, runtime_pid)
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `GET /api/containers/{id}/trace.json`: Chrome trace-event JSON, as a download.
async fn trace_json(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let Some((events, _, _)) = detail_of(&shared, &id).await else { return no_such(&id) };
    // The file name is made of safe characters only: an id is data.
    let safe: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    let disposition = format!("attachment; filename=\"glassbox-{safe}.trace.json\"");
    let mut response = Json(chrome_trace::trace(&events)).into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tokio_stream::StreamExt;
    use tower::ServiceExt;

    use crate::{api, Shared};

    fn line(seq: u64, pid: i32, source: &str, kind: &str) -> String {
        format!(
            r#"{{"v":1,"seq":{seq},"ts_ns":{},"wall":"2026-12-07T00:00:00.000000000Z","container":"web","pid":{pid},"source":"{source}",{kind}}}"#,
            1_000_000 + seq * 1000
        )
    }

    fn a_run(shared: &Shared) {
        shared.take_line(&line(1, 10, "runtime", r#""type":"stage_begin","stage":"hostname""#));
        shared.take_line(&line(
            2,
            10,
            "runtime",
            r#""type":"step","stage":"hostname","action":"sethostname","args":{"name":"<img src=x onerror=alert(1)>"}"#,
        ));
        shared.take_line(&line(
            3,
            11,
            "kernel",
            r#""type":"syscall","nr":170,"name":"sethostname","args":[0,0,0,0,0,0],"ret":0,"latency_ns":900"#,
        ));
        shared.take_line(&line(
            4,
            10,
            "runtime",
            r#""type":"stage_end","stage":"hostname","duration_ns":3000,"outcome":"ok""#,
        ));
    }

    async fn send(shared: &Shared, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let response = api::router(shared.clone()).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 24).await.unwrap();
        (parts.status, parts.headers, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn get(shared: &Shared, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        send(shared, Request::get(uri).body(Body::empty()).unwrap()).await
    }

    #[tokio::test]
    async fn the_page_is_served_with_a_policy_that_runs_only_its_own_script() {
        let shared = Shared::new();
        let (status, headers, body) = get(&shared, "/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains(r#"<script src="/app.js" defer></script>"#), "{body}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("default-src 'self'") && policy.contains("script-src 'self';"), "{policy}");
        assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "{policy}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let (_, headers, script) = get(&shared, "/app.js").await;
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/javascript"));
        for markup_sink in [".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
            assert!(!script.contains(markup_sink), "the page builds its DOM from text only: {markup_sink}");
        }
        let (_, headers, _) = get(&shared, "/api/containers").await;
        assert_eq!(headers["x-content-type-options"], "nosniff", "every answer, the API's too");
    }

    #[tokio::test]
    async fn a_containers_events_come_narrated_and_as_a_chrome_trace() {
        let shared = Shared::new();
        a_run(&shared);
        let (status, _, body) = get(&shared, "/api/containers/web/events").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!((v["origin"].as_str(), v["runtime_pid"].as_i64()), (Some("memory"), Some(10)));
        let events = v["events"].as_array().unwrap();
        assert_eq!(events.len(), 4);
        assert_eq!(events[1]["args"]["name"], "<img src=x onerror=alert(1)>");
        assert!(events[1]["explain"]["headline"].as_str().unwrap().contains("set the hostname"), "{v}");
        assert_eq!(events[2]["explain"], serde_json::Value::Null, "the kernel's events are not narrated");
        let (status, _, _) = get(&shared, "/api/containers/nobody/events").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (status, headers, body) = get(&shared, "/api/containers/web/trace.json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-disposition"], "attachment; filename=\"glassbox-web.trace.json\"");
        let trace: serde_json::Value = serde_json::from_str(&body).unwrap();
        let names: Vec<&str> =
            trace["traceEvents"].as_array().unwrap().iter().filter_map(|e| e["name"].as_str()).collect();
        assert!(names.contains(&"hostname") && names.contains(&"sethostname"), "{names:?}");
    }

    #[tokio::test]
    async fn replay_parses_and_narrates_a_posted_record_and_refuses_what_is_none() {
        let shared = Shared::new();
        let record = format!(
            "{}\nnot an event\n{}\n",
            line(1, 10, "runtime", r#""type":"stage_begin","stage":"mounts""#),
            line(2, 10, "runtime", r#""type":"stage_end","stage":"mounts","duration_ns":5,"outcome":"failed""#)
        );
        let post = |body: String| Request::post("/api/replay").body(Body::from(body)).unwrap();
        let (status, _, body) = send(&shared, post(record)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!((v["events"].as_array().unwrap().len(), v["invalid"].as_u64()), (2, Some(1)));
        assert!(v["first_invalid"].as_str().unwrap().starts_with("line 2: "), "{v}");
        assert_eq!(v["events"][0]["explain"]["chapter"], "book/src/making-a-container/mounts.md");
        assert!(shared.store.lock().unwrap().list().is_empty(), "a replay is not stored");
        let (status, _, body) = send(&shared, post("hello\n".into())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("not an events.jsonl"), "{body}");
    }

    async fn open_stream(shared: &Shared, uri: &str) -> axum::body::BodyDataStream {
        let response =
            api::router(shared.clone()).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let mut body = response.into_body().into_data_stream();
        let first = body.next().await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&first).starts_with("event: hello\n"), "{first:?}");
        body
    }

    /// The stream's text until it holds `count` events.
    async fn read_events(body: &mut axum::body::BodyDataStream, count: usize) -> String {
        let mut text = String::new();
        while text.matches("event: event\n").count() < count {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), body.next()).await.unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap().unwrap()));
        }
        text
    }

    #[tokio::test]
    async fn the_stream_pushes_each_event_as_it_is_taken_the_open_containers_all_of_them() {
        let shared = Shared::new();
        let mut showing_web = open_stream(&shared, "/api/stream?container=web").await;
        let mut list_only = open_stream(&shared, "/api/stream").await;
        a_run(&shared);
        shared.take_line(&line(5, 10, "runtime", r#""type":"status","status":"stopped""#));
        let text = read_events(&mut showing_web, 5).await;
        let sethostname = text.lines().find(|l| l.contains("\"action\":\"sethostname\"")).unwrap();
        let v: serde_json::Value = serde_json::from_str(sethostname.strip_prefix("data: ").unwrap()).unwrap();
        assert!(v["explain"]["headline"].as_str().unwrap().contains("<img src=x onerror=alert(1)>"));
        // A page showing no container gets what changes the list: the
        // first event, the stage's end, the status; not the step nor the syscall.
        let text = read_events(&mut list_only, 3).await;
        let types: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str::<serde_json::Value>(d).unwrap()["type"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(types, ["stage_begin", "stage_end", "status"]);
        // Closing ends the streams (so the server's shutdown does not wait on open pages).
        shared.web.live.close();
        let end = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while showing_web.next().await.is_some() {}
            while list_only.next().await.is_some() {}
        });
        assert!(end.await.is_ok(), "the stream ended when the dashboard closed");
    }

    #[tokio::test]
    async fn the_book_is_served_when_built_and_a_hint_when_not() {
        let shared = Shared::new();
        let (status, headers, body) = get(&shared, "/book/making-a-container/mounts.html").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("mdbook build book"), "{body}");
        assert!(headers["content-security-policy"].to_str().unwrap().contains("unsafe-inline"));

        let book = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(book.path().join("making-a-container")).unwrap();
        std::fs::write(book.path().join("making-a-container/mounts.html"), "<h1>Mounts</h1>").unwrap();
        let shared = Shared::new();
        shared.web.book.set(book.path().to_path_buf()).unwrap();
        let (status, _, body) = get(&shared, "/book/making-a-container/mounts.html").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "<h1>Mounts</h1>"));
        let (status, _, body) = get(&shared, "/book/nothing.html").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("not built"), "{body}");
        let (status, _, _) = get(&shared, "/book/../../etc/passwd").await;
        assert_ne!(status, StatusCode::OK, "nothing outside the book");
    }
}
