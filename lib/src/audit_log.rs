//! The staff audit log: every change staff make through the admin API, append-only (the
//! table refuses updates and deletes). The HTTP edge records an entry per successful admin
//! write (`http::staff_actions`): who (account and role), when, what (the operation, its
//! request and the resource it acted on) and the resource as staff read it before and after.
//! Values under keys that name a password, secret or token are replaced before anything is
//! stored.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

/// What replaces a secret value.
pub const REDACTED: &str = "[redacted]";

/// One recorded staff action.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub entry_id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_id: Uuid,
    pub actor_role: String,
    /// The operation (its OpenAPI operation id, e.g. `update_product`).
    pub action: String,
    pub method: String,
    pub path: String,
    /// The path's first segment under `/api/v1/admin/` (`products`, `orders`, ...).
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub status: i32,
    pub request: Option<Value>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: Option<String>,
}

/// An entry to record (its id and time are given on insert).
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub actor_id: Uuid,
    pub actor_role: String,
    pub action: String,
    pub method: String,
    pub path: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub status: u16,
    pub request: Option<Value>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: Option<String>,
}

/// Which entries to list (all given conditions hold).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The last id of the previous page.
    pub before: Option<Uuid>,
}

/// Appends an entry, its secrets redacted.
pub async fn record(db: &PgPool, entry: NewEntry) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "insert into audit_log (entry_id, actor_id, actor_role, action, method, path, resource_type,
                                resource_id, status, request, before, after, request_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        id,
        entry.actor_id,
        entry.actor_role,
        entry.action,
        entry.method,
        entry.path,
        entry.resource_type,
        entry.resource_id,
        i32::from(entry.status),
        entry.request.map(redacted),
        entry.before.map(redacted),
        entry.after.map(redacted),
        entry.request_id,
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// Entries newest first, keyset-paginated by id.
pub async fn list(db: &PgPool, f: &Filter, limit: i64) -> Result<Vec<Entry>, sqlx::Error> {
    // The filters make the statement.
    // The JSON columns are read as text: a request may hold a number no f64 can take back.
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "select entry_id, at, actor_id, actor_role, action, method, path, resource_type, resource_id,
                status, request::text, before::text, after::text, request_id
         from audit_log where true",
    );
    if let Some(actor) = f.actor_id {
        q.push(" and actor_id = ").push_bind(actor);
    }
    if let Some(action) = &f.action {
        q.push(" and action = ").push_bind(action.clone());
    }
    if let Some(kind) = &f.resource_type {
        q.push(" and resource_type = ").push_bind(kind.clone());
    }
    if let Some(id) = &f.resource_id {
        q.push(" and resource_id = ").push_bind(id.clone());
    }
    if let Some(from) = f.from {
        q.push(" and at >= ").push_bind(from);
    }
    if let Some(to) = f.to {
        q.push(" and at < ").push_bind(to);
    }
    if let Some(before) = f.before {
        q.push(" and entry_id < ").push_bind(before);
    }
    q.push(" order by entry_id desc limit ").push_bind(limit);
    let rows: Vec<Row> = q.build_query_as().fetch_all(db).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

#[derive(sqlx::FromRow)]
struct Row {
    entry_id: Uuid,
    at: DateTime<Utc>,
    actor_id: Uuid,
    actor_role: String,
    action: String,
    method: String,
    path: String,
    resource_type: String,
    resource_id: Option<String>,
    status: i32,
    request: Option<String>,
    before: Option<String>,
    after: Option<String>,
    request_id: Option<String>,
}

impl From<Row> for Entry {
    fn from(r: Row) -> Self {
        // JSON that serde cannot hold (a number beyond f64) is shown as its text.
        let json = |text: Option<String>| {
            text.map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t)))
        };
        Self {
            entry_id: r.entry_id,
            at: r.at,
            actor_id: r.actor_id,
            actor_role: r.actor_role,
            action: r.action,
            method: r.method,
            path: r.path,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            status: r.status,
            request: json(r.request),
            before: json(r.before),
            after: json(r.after),
            request_id: r.request_id,
        }
    }
}

/// Whether a key names a secret (`password`, `new_password`, `secret`, `token`, ...).
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "token"]
        .iter()
        .any(|word| key.contains(word))
}

/// The value with every secret replaced by [`REDACTED`], at any depth.
pub fn redacted(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if is_secret_key(&k) && !v.is_null() {
                        (k, Value::String(REDACTED.into()))
                    } else {
                        (k, redacted(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redacted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth_and_the_rest_is_kept() {
        let value = json!({
            "url": "https://hooks.example.com",
            "secret": "whsec_abc",
            "endpoint": {"signing_secret": "x", "events": ["order.paid"]},
            "items": [{"new_password": "p", "name": "n"}],
            "tracking_number": "JNE-1",
            "token": null
        });
        assert_eq!(
            redacted(value),
            json!({
                "url": "https://hooks.example.com",
                "secret": REDACTED,
                "endpoint": {"signing_secret": REDACTED, "events": ["order.paid"]},
                "items": [{"new_password": REDACTED, "name": "n"}],
                "tracking_number": "JNE-1",
                "token": null
            })
        );
    }
}
