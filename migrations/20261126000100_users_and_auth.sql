-- Users, refresh-token families and failed-login counters.

create or replace function set_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

create table users (
    user_id       uuid primary key,
    email         text not null,
    name          text not null,
    password_hash text not null,
    role          text not null default 'customer',
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint users_email_key unique (email),
    constraint users_email_normalised check (email = lower(btrim(email))),
    constraint users_role_check check (role in ('customer', 'admin'))
);
create trigger users_updated_at before update on users
    for each row execute function set_updated_at();

-- Refresh tokens are stored only as SHA-256 hashes. A family is one login session: every
-- rotation adds a token to it, and presenting a used token revokes the whole family.
create table refresh_tokens (
    refresh_token_id uuid primary key,
    family_id        uuid not null,
    user_id          uuid not null references users (user_id) on delete cascade,
    token_hash       bytea not null,
    expires_at       timestamptz not null,
    used_at          timestamptz,
    revoked_at       timestamptz,
    created_at       timestamptz not null default now(),
    constraint refresh_tokens_token_hash_key unique (token_hash)
);
create index refresh_tokens_family_idx on refresh_tokens (family_id);
create index refresh_tokens_user_idx on refresh_tokens (user_id) where revoked_at is null;

-- Failed logins counted per key ('ip:<addr>' or 'account:<email>') in fixed windows, shared by
-- every API replica.
create table login_failures (
    throttle_key  text primary key,
    window_start  timestamptz not null,
    failure_count integer not null
);
