//! Records every successful change staff make through the admin API in the audit log
//! ([`crate::audit_log`]): the operation, its request, and the resource as the admin API
//! shows it before the change (read through the same app with the caller's token) and after
//! (the response). Reads are not recorded, nor refused requests (nothing changed).
//!
//! The entry is written once the change is made, by this process: a crash in between loses
//! it, and the "before" read is not in the change's transaction (a concurrent change may sit
//! between them).

use poem::{
    http::{header, Method},
    Body, Endpoint, Request, Response,
};
use poem_openapi::OperationId;
use serde_json::Value;
use uuid::Uuid;

use super::AppState;
use crate::audit_log::{self, NewEntry};

const ADMIN: &str = "/api/v1/admin/";

pub struct StaffActionsRecorded<E> {
    inner: E,
    state: AppState,
}

impl<E> StaffActionsRecorded<E> {
    pub fn new(inner: E, state: AppState) -> Self {
        Self { inner, state }
    }
}

impl<E: Endpoint<Output = Response>> Endpoint for StaffActionsRecorded<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let path = req.uri().path().to_owned();
        if req.method().is_safe() || !path.starts_with(ADMIN) {
            return self.inner.call(req).await;
        }
        let authorization = req.header(header::AUTHORIZATION).map(str::to_owned);
        let token = authorization
            .as_deref()
            .and_then(|h| h.strip_prefix("Bearer "));
        let actor = match token {
            Some(token) => self.state.auth.authenticate(token).await.ok().flatten(),
            None => None,
        };
        let Some(actor) = actor.filter(|a| a.role.is_staff()) else {
            return self.inner.call(req).await;
        };
        let method = req.method().clone();
        let before = match read_path(&method, &path) {
            Some(read) => self.read(&read, authorization.as_deref()).await,
            None => None,
        };
        let body = req.take_body().into_bytes().await?;
        let request = serde_json::from_slice::<Value>(&body).ok();
        req.set_body(body);

        let mut resp = self.inner.call(req).await?;
        if !resp.status().is_success() {
            return Ok(resp);
        }
        let action = resp
            .data::<OperationId>()
            .map(|op| op.0.to_owned())
            .unwrap_or_else(|| format!("{method} {path}"));
        let out = resp.take_body().into_bytes().await?;
        let after = serde_json::from_slice::<Value>(&out).ok();
        resp.set_body(Body::from(out));
        let (resource_type, path_id) = resource_of(&path);
        let resource_id = path_id.or_else(|| {
            after
                .as_ref()
                .and_then(|a| a["id"].as_str())
                .map(str::to_owned)
        });
        let entry = NewEntry {
            actor_id: actor.user_id,
            actor_role: actor.role.as_db().to_owned(),
            action,
            method: method.to_string(),
            path,
            resource_type,
            resource_id,
            status: resp.status().as_u16(),
            request,
            before,
            after,
            request_id: crate::serving::current_request_id(),
        };
        if let Err(error) = audit_log::record(&self.state.db, entry).await {
            // The change is made and answered; the missing entry is an operational alarm.
            tracing::error!(%error, "a staff action could not be written to the audit log");
        }
        Ok(resp)
    }
}

impl<E: Endpoint<Output = Response>> StaffActionsRecorded<E> {
    /// The resource at `path` as the caller reads it, if they can.
    async fn read(&self, path: &str, authorization: Option<&str>) -> Option<Value> {
        let mut read = Request::builder().method(Method::GET).uri_str(path);
        if let Some(authorization) = authorization {
            read = read.header(header::AUTHORIZATION, authorization);
        }
        let resp = self.inner.call(read.finish()).await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let body = resp.into_body().into_bytes().await.ok()?;
        serde_json::from_slice(&body).ok()
    }
}

/// Where the resource a write changes is read: the path itself for a `PATCH`, `PUT` or
/// `DELETE`; for a `POST` acting on a resource (`/orders/{id}/refund`), the resource up to
/// its id; none for a `POST` that creates.
fn read_path(method: &Method, path: &str) -> Option<String> {
    if *method != Method::POST {
        return Some(path.to_owned());
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let last_id = segments.iter().rposition(|s| Uuid::parse_str(s).is_ok())?;
    (last_id + 1 < segments.len()).then(|| segments[..=last_id].join("/"))
}

/// The resource type (the first segment under `/api/v1/admin/`) and the first id in the path.
fn resource_of(path: &str) -> (String, Option<String>) {
    let rest = path.strip_prefix(ADMIN).unwrap_or(path);
    let mut segments = rest.split('/');
    let kind = segments.next().unwrap_or_default().to_owned();
    let id = segments
        .find(|s| Uuid::parse_str(s).is_ok())
        .map(str::to_owned);
    (kind, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_reads_its_resource_before_and_a_create_reads_nothing() {
        let id = "0193a3c4-0000-7000-8000-000000000001";
        let order = format!("/api/v1/admin/orders/{id}");
        assert_eq!(
            read_path(&Method::POST, &format!("{order}/refund")),
            Some(order.clone())
        );
        assert_eq!(read_path(&Method::PATCH, &order), Some(order.clone()));
        assert_eq!(read_path(&Method::POST, "/api/v1/admin/products"), None);
        assert_eq!(
            read_path(
                &Method::POST,
                &format!("/api/v1/admin/products/{id}/variants")
            ),
            Some(format!("/api/v1/admin/products/{id}"))
        );
        assert_eq!(
            resource_of(&format!("{order}/shipments")),
            ("orders".to_owned(), Some(id.to_owned()))
        );
        assert_eq!(
            resource_of("/api/v1/admin/staff-invites"),
            ("staff-invites".to_owned(), None)
        );
    }
}
