//! The API's errors: [`Problem`] (from [`crate::serving`]) per operation.
//!
//! Handlers return `Result<T, ApiError<S>>`, where the marker `S` (declared with [`error_set!`])
//! lists the statuses the operation documents. Errors raised before a handler runs (bad query
//! parameters, unknown routes, oversized bodies, missing tokens) are turned into the same shape
//! by [`super::middleware::problem_responses`]. Stable `code`s are listed in docs/ERRORS.md.

use std::marker::PhantomData;

use poem::{http::StatusCode, IntoResponse, Response};
use poem_openapi::{
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
    ApiResponse,
};

pub use crate::serving::problem::{Problem, ProblemField, ProblemLine, PROBLEM_CONTENT_TYPE};

/// The statuses an operation documents besides 400, 429, 500 and 503, which every operation
/// can return (bad parameters, rate limits, failures, timeouts).
pub trait ErrorSet: Send + Sync + 'static {
    const STATUSES: &'static [u16];
}

/// Declares an [`ErrorSet`] marker: `error_set!(Authed: 401, 404);`.
#[macro_export]
macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident: $($status:literal),* $(,)?) => {
        $(#[$doc])*
        pub struct $name;
        impl $crate::http::problem::ErrorSet for $name {
            const STATUSES: &'static [u16] = &[$($status),*];
        }
    };
}

const ALWAYS: [u16; 4] = [400, 429, 500, 503];

/// An error of an operation whose documented statuses are `S::STATUSES` plus 400/429/500/503.
pub struct ApiError<S: ErrorSet> {
    pub problem: Problem,
    set: PhantomData<S>,
}

impl<S: ErrorSet> std::fmt::Debug for ApiError<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.problem.fmt(f)
    }
}

impl<S: ErrorSet> From<Problem> for ApiError<S> {
    fn from(problem: Problem) -> Self {
        Self {
            problem,
            set: PhantomData,
        }
    }
}

impl<S: ErrorSet> ApiResponse for ApiError<S> {
    fn meta() -> MetaResponses {
        let mut statuses: Vec<u16> = S::STATUSES.iter().chain(ALWAYS.iter()).copied().collect();
        statuses.sort_unstable();
        statuses.dedup();
        MetaResponses {
            responses: statuses
                .into_iter()
                .map(|status| MetaResponse {
                    description: StatusCode::from_u16(status)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("Error"),
                    status: Some(status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: PROBLEM_CONTENT_TYPE,
                        schema: Problem::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

impl<S: ErrorSet> IntoResponse for ApiError<S> {
    fn into_response(self) -> Response {
        self.problem.into_response()
    }
}

impl<S: ErrorSet> From<ApiError<S>> for poem::Error {
    fn from(error: ApiError<S>) -> Self {
        poem::Error::from_response(error.into_response())
    }
}

/// The result type of API operations.
pub type ApiResult<T, S> = Result<T, ApiError<S>>;
