//! The pooled HTTP client every subgraph fetch goes through: hyper's own keep-alive client,
//! HTTP/1.1 or h2c. Why not reqwest here: it parses the subgraph URL again, runs its redirect
//! and decoding layers and builds its own request on every fetch (about 4% of the gateway's CPU
//! under the load benchmark); a subgraph's address is parsed once, when the supergraph loads.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, Method, Request, Uri, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// Idle keep-alive connections kept per subgraph.
const MAX_IDLE_PER_HOST: usize = 64;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Transport {
    client: Client<HttpConnector, Full<Bytes>>,
}

/// What one fetch may take: time, and bytes of response body (held in memory until the
/// request's response is written).
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub timeout: Duration,
    pub max_bytes: usize,
}

/// A subgraph's address: parsed once, or why it cannot be used (reported by each fetch to it,
/// so that one bad URL fails only what goes to that subgraph).
pub type Address = Result<Uri, String>;

pub fn address(url: &str) -> Address {
    match url.parse::<Uri>() {
        Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => Ok(uri),
        _ => Err(format!("the subgraph URL `{url}` is not an http:// URL")),
    }
}

impl Transport {
    /// `h2c`: HTTP/2 without TLS, by prior knowledge; one connection per subgraph then carries
    /// every concurrent fetch.
    pub fn new(h2c: bool) -> Arc<Self> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .pool_timer(TokioTimer::new())
            .http2_only(h2c)
            .build(connector);
        Arc::new(Self { client })
    }

    /// POSTs `body` (JSON) with `headers` to `address`; the response body of a 2xx answer of at
    /// most `bounds.max_bytes`, or why there is none, all within `bounds.timeout`. The future
    /// owns what it needs, so that identical fetches of several requests can share it.
    pub fn post(
        self: &Arc<Self>,
        address: &Address,
        headers: HeaderMap,
        body: Vec<u8>,
        bounds: Bounds,
    ) -> impl Future<Output = Result<Bytes, String>> + Send + 'static {
        let request = address.clone().map(|uri| {
            let mut request = Request::new(Full::new(Bytes::from(body)));
            *request.method_mut() = Method::POST;
            *request.uri_mut() = uri;
            *request.headers_mut() = headers;
            request.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            request
        });
        let transport = self.clone();
        async move {
            let exchange = async {
                let response = transport
                    .client
                    .request(request?)
                    .await
                    .map_err(|err| format!("the request failed: {}", root_cause(&err)))?;
                if !response.status().is_success() {
                    return Err(format!("HTTP status {}", response.status()));
                }
                match Limited::new(response.into_body(), bounds.max_bytes)
                    .collect()
                    .await
                {
                    Ok(body) => Ok(body.to_bytes()),
                    Err(err) if err.is::<LengthLimitError>() => Err(format!(
                        "the response is larger than {} bytes",
                        bounds.max_bytes
                    )),
                    Err(err) => Err(format!("reading the response failed: {err}")),
                }
            };
            tokio::time::timeout(bounds.timeout, exchange)
                .await
                .unwrap_or_else(|_| Err("the request timed out".to_owned()))
        }
    }
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
