-- A customer's address book: saved shipping addresses, at most one default per customer.
-- The addresses go with the account (an order keeps its own copy of where it shipped).
create table addresses (
    address_id     uuid primary key,
    user_id        uuid not null references users (user_id) on delete cascade,
    label          text,
    recipient_name text not null,
    phone          text not null,
    line1          text not null,
    line2          text,
    city           text not null,
    province       text,
    postal_code    text not null,
    country_code   text not null,
    is_default     boolean not null default false,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);

create index addresses_by_user on addresses (user_id, address_id);
create unique index addresses_one_default_per_user on addresses (user_id) where is_default;
