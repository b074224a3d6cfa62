//! The book under `/book`, so the narration's chapter links work with no
//! network (a workshop room, a lab machine). The book is mdBook's HTML
//! output (`mdbook build book` writes book/book); the dashboard serves it
//! as static files from `--book DIR`, else from `book/book` of the source
//! tree the binary was built in, else /usr/share/doc/glassbox/book. When
//! none exists, `/book/…` answers 404 with what to run.

use std::path::{Path, PathBuf};

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use tower_http::services::ServeDir;

use crate::Shared;

/// The first place a built book is found (its index.html exists).
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir.to_path_buf());
    }
    let beside_build = std::env::current_exe().ok().and_then(|exe| {
        // <repo>/target/<profile>/glassbox-dashboard → <repo>/book/book
        Some(exe.parent()?.parent()?.parent()?.join("book/book"))
    });
    beside_build
        .into_iter()
        .chain([PathBuf::from("/usr/share/doc/glassbox/book")])
        .find(|d| d.join("index.html").is_file())
}

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>book not built</title>\
<p>The glassbox book is not built here. Run <code>mdbook build book</code> in the source tree \
(or pass <code>--book DIR</code> to <code>glassbox dashboard</code>), then reload.\
<p><a href=\"/\">back to the dashboard</a>";

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], NOT_BUILT)
}

/// `/book/…`: the files of `dir`, or the hint. ServeDir refuses paths
/// that climb out of its directory (`..`).
pub fn routes(dir: Option<&Path>) -> Router<Shared> {
    match dir {
        Some(dir) => {
            let hint: axum::routing::MethodRouter = axum::routing::get(not_found);
            Router::new().nest_service("/book", ServeDir::new(dir).fallback(hint))
        }
        None => Router::new()
            .route("/book", axum::routing::get(not_found))
            .route("/book/{*rest}", axum::routing::get(not_found)),
    }
}
