//! The GraphiQL playground (`web-playground/`), built ahead of time and embedded in the binary so
//! it works offline and needs no npm at build time. Served at `/` and `/playground`, with its two
//! assets under `/playground/assets/`; off unless the config turns it on (the dev profile does).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const INDEX: &str = include_str!("../../../web-playground/dist/index.html");
const SCRIPT: &str = include_str!("../../../web-playground/dist/assets/playground.js");
const STYLE: &str = include_str!("../../../web-playground/dist/assets/playground.css");

/// Built assets rarely change: a day of caching, revalidated by the next release's binary.
const ASSET_CACHE: &str = "public, max-age=86400";

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let page = || async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX) };
    Router::new()
        .route("/", get(page))
        .route("/playground", get(page))
        .route(
            "/playground/assets/playground.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/playground/assets/playground.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, ASSET_CACHE),
        ],
        body,
    )
}
