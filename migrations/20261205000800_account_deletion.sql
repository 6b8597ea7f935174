-- A deleted customer account stays as a row without personal data (orders, refunds and
-- redemptions keep pointing at it); `deleted_at` says when it was emptied.
alter table users add column deleted_at timestamptz;
