-- Returns (RMA): a customer asks to send delivered units back, staff approve or reject, mark
-- the units received (each restocked or written off) and refund what was paid for them.
create table returns (
    return_id         uuid primary key,
    -- The order number with a running suffix, e.g. TK-20261205-ABCD-R1.
    number            text not null,
    order_id          uuid not null references orders (order_id) on delete cascade,
    user_id           uuid not null references users (user_id),
    status            text not null default 'requested',
    note              text not null default '',
    -- Why staff approved or rejected it (shown to the customer).
    decision_note     text,
    decided_by        uuid references users (user_id),
    decided_at        timestamptz,
    received_by       uuid references users (user_id),
    received_at       timestamptz,
    -- The refund in the refunds ledger, once made.
    refund_key        text references refunds (refund_key),
    refund_amount     bigint,
    shipping_refund   bigint,
    adjustment        bigint,
    adjustment_reason text,
    refunded_by       uuid references users (user_id),
    refunded_at       timestamptz,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    constraint returns_number_key unique (number),
    constraint returns_status_check
        check (status in ('requested', 'approved', 'rejected', 'received', 'refunded')),
    constraint returns_refund_check
        check ((status = 'refunded') = (refund_key is not null and refund_amount > 0))
);
create index returns_order_idx on returns (order_id, created_at);
create index returns_user_idx on returns (user_id, created_at desc, return_id desc);
create index returns_status_idx on returns (status, created_at desc, return_id desc);
create trigger returns_updated_at before update on returns
    for each row execute function set_updated_at();

create table return_lines (
    return_id     uuid not null references returns (return_id) on delete cascade,
    order_line_id uuid not null references order_lines (order_line_id) on delete cascade,
    quantity      integer not null,
    reason        text not null,
    -- Set when staff receive the units: back into sellable stock, or written off (damaged).
    disposition   text,
    constraint return_lines_pkey primary key (return_id, order_line_id),
    constraint return_lines_quantity_check check (quantity > 0),
    constraint return_lines_reason_check check (reason in
        ('damaged', 'defective', 'wrong_item', 'not_as_described', 'no_longer_wanted', 'other')),
    constraint return_lines_disposition_check check (disposition in ('restock', 'write_off'))
);
create index return_lines_line_idx on return_lines (order_line_id);

-- Units of the line received back from the customer (through returns).
alter table order_lines add column returned_quantity integer not null default 0;
alter table order_lines add constraint order_lines_returned_check
    check (returned_quantity between 0 and quantity);

-- Restocked returns are their own kind of stock movement.
alter table stock_movements drop constraint stock_movements_kind_check;
alter table stock_movements add constraint stock_movements_kind_check
    check (kind in ('adjustment', 'import', 'initial', 'reservation', 'release', 'commit', 'restock', 'repair', 'return'));
