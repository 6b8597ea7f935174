-- Fulfilment: an order ships in one or more shipments, each of some units of its lines, and
-- units not shipped yet can be cancelled (and refunded). A line's shipped and cancelled units
-- never exceed what was bought; the check holds under any concurrency.
alter table orders drop constraint orders_status_check;
alter table orders add constraint orders_status_check check (status in ('pending_payment', 'paid', 'processing',
    'partially_shipped', 'shipped', 'delivered', 'completed', 'cancelled', 'expired', 'refunded',
    'partially_refunded', 'payment_reversed'));

alter table order_lines
    add column shipped_quantity integer not null default 0,
    add column cancelled_quantity integer not null default 0,
    add constraint order_lines_fulfilment_check
        check (shipped_quantity >= 0 and cancelled_quantity >= 0
               and shipped_quantity + cancelled_quantity <= quantity);

create table shipments (
    shipment_id     uuid primary key,
    order_id        uuid not null references orders (order_id) on delete cascade,
    carrier         text not null,
    tracking_number text not null,
    status          text not null default 'shipped',
    created_by      text not null,
    shipped_at      timestamptz not null default now(),
    delivered_at    timestamptz,
    constraint shipments_status_check check (status in ('shipped', 'delivered')),
    constraint shipments_delivered_check check ((status = 'delivered') = (delivered_at is not null))
);
create index shipments_order_idx on shipments (order_id, shipped_at);

create table shipment_lines (
    shipment_id   uuid not null references shipments (shipment_id) on delete cascade,
    order_line_id uuid not null references order_lines (order_line_id) on delete cascade,
    quantity      integer not null,
    primary key (shipment_id, order_line_id),
    constraint shipment_lines_quantity_check check (quantity > 0)
);

-- A refund that paid back cancelled units leaves the order where its fulfilment is.
alter table refunds add column cancels_units boolean not null default false;

-- Orders shipped before shipments existed shipped everything in one parcel.
with shipped as (
    select o.order_id, o.shipping_method, coalesce(o.tracking_number, '') as tracking_number,
           h.created_at as shipped_at,
           (select max(d.created_at) from order_history d
             where d.order_id = o.order_id and d.to_status = 'delivered' and d.kind = 'transition') as delivered_at
    from orders o
    join lateral (select min(created_at) as created_at from order_history
                  where order_id = o.order_id and to_status = 'shipped' and kind = 'transition') h on true
    where h.created_at is not null
), created as (
    insert into shipments (shipment_id, order_id, carrier, tracking_number, status, created_by, shipped_at, delivered_at)
    select gen_random_uuid(), order_id, shipping_method, tracking_number,
           case when delivered_at is null then 'shipped' else 'delivered' end, 'system', shipped_at, delivered_at
    from shipped
    returning shipment_id, order_id
), lines as (
    insert into shipment_lines (shipment_id, order_line_id, quantity)
    select c.shipment_id, l.order_line_id, l.quantity
    from created c join order_lines l on l.order_id = c.order_id
    returning order_line_id, quantity
)
update order_lines l set shipped_quantity = lines.quantity
from lines where lines.order_line_id = l.order_line_id;
