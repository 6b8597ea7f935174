-- What staff changed through the admin API: who, when, which operation on which resource,
-- the request, and the resource before and after (secrets redacted). Append-only: a trigger
-- refuses updates and deletes.
create table audit_log (
    entry_id      uuid primary key,
    at            timestamptz not null default now(),
    actor_id      uuid not null references users (user_id),
    actor_role    text not null,
    action        text not null,
    method        text not null,
    path          text not null,
    resource_type text not null,
    resource_id   text,
    status        integer not null,
    request       jsonb,
    before        jsonb,
    after         jsonb,
    request_id    text
);
create index audit_log_by_actor on audit_log (actor_id, entry_id desc);
create index audit_log_by_resource on audit_log (resource_type, resource_id, entry_id desc);
create index audit_log_by_action on audit_log (action, entry_id desc);

create function audit_log_is_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'audit_log is append-only';
end $$;
create trigger audit_log_append_only before update or delete on audit_log
    for each row execute function audit_log_is_append_only();
