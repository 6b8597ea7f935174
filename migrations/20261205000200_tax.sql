-- Tax classes and their rates (basis points: 1100 = 11%). The standard class's rate is the
-- TAX_STANDARD_RATE setting (PPN), so its row has none.
create table tax_classes (
    code       text primary key,
    name       text not null,
    rate_bp    integer,
    created_at timestamptz not null default now(),
    constraint tax_classes_code_check check (code ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    constraint tax_classes_rate_check check (
        (code = 'standard' and rate_bp is null) or (code <> 'standard' and rate_bp between 0 and 10000))
);
insert into tax_classes (code, name, rate_bp) values
    ('standard', 'Standard rate (PPN)', null),
    ('exempt', 'Exempt', 0);

-- A product's tax class when it is not the standard one.
create table product_tax_classes (
    product_id uuid primary key references products (product_id) on delete cascade,
    tax_class  text not null references tax_classes (code)
);
create index product_tax_classes_class_idx on product_tax_classes (tax_class);

-- What an order was taxed, as it was at checkout: each line's class, rate and tax, the tax on
-- shipping, and whether prices included the tax (then the tax is part of the amounts) or not
-- (then it is added to the grand total).
alter table order_lines
    add column tax_class   text not null default 'standard',
    add column tax_rate_bp integer not null default 0,
    add column tax         bigint not null default 0;
alter table order_lines add constraint order_lines_tax_check check (tax >= 0 and tax_rate_bp between 0 and 10000);
alter table orders
    add column prices_include_tax boolean not null default true,
    add column shipping_tax       bigint not null default 0,
    add column shipping_tax_rate_bp integer not null default 0,
    add column tax_total          bigint not null default 0;
alter table orders drop constraint orders_amounts_check;
alter table orders add constraint orders_amounts_check check (subtotal >= 0 and shipping_fee >= 0
    and discount_total between 0 and subtotal and shipping_discount between 0 and shipping_fee
    and shipping_tax >= 0 and tax_total >= shipping_tax
    and grand_total = subtotal - discount_total + shipping_fee - shipping_discount
                      + case when prices_include_tax then 0 else tax_total end
    and refunded_amount between 0 and grand_total);
