-- Promotions: discount codes and automatic promotions, their redemptions by orders, and the
-- discount each redemption gave each order line. Orders and their lines carry the totals.

create table promotions (
    promotion_id       uuid primary key,
    name               text not null,
    -- Null for an automatic promotion. Customers type codes in any case (unique ignoring case).
    code               text,
    -- order_percent, order_fixed, lines_percent, lines_fixed (per unit), free_shipping
    effect             text not null,
    percent            integer,
    amount             bigint,
    -- Cap of a percentage discount, minor units.
    max_discount       bigint,
    -- Which lines a lines_* effect applies to (any of them matches; categories include their
    -- descendants; brands ignore case).
    product_ids        uuid[] not null default '{}',
    category_ids       uuid[] not null default '{}',
    brands             text[] not null default '{}',
    -- Which shipping methods free_shipping covers; empty means every method.
    shipping_methods   text[] not null default '{}',
    starts_at          timestamptz,
    ends_at            timestamptz,
    min_subtotal       bigint not null default 0,
    -- everyone, signed_in, first_order
    eligibility        text not null default 'everyone',
    usage_limit        integer,
    per_customer_limit integer,
    -- Redemptions by orders not cancelled or expired while unpaid; checkout increments it
    -- under the row lock, guarded by usage_limit.
    redemption_count   integer not null default 0,
    stackable          boolean not null default true,
    -- Lower applies first.
    priority           integer not null default 0,
    enabled            boolean not null default true,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint promotions_effect_check check (
        (effect in ('order_percent', 'lines_percent') and percent between 1 and 100 and amount is null)
        or (effect in ('order_fixed', 'lines_fixed') and amount > 0 and percent is null and max_discount is null)
        or (effect = 'free_shipping' and percent is null and amount is null and max_discount is null)),
    constraint promotions_max_discount_check check (max_discount is null or max_discount > 0),
    constraint promotions_window_check check (starts_at is null or ends_at is null or starts_at < ends_at),
    constraint promotions_eligibility_check check (eligibility in ('everyone', 'signed_in', 'first_order')),
    constraint promotions_limits_check check ((usage_limit is null or usage_limit > 0)
        and (per_customer_limit is null or per_customer_limit > 0)
        and min_subtotal >= 0 and redemption_count >= 0
        and (usage_limit is null or redemption_count <= usage_limit))
);
create unique index promotions_code_key on promotions (lower(code)) where code is not null;
create index promotions_automatic_idx on promotions (priority) where code is null and enabled;
create trigger promotions_updated_at before update on promotions
    for each row execute function set_updated_at();

create table promotion_redemptions (
    promotion_id      uuid not null references promotions (promotion_id) on delete restrict,
    order_id          uuid not null references orders (order_id) on delete cascade,
    user_id           uuid not null references users (user_id),
    -- Snapshots as the order received them.
    order_number      text not null,
    code              text,
    name              text not null,
    position          integer not null,
    lines_discount    bigint not null,
    shipping_discount bigint not null,
    created_at        timestamptz not null default now(),
    -- Set when the unpaid order was cancelled or expired: the redemption no longer counts.
    released_at       timestamptz,
    constraint promotion_redemptions_pkey primary key (order_id, promotion_id),
    constraint promotion_redemptions_amounts_check check (lines_discount >= 0 and shipping_discount >= 0)
);
create index promotion_redemptions_customer_idx on promotion_redemptions (promotion_id, user_id)
    where released_at is null;
create index promotion_redemptions_promotion_idx on promotion_redemptions (promotion_id, created_at desc);

create table promotion_line_discounts (
    order_id      uuid not null,
    promotion_id  uuid not null,
    order_line_id uuid not null references order_lines (order_line_id) on delete cascade,
    amount        bigint not null,
    constraint promotion_line_discounts_pkey primary key (order_line_id, promotion_id),
    constraint promotion_line_discounts_redemption_fkey foreign key (order_id, promotion_id)
        references promotion_redemptions (order_id, promotion_id) on delete cascade,
    constraint promotion_line_discounts_amount_check check (amount > 0)
);
create index promotion_line_discounts_redemption_idx on promotion_line_discounts (order_id, promotion_id);

alter table order_lines add column discount bigint not null default 0;
alter table order_lines add constraint order_lines_discount_check check (discount between 0 and line_total);

alter table orders add column discount_total bigint not null default 0;
alter table orders add column shipping_discount bigint not null default 0;
alter table orders drop constraint orders_amounts_check;
alter table orders add constraint orders_amounts_check check (subtotal >= 0 and shipping_fee >= 0
    and discount_total between 0 and subtotal and shipping_discount between 0 and shipping_fee
    and grand_total = subtotal - discount_total + shipping_fee - shipping_discount
    and refunded_amount between 0 and grand_total);

-- The code a cart holds, and the discount (on its lines) the customer last saw: checkout
-- refuses a cart whose discount changed since, like a changed price.
alter table carts add column promotion_code text;
alter table carts add column seen_discount bigint not null default 0;
