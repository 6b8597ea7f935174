//! Server-key authentication of server-to-server calls (midtrans.md §2):
//! `Authorization: Basic base64(SERVER_KEY + ":")`.
//!
//! The check is strict on purpose: the password part must be empty and the key must match
//! exactly, so a client that sends `key:key`, forgets the colon or uses the client key gets the
//! same 401 it would get from Midtrans. Snap and the Core API word their 401 bodies differently,
//! so the rejection response is supplied by the caller.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use poem::endpoint::BoxEndpoint;
use poem::http::{header, HeaderMap};
use poem::{Endpoint, EndpointExt, IntoResponse, Response};

/// Whether `headers` carry HTTP Basic credentials `server_key` with an empty password.
pub fn has_server_key(headers: &HeaderMap, server_key: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    decoded.strip_suffix(b":") == Some(server_key.as_bytes())
}

/// Wraps `endpoint` so that requests without the server key get `reject()` instead.
pub fn require_server_key<E>(
    endpoint: E,
    server_key: String,
    reject: fn() -> Response,
) -> BoxEndpoint<'static>
where
    E: Endpoint + 'static,
{
    endpoint
        .around(move |inner, request| {
            let allowed = has_server_key(request.headers(), &server_key);
            async move {
                if allowed {
                    inner.call(request).await.map(IntoResponse::into_response)
                } else {
                    Ok(reject())
                }
            }
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::HeaderValue;

    const KEY: &str = "SB-Mid-server-abc123cde456";

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn accepts_the_documented_header() {
        // Worked example from midtrans.md §2.
        let ok = headers("Basic U0ItTWlkLXNlcnZlci1hYmMxMjNjZGU0NTY6");
        assert!(has_server_key(&ok, KEY));
        assert!(has_server_key(
            &headers("basic U0ItTWlkLXNlcnZlci1hYmMxMjNjZGU0NTY6"),
            KEY
        ));
    }

    #[test]
    fn rejects_everything_else() {
        let encode = |text: &str| format!("Basic {}", STANDARD.encode(text));
        for bad in [
            encode(KEY),                 // no colon
            encode(&format!("{KEY}:x")), // a password
            encode("SB-Mid-server-other:"),
            format!("Bearer {}", STANDARD.encode(format!("{KEY}:"))),
            "Basic !!!".to_owned(),
            "Basic".to_owned(),
        ] {
            assert!(!has_server_key(&headers(&bad), KEY), "{bad}");
        }
        assert!(!has_server_key(&HeaderMap::new(), KEY));
    }
}
