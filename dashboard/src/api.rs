//! The HTTP side (axum): the JSON API under `/api` that the web page and
//! the terminal UI read, and `/metrics` for Prometheus. Read-only: nothing
//! here starts, stops or deletes a container.
//!
//! - `GET /api/containers`: every container, as [`ContainerView`]s;
//! - `GET /api/containers/{id}`: one, with its stages (404 if unknown);
//! - `GET /api/containers/{id}/cgroup` and `/namespaces`: what the kernel
//!   holds for it (kernel_api.rs);
//! - `GET /metrics`: Prometheus' text format.
//!
//! The web page's (crate::web):
//! - `GET /`, `/app.js`, `/style.css`: the page, served with a strict
//!   Content-Security-Policy and `nosniff`;
//! - `GET /api/stream[?container=ID]`: Server-Sent Events, `event` with an
//!   event's JSON and its narration as `explain` — every container's first
//!   event, stage begins and ends, statuses, errors and drops, and every
//!   event of the container named (crate::live) — `lagged` when a page
//!   fell behind, `hello` on connecting;
//! - `GET /api/containers/{id}/events`: the container's every event,
//!   narrated — `{"id","origin","runtime_pid","events":[…]}`; `origin` is
//!   `memory`, `disk` (read back from the record: memory kept only the
//!   latest) or `memory-partial` (memory lost some and no record was found);
//! - `GET /api/containers/{id}/trace.json`: the same as Chrome trace-event
//!   JSON, for Perfetto or chrome://tracing;
//! - `POST /api/replay`: an events.jsonl as the body → `{"events":[…],
//!   "invalid":n,"first_invalid"}` (parsed and narrated, nothing kept);
//!   400 when no line is an event;
//! - `GET /book/…`: the built book (404 with what to run when not built).
//!
//! Everything a container controls (its id, its error messages) leaves
//! here as JSON strings, never as markup.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::store::ContainerView;
use crate::Shared;

pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/api/containers", get(list))
        .route("/api/containers/{id}", get(one))
        .route("/api/containers/{id}/cgroup", get(crate::kernel_api::cgroup))
        .route("/api/containers/{id}/namespaces", get(crate::kernel_api::namespaces))
        .route("/metrics", get(metrics))
        .merge(crate::web::routes(&shared))
        .layer(axum::middleware::from_fn(crate::web::security_headers))
        .with_state(shared)
}

async fn list(State(shared): State<Shared>) -> Json<Vec<ContainerView>> {
    Json(shared.store.lock().expect("store lock").list())
}

async fn one(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    match shared.store.lock().expect("store lock").get(&id) {
        Some(c) => Json(c).into_response(),
        None => {
            (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": "no such container", "id": id }))).into_response()
        }
    }
}

async fn metrics(State(shared): State<Shared>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], shared.metrics.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get_text(shared: &Shared, uri: &str) -> (StatusCode, String) {
        let response = router(shared.clone()).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn containers_one_container_and_metrics() {
        let shared = Shared::new();
        let at = |seq: u64, kind: &str| {
            format!(
                r#"{{"v":1,"seq":{seq},"ts_ns":{seq},"wall":"2026-12-07T00:00:00.000000000Z","container":"<script>x</script>","pid":4,"source":"runtime",{kind}}}"#
            )
        };
        shared.take_line(&at(1, r#""type":"stage_begin","stage":"cgroup""#));
        shared.take_line(&at(2, r#""type":"stage_end","stage":"cgroup","duration_ns":2000000,"outcome":"ok""#));
        let (status, body) = get_text(&shared, "/api/containers").await;
        assert_eq!(status, StatusCode::OK);
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(list[0]["id"], "<script>x</script>", "an id is data, as JSON");
        assert_eq!(list[0]["stages"][0]["duration_ns"], 2000000);

        let (status, _) = get_text(&shared, "/api/containers/%3Cscript%3Ex%3C%2Fscript%3E").await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = get_text(&shared, "/api/containers/nope").await;
        assert_eq!((status, body.contains("no such container")), (StatusCode::NOT_FOUND, true));

        let (_, text) = get_text(&shared, "/metrics").await;
        assert!(text.contains("glassbox_events_received_total 2"), "{text}");
        assert!(text.contains(r#"glassbox_stage_duration_seconds_count{stage="cgroup"} 1"#), "{text}");
    }
}
