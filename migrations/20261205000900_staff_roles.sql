-- Staff roles: the owner (everything, staff included), administrators (everything else,
-- the former single admin role keeps its value), catalog managers, order managers and support.
alter table users drop constraint users_role_check;
alter table users add constraint users_role_check
    check (role in ('customer', 'owner', 'admin', 'catalog_manager', 'order_manager', 'support'));

-- The shop's first admin becomes its owner, so someone can manage staff after the upgrade.
update users set role = 'owner'
where user_id = (select user_id from users where role = 'admin' and disabled_at is null
                 order by created_at, user_id limit 1)
  and not exists (select 1 from users where role = 'owner');

-- Invitations to join the staff: the link's token is derived from the invite id with the
-- server's key (only its hash is kept); accepting creates the account with the role.
create table staff_invites (
    invite_id   uuid primary key,
    email       text not null,
    name        text not null,
    role        text not null,
    token_hash  bytea not null,
    invited_by  uuid not null references users (user_id),
    expires_at  timestamptz not null,
    accepted_at timestamptz,
    revoked_at  timestamptz,
    user_id     uuid references users (user_id),
    created_at  timestamptz not null default now(),
    constraint staff_invites_token_hash_key unique (token_hash),
    constraint staff_invites_role_check
        check (role in ('owner', 'admin', 'catalog_manager', 'order_manager', 'support'))
);
create index staff_invites_by_email on staff_invites (email, created_at);
