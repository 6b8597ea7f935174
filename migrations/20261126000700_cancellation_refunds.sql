-- A refund made to cancel a paid order. Midtrans' refund notification can arrive before the
-- cancelling request has moved the order; it must then cancel the order (restocking it)
-- rather than mark it refunded.
alter table refunds add column cancels_order boolean not null default false;
