-- Payments through Midtrans: one row per Snap transaction, every received notification (for
-- audit), and refunds with their stable refund keys.

create table payments (
    payment_id         uuid primary key,
    order_id           uuid not null references orders (order_id) on delete cascade,
    -- The order_id sent to Midtrans: the order number, suffixed when a fresh Snap session
    -- is needed (Midtrans never accepts an order_id twice).
    provider_order_id  text not null,
    status             text not null,
    gross_amount       bigint not null,
    currency           text not null,
    snap_token         text,
    redirect_url       text,
    expires_at         timestamptz,
    transaction_id     text,
    transaction_status text,
    fraud_status       text,
    payment_type       text,
    last_error         text,
    checked_at         timestamptz,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint payments_provider_order_id_key unique (provider_order_id),
    constraint payments_status_check check (status in ('unavailable', 'pending', 'paid', 'challenge', 'failed',
        'cancelled', 'expired', 'refunded', 'partially_refunded'))
);
-- At most one live Snap transaction per order.
create unique index payments_live_per_order_key on payments (order_id)
    where status in ('unavailable', 'pending', 'challenge');
create index payments_order_idx on payments (order_id, created_at desc);
create trigger payments_updated_at before update on payments
    for each row execute function set_updated_at();

create table payment_notifications (
    notification_id    uuid primary key,
    provider_order_id  text,
    order_id           uuid references orders (order_id) on delete set null,
    transaction_status text,
    status_code        text,
    raw_body           text not null,
    signature_valid    boolean not null,
    outcome            text not null,
    received_at        timestamptz not null default now()
);
create index payment_notifications_order_idx on payment_notifications (provider_order_id, received_at);

create table refunds (
    refund_id    uuid primary key,
    order_id     uuid not null references orders (order_id) on delete cascade,
    payment_id   uuid not null references payments (payment_id) on delete cascade,
    refund_key   text not null,
    amount       bigint not null,
    reason       text not null,
    status       text not null default 'requested',
    last_error   text,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    constraint refunds_refund_key_key unique (refund_key),
    constraint refunds_amount_check check (amount > 0),
    constraint refunds_status_check check (status in ('requested', 'succeeded', 'failed'))
);
create index refunds_order_idx on refunds (order_id);
create trigger refunds_updated_at before update on refunds
    for each row execute function set_updated_at();

-- The payment poller's schedule: when to ask Midtrans next about an unpaid order whose
-- notification may never come, with a growing interval.
create table payment_checks (
    order_id      uuid primary key references orders (order_id) on delete cascade,
    next_check_at timestamptz not null,
    attempts      integer not null default 0,
    created_at    timestamptz not null default now()
);
create index payment_checks_due_idx on payment_checks (next_check_at);
