-- Email verification: when an account proved it receives mail at its address, and the
-- verification links sent (only their tokens' hashes; tokens are derived like reset links).
alter table users add column email_verified_at timestamptz;

create table email_verifications (
    verification_id uuid primary key,
    user_id         uuid not null references users (user_id) on delete cascade,
    email           text not null,
    token_hash      bytea not null,
    created_at      timestamptz not null default now(),
    expires_at      timestamptz not null,
    used_at         timestamptz,
    constraint email_verifications_token_hash_key unique (token_hash)
);
create index email_verifications_user_idx on email_verifications (user_id, created_at);
