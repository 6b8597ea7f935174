-- Carts, orders with their lines and history, and stored responses of idempotent requests.

create table carts (
    cart_id    uuid primary key,
    user_id    uuid references users (user_id) on delete cascade,
    -- Guest carts are found by a random token kept only as its SHA-256 hash.
    token_hash bytea,
    status     text not null default 'open',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint carts_token_hash_key unique (token_hash),
    constraint carts_status_check check (status in ('open', 'merged')),
    constraint carts_owner_check check (user_id is not null or token_hash is not null)
);
-- One open cart per customer, race-free.
create unique index carts_open_per_user_key on carts (user_id) where status = 'open' and user_id is not null;
create trigger carts_updated_at before update on carts
    for each row execute function set_updated_at();

create table cart_items (
    cart_item_id uuid primary key,
    cart_id      uuid not null references carts (cart_id) on delete cascade,
    variant_id   uuid not null references variants (variant_id) on delete cascade,
    quantity     integer not null,
    -- The unit price the customer last saw; checkout refuses lines whose price changed since.
    unit_price   bigint not null,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    constraint cart_items_cart_variant_key unique (cart_id, variant_id),
    constraint cart_items_quantity_check check (quantity > 0)
);
create trigger cart_items_updated_at before update on cart_items
    for each row execute function set_updated_at();

create table orders (
    order_id         uuid primary key,
    order_number     text not null,
    user_id          uuid not null references users (user_id),
    status           text not null,
    currency         text not null,
    subtotal         bigint not null,
    shipping_fee     bigint not null,
    grand_total      bigint not null,
    refunded_amount  bigint not null default 0,
    shipping_method  text not null,
    shipping_address jsonb not null,
    note             text,
    -- Snapshots for notifications and payment requests, as they were when ordering.
    customer_email   text not null,
    customer_name    text not null,
    tracking_number  text,
    payment_due_at   timestamptz not null,
    paid_at          timestamptz,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint orders_order_number_key unique (order_number),
    constraint orders_status_check check (status in ('pending_payment', 'paid', 'processing', 'shipped',
        'delivered', 'completed', 'cancelled', 'expired', 'refunded', 'partially_refunded')),
    constraint orders_amounts_check check (subtotal >= 0 and shipping_fee >= 0
        and grand_total = subtotal + shipping_fee and refunded_amount between 0 and grand_total)
);
create index orders_user_idx on orders (user_id, order_id desc);
create index orders_status_idx on orders (status, order_id desc);
create index orders_payment_due_idx on orders (payment_due_at) where status = 'pending_payment';
create trigger orders_updated_at before update on orders
    for each row execute function set_updated_at();

create table order_lines (
    order_line_id   uuid primary key,
    order_id        uuid not null references orders (order_id) on delete cascade,
    -- Restrict: a variant that was ever ordered cannot be deleted (archive the product instead).
    variant_id      uuid not null references variants (variant_id) on delete restrict,
    product_id      uuid not null,
    product_name    text not null,
    sku             text not null,
    variant_options jsonb not null,
    unit_price      bigint not null,
    quantity        integer not null,
    line_total      bigint not null,
    position        integer not null,
    constraint order_lines_amounts_check check (quantity > 0 and unit_price >= 0 and line_total = unit_price * quantity)
);
create index order_lines_order_idx on order_lines (order_id, position);
create index order_lines_variant_idx on order_lines (variant_id);

create table order_history (
    history_id  uuid primary key,
    order_id    uuid not null references orders (order_id) on delete cascade,
    from_status text,
    to_status   text not null,
    actor       text not null,
    reason      text not null default '',
    created_at  timestamptz not null default now()
);
create index order_history_order_idx on order_history (order_id, history_id);

-- Responses of requests sent with an Idempotency-Key, replayed for 24 hours.
create table idempotency_keys (
    scope           text not null,
    idempotency_key text not null,
    request_hash    bytea not null,
    status          text not null default 'in_progress',
    resource_id     uuid,
    response_status integer,
    response_body   jsonb,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint idempotency_keys_pkey primary key (scope, idempotency_key),
    constraint idempotency_keys_status_check check (status in ('in_progress', 'completed'))
);
create index idempotency_keys_created_idx on idempotency_keys (created_at);

alter table stock_movements add constraint stock_movements_order_fkey
    foreign key (order_id) references orders (order_id) on delete set null;
