//! Logs and traces for every Mosaic process (subgraphs and the gateway).
//!
//! Logs go to standard error, human or JSON. When `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the
//! OpenTelemetry convention), spans are also exported over OTLP/HTTP (JSON) in batches
//! (`OTEL_BSP_SCHEDULE_DELAY` and friends apply), and W3C trace context (`traceparent`) links a
//! gateway request to the subgraph calls it makes: [`inject`] on the way out, [`extract`] on
//! the way in.

use std::sync::OnceLock;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs the subscriber; `RUST_LOG` filters (default `info`). A second call (tests, `mosaic
/// dev`) keeps the first.
pub fn init(service: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match json {
        true => logs.json().flatten_event(true).boxed(),
        false => logs.boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(otlp(service))
        .try_init();
}

/// The OTLP export layer, when an endpoint is configured.
fn otlp<S>(
    service: &str,
) -> Option<tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use opentelemetry_otlp::{Protocol, WithExportConfig as _};
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok()?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .inspect_err(|err| eprintln!("OTLP export is off: {err}"))
        .ok()?;
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("mosaic");
    let _ = PROVIDER.set(provider);
    Some(tracing_opentelemetry::layer().with_tracer(tracer))
}

/// Exports what is still buffered; call before the process exits.
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get() {
        let _ = provider.shutdown();
    }
}

/// Adds `span`'s trace context (`traceparent`) to outgoing `headers`.
pub fn inject(span: &tracing::Span, headers: &mut axum::http::HeaderMap) {
    let context = span.context();
    TraceContextPropagator::new()
        .inject_context(&context, &mut opentelemetry_http::HeaderInjector(headers));
}

/// Makes `span` a child of the trace context the caller sent, if any.
pub fn extract(headers: &axum::http::HeaderMap, span: &tracing::Span) {
    let parent =
        TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers));
    let _ = span.set_parent(parent);
}
