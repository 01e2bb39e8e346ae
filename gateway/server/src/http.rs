//! GraphQL over HTTP at `/graphql`: POST with JSON, GET for queries, responses as
//! `application/graphql-response+json` or `application/json` by `Accept`, with the status codes
//! the GraphQL-over-HTTP spec gives for each.

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::pipeline::{Gateway, GraphQLRequest, RequestContext, RequestError};

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Request headers passed on to subgraphs (identity travels in `authorization`).
const FORWARDED_HEADERS: &[header::HeaderName] = &[header::AUTHORIZATION];
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
/// Asks for the query plan in `extensions.queryPlan` (honoured when plans are exposed).
const QUERY_PLAN_HEADER: &str = "x-mosaic-query-plan";

/// The gateway now serving; replaced whole on supergraph reload.
pub type Current = Arc<RwLock<Arc<Gateway>>>;

pub fn router(current: Current) -> Router {
    Router::new()
        .route("/graphql", get(get_graphql).post(post_graphql))
        .route(
            "/health",
            get(|| async { axum::Json(json!({ "status": "ok" })) }),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(current)
}

async fn post_graphql(
    State(current): State<Current>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let json_response = wants_legacy_json(&headers);
    let request = match body {
        Ok(body) => serde_json::from_slice::<GraphQLRequest>(&body)
            .map_err(|err| format!("the body is not a GraphQL request: {err}")),
        Err(rejection) => {
            return error_response(
                rejection.status(),
                "BAD_REQUEST",
                &rejection.body_text(),
                json_response,
            );
        }
    };
    match request {
        Ok(request) => serve(&current, request, &headers, false, json_response).await,
        Err(message) => error_response(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &message,
            json_response,
        ),
    }
}

async fn get_graphql(
    State(current): State<Current>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let json_response = wants_legacy_json(&headers);
    let request = params
        .map_err(|e| e.body_text())
        .and_then(|Query(params)| parse_get(params));
    match request {
        Ok(request) => serve(&current, request, &headers, true, json_response).await,
        Err(message) => error_response(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &message,
            json_response,
        ),
    }
}

async fn serve(
    current: &Current,
    request: GraphQLRequest,
    headers: &HeaderMap,
    is_get: bool,
    json_response: bool,
) -> Response {
    let gateway = current.read().expect("no panics while swapping").clone();
    let context = RequestContext {
        forwarded: forwarded_headers(headers),
        is_get,
        wants_plan: headers
            .get(QUERY_PLAN_HEADER)
            .is_some_and(|v| v.as_bytes() == b"true"),
    };
    let Ok(result) =
        tokio::time::timeout(gateway.request_timeout, gateway.run(request, &context)).await
    else {
        let message = format!(
            "the request took longer than {} s",
            gateway.request_timeout.as_secs()
        );
        return error_response(
            StatusCode::GATEWAY_TIMEOUT,
            "GATEWAY_TIMEOUT",
            &message,
            json_response,
        );
    };
    match result {
        Ok(body) => respond_bytes(StatusCode::OK, body, json_response),
        Err(err) => {
            let status = match (&err, json_response) {
                (RequestError::MutationOverGet, _) => StatusCode::METHOD_NOT_ALLOWED,
                (RequestError::MissingQuery, _) => StatusCode::BAD_REQUEST,
                (RequestError::Plan(_), _) => StatusCode::INTERNAL_SERVER_ERROR,
                // With `application/json`, errors in the document keep HTTP 200 (legacy clients).
                (_, true) => StatusCode::OK,
                _ => StatusCode::BAD_REQUEST,
            };
            let mut response = respond(status, &json!({ "errors": err.errors() }), json_response);
            if status == StatusCode::METHOD_NOT_ALLOWED {
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            response
        }
    }
}

/// `application/json` unless the client accepts the spec's `application/graphql-response+json`
/// (no `Accept`, or `*/*`, means a legacy client).
fn wants_legacy_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    !accept.contains(GRAPHQL_RESPONSE_JSON)
}

fn respond(status: StatusCode, body: &Value, json_response: bool) -> Response {
    respond_bytes(
        status,
        serde_json::to_vec(body).expect("JSON values serialise"),
        json_response,
    )
}

fn respond_bytes(status: StatusCode, body: Vec<u8>, json_response: bool) -> Response {
    let content_type = if json_response {
        "application/json"
    } else {
        GRAPHQL_RESPONSE_JSON
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn error_response(status: StatusCode, code: &str, message: &str, json_response: bool) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    respond(status, &body, json_response)
}

/// GET parameters: `variables` arrives as JSON text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
}

fn parse_get(params: GetParams) -> Result<GraphQLRequest, String> {
    let variables = params
        .variables
        .map(|v| {
            serde_json::from_str(&v).map_err(|e| format!("`variables` is not a JSON object: {e}"))
        })
        .transpose()?;
    Ok(GraphQLRequest {
        query: params.query,
        operation_name: params.operation_name,
        variables,
    })
}

fn forwarded_headers(headers: &HeaderMap) -> reqwest::header::HeaderMap {
    let mut out = reqwest::header::HeaderMap::new();
    for name in FORWARDED_HEADERS {
        if let Some(value) = headers.get(name) {
            out.insert(name.clone(), value.clone());
        }
    }
    out
}
