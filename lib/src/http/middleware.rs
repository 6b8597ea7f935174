//! What wraps every request: request id, tracing span, timeout, problem+json for every error,
//! security headers and metrics.

use std::{sync::Arc, time::Instant};

use poem::{
    http::{header, HeaderValue, StatusCode},
    Endpoint, IntoResponse, Request, Response,
};
use poem_openapi::{
    error::{AuthorizationError, ContentTypeError, ParseParamError, ParsePathError},
    OperationId,
};
use tracing::Instrument;
use uuid::Uuid;

use super::{json_body::BodyLimit, problem::Problem, problem::PROBLEM_CONTENT_TYPE};
use crate::{
    catalog::changes::CatalogChanges, config::HttpConfig, metrics::HttpMetrics, serving::REQUEST_ID,
};

/// The outermost endpoint wrapper (see the module docs).
pub struct Observed<E> {
    inner: E,
    metrics: HttpMetrics,
    config: Arc<HttpConfig>,
}

impl<E> Observed<E> {
    pub fn new(inner: E, metrics: HttpMetrics, config: Arc<HttpConfig>) -> Self {
        Self {
            inner,
            metrics,
            config,
        }
    }
}

/// Accepts a client's `X-Request-Id` when it is short and printable, else makes one.
fn request_id(req: &Request) -> Arc<str> {
    req.header("x-request-id")
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(Arc::from)
        .unwrap_or_else(|| Arc::from(Uuid::now_v7().to_string()))
}

impl<E: Endpoint> Endpoint for Observed<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let id = request_id(&req);
        let method = req.method().to_string();
        let path = req.uri().path().to_owned();
        req.set_data(BodyLimit(body_limit(&self.config, &path)));
        let span = tracing::info_span!("http.request", request_id = %id, http.method = %method, http.path = %path);

        let timeout = self.config.request_timeout;
        let inner = REQUEST_ID.scope(id.clone(), async {
            if let Some(problem) = nul_in_uri(req.uri()) {
                return problem.into_response();
            }
            match tokio::time::timeout(timeout, self.inner.call(req)).await {
                Ok(Ok(output)) => problem_for_bare_error(output.into_response()),
                Ok(Err(error)) => error_response(error),
                Err(_) => Problem::unavailable("request_timeout", "the request took too long")
                    .into_response(),
            }
        });
        let mut resp = inner.instrument(span.clone()).await;

        let route = route_label(&resp, &path);
        add_standard_headers(&mut resp, &id, &path);
        let status = resp.status().as_u16();
        let elapsed = started.elapsed();
        self.metrics
            .observe(&method, route, status, elapsed.as_secs_f64());
        span.in_scope(|| {
            let duration_ms = elapsed.as_secs_f64() * 1000.0;
            if status >= 500 {
                tracing::error!(http.status = status, duration_ms, route, "request failed");
            } else {
                tracing::info!(
                    http.status = status,
                    duration_ms,
                    route,
                    "request completed"
                );
            }
        });
        Ok(resp)
    }
}

/// Read-your-writes for the public read caches: a successful write through this process
/// (checkout, cancellation, refund, payment notification, admin catalog or stock change)
/// empties this process's caches before its response is sent, instead of when the database's
/// change notification arrives a moment later. Carts, sign-in and account writes never touch
/// the catalog and leave the caches alone.
pub struct OwnWritesSeen<E> {
    inner: E,
    changes: Option<Arc<CatalogChanges>>,
}

impl<E> OwnWritesSeen<E> {
    pub fn new(inner: E, changes: Option<Arc<CatalogChanges>>) -> Self {
        Self { inner, changes }
    }
}

/// Paths whose writes cannot change the catalog (or stock).
const WRITES_BESIDE_THE_CATALOG: [&str; 4] = [
    "/api/v1/cart",
    "/api/v1/auth/",
    "/api/v1/me",
    "/api/v1/carts",
];

impl<E: Endpoint<Output = Response>> Endpoint for OwnWritesSeen<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let may_change_catalog = !req.method().is_safe()
            && !WRITES_BESIDE_THE_CATALOG
                .iter()
                .any(|prefix| req.uri().path().starts_with(prefix));
        let resp = self.inner.call(req).await?;
        if may_change_catalog && resp.status().is_success() {
            if let Some(changes) = &self.changes {
                changes.changed_here();
            }
        }
        Ok(resp)
    }
}

