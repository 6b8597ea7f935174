-- Outbound webhooks: endpoints merchants register, one delivery per (endpoint, event), and
-- every attempt made to deliver it.

create table webhook_endpoints (
    endpoint_id          uuid primary key,
    url                  text not null,
    description          text not null default '',
    -- Routing keys of the events to send; empty means every event.
    event_types          text[] not null default '{}',
    enabled              boolean not null default true,
    -- `whsec_` + base64 key. The previous secret keeps signing until it expires (rotation).
    secret               text not null,
    previous_secret      text,
    previous_secret_expires_at timestamptz,
    -- Since when every delivery has failed (null while the endpoint answers).
    failing_since        timestamptz,
    disabled_reason      text,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now()
);
create trigger webhook_endpoints_updated_at before update on webhook_endpoints
    for each row execute function set_updated_at();

create table webhook_deliveries (
    delivery_id     uuid primary key,
    endpoint_id     uuid not null references webhook_endpoints (endpoint_id) on delete cascade,
    -- The `webhook-id`: the outbox event id (a test event has its own), kept across retries.
    message_id      uuid not null,
    event_type      text not null,
    -- The body sent: {type, schema_version, timestamp, data}.
    body            jsonb not null,
    status          text not null default 'pending',
    attempts        integer not null default 0,
    -- When the next attempt is due; while an attempt runs, the end of its lease.
    next_attempt_at timestamptz not null default now(),
    last_status     integer,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint webhook_deliveries_once unique (endpoint_id, message_id),
    constraint webhook_deliveries_status_check check (status in ('pending', 'succeeded', 'failed'))
);
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_endpoint_idx on webhook_deliveries (endpoint_id, created_at desc, delivery_id desc);
create trigger webhook_deliveries_updated_at before update on webhook_deliveries
    for each row execute function set_updated_at();

create table webhook_attempts (
    attempt_id        uuid primary key,
    delivery_id       uuid not null references webhook_deliveries (delivery_id) on delete cascade,
    attempted_at      timestamptz not null default now(),
    -- The HTTP status, or null when no answer came (refused address, timeout, connection).
    status_code       integer,
    error             text,
    latency_ms        integer not null,
    -- The first bytes of the answer, for people debugging their endpoint.
    response_excerpt  text not null default ''
);
create index webhook_attempts_delivery_idx on webhook_attempts (delivery_id, attempted_at);
