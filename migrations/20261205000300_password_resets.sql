-- Password reset requests. The link's token is never stored or sent through the outbox: it is
-- derived from the request id with the server's key (by the API to keep its hash, by the
-- notifier to write the email), so only its hash is here.
create table password_resets (
    request_id uuid primary key,
    user_id    uuid not null references users (user_id) on delete cascade,
    token_hash bytea not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at    timestamptz,
    constraint password_resets_token_hash_key unique (token_hash)
);
create index password_resets_user_idx on password_resets (user_id, created_at);
