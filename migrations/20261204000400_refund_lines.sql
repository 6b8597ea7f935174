-- Which units of which order lines a refund gave back, and what was paid for them (after the
-- line's promotion discount). Refunds by amount have no lines.
create table refund_lines (
    refund_id     uuid not null references refunds (refund_id) on delete cascade,
    order_line_id uuid not null references order_lines (order_line_id) on delete cascade,
    quantity      integer not null,
    amount        bigint not null,
    constraint refund_lines_pkey primary key (refund_id, order_line_id),
    constraint refund_lines_amounts_check check (quantity > 0 and amount >= 0)
);
create index refund_lines_line_idx on refund_lines (order_line_id);
