-- Messaging: the relay's wake-up signal and publish bookkeeping, and the consumers'
-- idempotency records.

-- Wake the outbox relay as soon as new rows commit (it also polls, so a missed notification
-- only costs one poll interval). Statement-level: one notification per insert statement,
-- and Postgres folds identical notifications of one transaction into one.
create or replace function notify_outbox() returns trigger
language plpgsql as $$
begin
    perform pg_notify('outbox', '');
    return null;
end;
$$;
create trigger outbox_events_notify after insert on outbox_events
    for each statement execute function notify_outbox();

-- A row the broker returned (no queue bound to its routing key) or nacked stays unpublished
-- and is retried with a growing delay, so it never blocks the rows behind it.
alter table outbox_events
    add column publish_attempts integer not null default 0,
    add column next_attempt_at  timestamptz,
    add column last_error       text;

-- One row per message a consumer has handled: (consumer, message_id) is the deduplication
-- key of at-least-once delivery. Written in the same transaction as the handler's effect.
create table processed_messages (
    consumer     text not null,
    message_id   text not null,
    processed_at timestamptz not null default now(),
    constraint processed_messages_pkey primary key (consumer, message_id)
);
create index processed_messages_processed_at_idx on processed_messages (processed_at);
