-- Payments as Midtrans really behaves (issue 15): refunds made outside Midtrans recorded by
-- staff, payments reversed after settlement, notes in the order history, and the list of
-- payment exceptions that need a person.

-- Refunds: 'gateway' ones go through Midtrans' refund API; 'manual' ones were made by staff
-- outside Midtrans (bank transfer, cash...) and only recorded here.
alter table refunds
    add column kind text not null default 'gateway',
    add column method text,
    add column reference text,
    add column recorded_by uuid references users (user_id),
    alter column payment_id drop not null,
    add constraint refunds_kind_check check (kind in ('gateway', 'manual')),
    add constraint refunds_manual_check check (kind = 'gateway' or (method is not null and reference is not null));

-- A settlement reversed to deny by the bank: the order is held, never shipped, until staff
-- cancel it (restocking) or confirm the money arrived after all.
alter table orders drop constraint orders_status_check;
alter table orders add constraint orders_status_check check (status in ('pending_payment', 'paid', 'processing',
    'shipped', 'delivered', 'completed', 'cancelled', 'expired', 'refunded', 'partially_refunded', 'payment_reversed'));

alter table payments drop constraint payments_status_check;
alter table payments add constraint payments_status_check check (status in ('unavailable', 'pending', 'paid',
    'challenge', 'failed', 'cancelled', 'expired', 'refunded', 'partially_refunded', 'reversed'));

-- History rows are transitions, or notes that leave the status as it is (e.g. the payment
-- provider confirming a refund staff made).
alter table order_history add column kind text not null default 'transition',
    add constraint order_history_kind_check check (kind in ('transition', 'note'));

create table payment_exceptions (
    exception_id  uuid primary key,
    order_id      uuid not null references orders (order_id) on delete cascade,
    payment_id    uuid references payments (payment_id) on delete set null,
    kind          text not null,
    state         text not null default 'open',
    detail        text not null,
    -- Money concerned (minor units), when there is some.
    amount        bigint,
    resolution    text,
    resolved_by   uuid references users (user_id),
    resolved_at   timestamptz,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint payment_exceptions_kind_check check (kind in ('late_payment', 'reversal', 'amount_mismatch',
        'refund_needs_manual_step')),
    constraint payment_exceptions_state_check check (state in ('open', 'resolved')),
    constraint payment_exceptions_resolution_check check (state = 'open' or resolution is not null)
);
-- One exception per payment and kind: repeated notifications do not list it twice.
create unique index payment_exceptions_once_key on payment_exceptions (order_id, kind, coalesce(payment_id, order_id));
create index payment_exceptions_state_idx on payment_exceptions (state, created_at desc);
create trigger payment_exceptions_updated_at before update on payment_exceptions
    for each row execute function set_updated_at();
