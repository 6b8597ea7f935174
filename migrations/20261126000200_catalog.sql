-- Catalog: categories (a tree), products, variants with stock, the stock movement ledger, and
-- the transactional outbox every module writes its events to.

create table categories (
    category_id uuid primary key,
    parent_id   uuid references categories (category_id) on delete restrict,
    slug        text not null,
    name        text not null,
    description text not null default '',
    position    integer not null default 0,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint categories_slug_key unique (slug),
    constraint categories_not_own_parent check (parent_id is distinct from category_id)
);
create index categories_parent_idx on categories (parent_id, position);
create trigger categories_updated_at before update on categories
    for each row execute function set_updated_at();

create table products (
    product_id   uuid primary key,
    slug         text not null,
    name         text not null,
    description  text not null default '',
    brand        text,
    category_id  uuid not null references categories (category_id) on delete restrict,
    status       text not null default 'draft',
    attributes   jsonb not null default '{}',
    images       jsonb not null default '[]',
    option_names text[] not null default '{}',
    -- Kept by the variants trigger below, so listings filter and sort without joins.
    min_price    bigint not null default 0,
    max_price    bigint not null default 0,
    in_stock     boolean not null default false,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    constraint products_slug_key unique (slug),
    constraint products_status_check check (status in ('draft', 'active', 'archived'))
);
create trigger products_updated_at before update on products
    for each row when ((old.slug, old.name, old.description, old.brand, old.category_id, old.status,
             old.attributes, old.images, old.option_names)
            is distinct from
            (new.slug, new.name, new.description, new.brand, new.category_id, new.status,
             new.attributes, new.images, new.option_names))
    execute function set_updated_at();
-- (The min_price/max_price/in_stock aggregates change without touching updated_at.)
-- Keyset pagination of the public listing, one index per sort order (active products only).
create index products_active_newest_idx on products (created_at desc, product_id desc) where status = 'active';
create index products_active_price_idx on products (min_price, product_id) where status = 'active';
create index products_active_name_idx on products (name, product_id) where status = 'active';
create index products_active_category_idx on products (category_id, created_at desc, product_id desc) where status = 'active';
create index products_brand_idx on products (lower(brand), min_price, product_id) where status = 'active';

create table variants (
    variant_id       uuid primary key,
    product_id       uuid not null references products (product_id) on delete cascade,
    sku              text not null,
    options          jsonb not null default '{}',
    price            bigint not null,
    compare_at_price bigint,
    weight_grams     integer not null default 0,
    stock_on_hand    integer not null default 0,
    stock_reserved   integer not null default 0,
    position         integer not null default 0,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint variants_sku_key unique (sku),
    constraint variants_price_check check (price >= 0 and (compare_at_price is null or compare_at_price >= 0)),
    constraint variants_weight_check check (weight_grams >= 0),
    -- The guard behind "stock never goes negative under any concurrency": whatever races,
    -- the row can never hold more reserved than on hand, nor less than zero of either.
    constraint variants_stock_check check (stock_reserved >= 0 and stock_on_hand >= stock_reserved)
);
create index variants_product_idx on variants (product_id, position);
-- Two variants of one product never share an option combination (size=M, color=red).
create unique index variants_product_options_key on variants (product_id, options);
create trigger variants_updated_at before update on variants
    for each row execute function set_updated_at();

-- Product price range and stock flag follow their variants in the same transaction.
-- Statement-level triggers with transition tables: a bulk insert or a checkout that reserves
-- many lines recomputes each affected product once, not once per variant row.
create or replace function refresh_products_of(ids uuid[]) returns void
language sql as $$
    update products p set
        min_price = coalesce(a.min_price, 0),
        max_price = coalesce(a.max_price, 0),
        in_stock  = coalesce(a.in_stock, false)
    from unnest(ids) as t(pid)
    left join lateral (
        select min(price) as min_price, max(price) as max_price,
               bool_or(stock_on_hand > stock_reserved) as in_stock
        from variants v where v.product_id = t.pid
    ) a on true
    where p.product_id = t.pid
      and (p.min_price, p.max_price, p.in_stock)
          is distinct from (coalesce(a.min_price, 0), coalesce(a.max_price, 0), coalesce(a.in_stock, false));
$$;

create or replace function refresh_product_aggregates() returns trigger
language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        perform refresh_products_of(array(select distinct product_id from new_rows));
    elsif tg_op = 'DELETE' then
        perform refresh_products_of(array(select distinct product_id from old_rows));
    else
        perform refresh_products_of(array(
            select n.product_id from new_rows n join old_rows o using (variant_id)
            where n.price <> o.price or n.product_id <> o.product_id
               or (n.stock_on_hand > n.stock_reserved) <> (o.stock_on_hand > o.stock_reserved)
            union
            select o.product_id from new_rows n join old_rows o using (variant_id)
            where n.product_id <> o.product_id));
    end if;
    return null;
end;
$$;
create trigger variants_aggregates_insert after insert on variants
    referencing new table as new_rows
    for each statement execute function refresh_product_aggregates();
create trigger variants_aggregates_update after update on variants
    referencing old table as old_rows new table as new_rows
    for each statement execute function refresh_product_aggregates();
create trigger variants_aggregates_delete after delete on variants
    referencing old table as old_rows
    for each statement execute function refresh_product_aggregates();

-- Append-only: every change of stock_on_hand or stock_reserved, with the resulting levels.
create table stock_movements (
    movement_id    uuid primary key,
    variant_id     uuid not null references variants (variant_id) on delete cascade,
    sku            text not null,
    kind           text not null,
    on_hand_delta  integer not null default 0,
    reserved_delta integer not null default 0,
    on_hand_after  integer not null,
    reserved_after integer not null,
    reason         text not null default '',
    order_id       uuid,
    actor_id       uuid,
    created_at     timestamptz not null default now(),
    constraint stock_movements_kind_check
        check (kind in ('adjustment', 'import', 'initial', 'reservation', 'release', 'commit', 'restock', 'repair'))
);
create index stock_movements_variant_idx on stock_movements (variant_id, movement_id desc);

-- The transactional outbox: written in the same transaction as the change it announces, read
-- by the relay, which publishes and marks rows.
create table outbox_events (
    event_id       uuid primary key,
    event_type     text not null,
    aggregate_type text not null,
    aggregate_id   uuid not null,
    payload        jsonb not null,
    schema_version integer not null default 1,
    correlation_id uuid,
    created_at     timestamptz not null default now(),
    published_at   timestamptz
);
create index outbox_events_unpublished_idx on outbox_events (created_at, event_id) where published_at is null;
create index outbox_events_published_idx on outbox_events (published_at) where published_at is not null;
create index outbox_events_aggregate_idx on outbox_events (aggregate_id, created_at);
