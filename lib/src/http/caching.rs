//! Conditional GETs: `Cached<T>` answers 200 with a strong `ETag` and `Cache-Control`, or 304
//! when the client's `If-None-Match` already names the current representation.
//!
//! The ETag is a hash of the JSON body itself, so it changes exactly when anything visible
//! changes (including stock), with no version bookkeeping.

use std::marker::PhantomData;

use poem::{http::StatusCode, IntoResponse, Response};
use poem_openapi::{
    registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::{ToJSON, Type},
    ApiResponse,
};
use sha2::{Digest, Sha256};

/// A cacheable JSON response.
pub enum Cached<T> {
    Fresh {
        body: String,
        etag: String,
        cache_control: &'static str,
        kind: PhantomData<T>,
    },
    NotModified {
        etag: String,
        cache_control: &'static str,
    },
}

impl<T: ToJSON> Cached<T> {
    pub fn new(value: &T, if_none_match: Option<&str>, cache_control: &'static str) -> Self {
        let body = value.to_json_string();
        let digest = Sha256::digest(body.as_bytes());
        let etag = format!("\"{}\"", hex::encode(&digest[..16]));
        if if_none_match.is_some_and(|header| matches_etag(header, &etag)) {
            Self::NotModified {
                etag,
                cache_control,
            }
        } else {
            Self::Fresh {
                body,
                etag,
                cache_control,
                kind: PhantomData,
            }
        }
    }
}

/// `If-None-Match` holds `*` or a list of (possibly weak) tags.
fn matches_etag(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

fn header(name: &str, description: &str) -> MetaHeader {
    MetaHeader {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        required: true,
        deprecated: false,
        schema: String::schema_ref(),
    }
}

impl<T: ToJSON> ApiResponse for Cached<T> {
    fn meta() -> MetaResponses {
        let headers = || {
            vec![
                header(
                    "ETag",
                    "Identifies this representation; send it back in If-None-Match.",
                ),
                header(
                    "Cache-Control",
                    "How long shared caches may keep the response.",
                ),
            ]
        };
        MetaResponses {
            responses: vec![
                MetaResponse {
                    description: "OK",
                    status: Some(200),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json; charset=utf-8",
                        schema: T::schema_ref(),
                    }],
                    headers: headers(),
                },
                MetaResponse {
                    description:
                        "Not Modified: the representation named in If-None-Match is current.",
                    status: Some(304),
                    status_range: None,
                    content: vec![],
                    headers: headers(),
                },
            ],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ToJSON> IntoResponse for Cached<T> {
    fn into_response(self) -> Response {
        match self {
            Self::Fresh {
                body,
                etag,
                cache_control,
                ..
            } => Response::builder()
                .content_type("application/json; charset=utf-8")
                .header("etag", etag)
                .header("cache-control", cache_control)
                .body(body),
            Self::NotModified {
                etag,
                cache_control,
            } => Response::builder()
                .status(StatusCode::NOT_MODIFIED)
                .header("etag", etag)
                .header("cache-control", cache_control)
                .finish(),
        }
    }
}