/// The payment webhook takes only Midtrans' small notifications; everything else the general
/// limit.
fn body_limit(config: &HttpConfig, path: &str) -> usize {
    if path.starts_with("/api/v1/payments/") {
        config.webhook_body_limit_bytes
    } else {
        config.body_limit_bytes
    }
}

/// The metric label of a request: its operationId, or a fixed name for the few plain routes,
/// never the raw path (unbounded cardinality).
fn route_label(resp: &Response, path: &str) -> &'static str {
    if let Some(op) = resp.data::<OperationId>() {
        return op.0;
    }
    match path {
        "/health/live" => "health_live",
        "/health/ready" => "health_ready",
        "/metrics" => "metrics",
        "/api/openapi.json" => "openapi_spec",
        p if p.starts_with("/api/docs") => "api_docs",
        _ if resp.status() == StatusCode::NOT_FOUND => "unmatched",
        _ => "other",
    }
}

/// The problem response of an error, keeping the operation id poem-openapi attached (the
/// metrics label).
pub(super) fn error_response(error: poem::Error) -> Response {
    let operation = error.data::<OperationId>().copied();
    let mut resp = problem_from_error(error);
    if let Some(op) = operation {
        resp.set_data(op);
    }
    resp
}

/// Turns any error raised before or by a handler into a problem response.
fn problem_from_error(error: poem::Error) -> Response {
    if error.has_source() {
        let problem = if let Some(e) = error.downcast_ref::<ParseParamError>() {
            if e.name
                .eq_ignore_ascii_case(super::errors::IDEMPOTENCY_KEY_HEADER)
            {
                super::errors::idempotency_key_required()
            } else {
                field_problem(e.name, &e.reason, "invalid_parameter")
            }
        } else if let Some(e) = error.downcast_ref::<ParsePathError>() {
            field_problem(e.name, &e.reason, "invalid_path_parameter")
        } else if let Some(e) = error.downcast_ref::<ContentTypeError>() {
            Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                e.to_string(),
            )
        } else if error.is::<AuthorizationError>() {
            Problem::unauthorized("a valid bearer access token is required")
        } else {
            generic_problem(error.status(), &error.to_string())
        };
        return problem.into_response();
    }
    problem_for_bare_error(error.into_response())
}

/// PostgreSQL text cannot hold U+0000, and a URI can only carry it as `%00`: such a path or
/// query parameter is refused here, before any handler could pass it to the database.
fn nul_in_uri(uri: &poem::http::Uri) -> Option<Problem> {
    const REASON: &str = "must not contain the NUL character (%00)";
    if uri.path().contains("%00") {
        return Some(field_problem("path", REASON, "invalid_path_parameter"));
    }
    let query = uri.query().filter(|q| q.contains("%00"))?;
    let name = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map_or_else(|| "query".to_owned(), |(k, _)| k.replace('\0', ""));
    Some(field_problem(&name, REASON, "invalid_parameter"))
}

fn field_problem(name: &str, reason: &str, code: &str) -> Problem {
    let mut problem = super::errors::invalid_parameter(name, reason);
    problem.code = code.into();
    problem.problem_type = format!("/problems/{code}");
    problem
}

fn generic_problem(status: StatusCode, message: &str) -> Problem {
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
        s if s.is_server_error() => return Problem::internal(),
        _ => "bad_request",
    };
    let detail = match status {
        StatusCode::NOT_FOUND => "no such resource or route".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed on this route".to_owned(),
        _ => message.to_owned(),
    };
    Problem::new(status, code, detail)
}

/// Responses that are errors but not yet problems (a plain 404 from the router, a 405)
/// become problems too; everything else passes through.
fn problem_for_bare_error(resp: Response) -> Response {
    let status = resp.status();
    let is_problem = resp
        .content_type()
        .is_some_and(|ct| ct.starts_with(PROBLEM_CONTENT_TYPE));
    if status.as_u16() < 400 || is_problem {
        return resp;
    }
    generic_problem(status, status.canonical_reason().unwrap_or("error")).into_response()
}

const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// Swagger UI needs its inline bootstrap script and styles.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

fn add_standard_headers(resp: &mut Response, request_id: &str, path: &str) {
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", v);
    }
    let csp = if path.starts_with("/api/docs") {
        DOCS_CSP
    } else {
        API_CSP
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}
