//! The API routes of what the kernel holds for a container, beside its
//! record: `GET /api/containers/{id}/cgroup` (the sampled series and
//! markers, cgroup/series.rs) and `GET /api/containers/{id}/namespaces`
//! (namespaces.rs). `?since=TS_NS` on the first gives only what came after
//! that instant (CLOCK_MONOTONIC, as `ts_ns`). Both 404 for a container the dashboard does not know;
//! a known container not sampled yet (or without a cgroup it can read) has
//! empty samples and namespaces.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::cgroup::hierarchy::Layout;
use crate::cgroup::Series;
use crate::{namespaces, Shared};

fn unknown(id: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": "no such container", "id": id }))).into_response()
}

/// `?since=TS_NS`: only the samples and markers after that instant, for a
/// chart that already has the rest.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Since {
    since: Option<u64>,
}

pub async fn cgroup(State(shared): State<Shared>, Path(id): Path<String>, Query(q): Query<Since>) -> Response {
    if let Some(series) = shared.cgroups.lock().expect("cgroup lock").series.get(&id) {
        let Some(since) = q.since else { return Json(series).into_response() };
        let newer = Series {
            samples: series.samples.iter().filter(|s| s.ts_ns > since).cloned().collect(),
            markers: series.markers.iter().filter(|m| m.ts_ns > since).cloned().collect(),
            live: series.live,
            ..Series::new(series.version, series.path.clone(), series.pid)
        };
        return Json(newer).into_response();
    }
    if shared.store.lock().expect("store lock").get_ref(&id).is_none() {
        return unknown(&id);
    }
    let empty = Series { version: Layout::of_host().version(), live: false, ..Series::default() };
    Json(empty).into_response()
}

pub async fn namespaces(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    if shared.store.lock().expect("store lock").get_ref(&id).is_none() {
        return unknown(&id);
    }
    let host = namespaces::host();
    let book = shared.cgroups.lock().expect("cgroup lock");
    Json(namespaces::describe(&id, &book.namespaces, &host)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(shared: &Shared, uri: &str) -> (StatusCode, serde_json::Value) {
        let response =
            crate::api::router(shared.clone()).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn cgroup_and_namespaces_of_known_and_unknown_containers() {
        let shared = Shared::new();
        shared.take_line(r#"{"v":1,"seq":1,"ts_ns":1,"wall":"2026-12-07T00:00:00.000000000Z","container":"c1","pid":4,"source":"runtime","type":"stage_begin","stage":"bundle"}"#);
        let (status, body) = get(&shared, "/api/containers/c1/cgroup").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((body["samples"].as_array().unwrap().len(), body["markers"].as_array().unwrap().len()), (0, 0));
        assert!(["v1", "v2", "hybrid"].contains(&body["version"].as_str().unwrap()), "{body}");

        let mut series = Series::new("v2", "/glassbox/c1".into(), 4);
        let mut sample = crate::cgroup::Sample::default();
        sample.memory.oom_kills = 1;
        series.push(sample);
        shared.cgroups.lock().unwrap().series.insert("c1".into(), series);
        let me = namespaces::of_process(std::process::id() as i32);
        shared.cgroups.lock().unwrap().namespaces.insert("c1".into(), me);
        let (_, body) = get(&shared, "/api/containers/c1/cgroup").await;
        assert_eq!((body["version"].as_str(), body["path"].as_str()), (Some("v2"), Some("/glassbox/c1")));
        assert_eq!(body["markers"][0]["kind"], "oom_kill", "{body}");
        let (_, newer) = get(&shared, "/api/containers/c1/cgroup?since=0").await;
        assert_eq!(newer["samples"].as_array().unwrap().len(), 0, "the sample at ts 0 is not after 0: {newer}");
        assert_eq!(newer["path"], "/glassbox/c1");
        for field in ["usage", "limit", "failcnt", "oom_kills"] {
            assert!(body["samples"][0]["memory"].get(field).is_some(), "{field}: {body}");
        }
        let (status, body) = get(&shared, "/api/containers/c1/namespaces").await;
        assert_eq!(status, StatusCode::OK);
        let net = body.as_array().unwrap().iter().find(|n| n["type"] == "net").expect("a net namespace");
        assert!(net["inode"].as_u64().unwrap() > 0);
        assert_eq!(net["shared_with"], "host", "this test runs in the host's net namespace: {body}");

        assert_eq!(get(&shared, "/api/containers/nope/cgroup").await.0, StatusCode::NOT_FOUND);
        assert_eq!(get(&shared, "/api/containers/nope/namespaces").await.0, StatusCode::NOT_FOUND);
    }
}
