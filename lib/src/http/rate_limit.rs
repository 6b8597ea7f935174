//! Per-client request limits on the versioned API: per signed-in user, per IP for anonymous
//! callers, and a stricter per-IP limit on `/api/v1/auth/*`. Every API response carries
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`; a refusal is a 429 problem
//! with `Retry-After`. Payment notifications have a per-IP limit of their own, high enough for
//! Midtrans (which retries a refused notification later) and low enough to stop a flood.

use std::sync::Arc;

use poem::{http::HeaderValue, Endpoint, IntoResponse, Request, Response};

use super::{client_ip, problem::Problem, AppState};
use crate::ratelimit::Decision;

pub struct RateLimited<E> {
    inner: E,
    state: AppState,
}

impl<E> RateLimited<E> {
    pub fn new(inner: E, state: AppState) -> Self {
        Self { inner, state }
    }
}

/// Which bucket a request counts against, and its limit; `None` when it is not limited.
fn bucket(state: &AppState, req: &Request) -> Option<(String, u32)> {
    let config = &state.config.rate_limit;
    let path = req.uri().path();
    if !config.enabled || !path.starts_with("/api/v1/") {
        return None;
    }
    let ip = client_ip(req, &state.config.http)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    if path.starts_with("/api/v1/payments/") {
        return Some((format!("webhook:{ip}"), config.webhook_per_minute));
    }
    if path.starts_with("/api/v1/auth/") {
        return Some((format!("auth:{ip}"), config.auth_per_minute));
    }
    let principal = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .and_then(|token| state.auth.verify_signature(token));
    Some(match principal {
        Some(p) => (
            format!("user:{}", p.user_id),
            config.authenticated_per_minute,
        ),
        None => (format!("ip:{ip}"), config.anonymous_per_minute),
    })
}

fn set_headers(resp: &mut Response, d: &Decision) {
    let headers = resp.headers_mut();
    let mut put = |name: &'static str, value: u64| {
        if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
            headers.insert(name, v);
        }
    };
    put("ratelimit-limit", u64::from(d.limit));
    put("ratelimit-remaining", u64::from(d.remaining));
    put("ratelimit-reset", d.reset.as_secs().max(1));
}

impl<E: Endpoint> Endpoint for RateLimited<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let Some((bucket, limit)) = bucket(&self.state, &req) else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let decision = self
            .state
            .rate_limiter
            .hit(&bucket, limit, self.state.config.rate_limit.window)
            .await;
        // Handler errors become their problem here, so they carry the headers too.
        let mut resp = if decision.allowed {
            match self.inner.call(req).await {
                Ok(output) => output.into_response(),
                Err(error) => super::middleware::error_response(error),
            }
        } else {
            Problem::too_many_requests("rate_limited", decision.reset).into_response()
        };
        set_headers(&mut resp, &decision);
        Ok(resp)
    }
}

/// The limiter the state holds.
pub type SharedLimiter = Arc<crate::ratelimit::RateLimiter>;
