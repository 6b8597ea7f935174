-- Shipping zones: where parcels go (countries, optionally narrowed to provinces and postal-code
-- prefixes). The most specific zone that matches an address prices its shipping; a store
-- without zones charges the flat fees of the SHIPPING_METHODS setting everywhere.
create table shipping_zones (
    zone_id         uuid primary key,
    name            text not null,
    -- ISO 3166 codes, upper case.
    countries       text[] not null,
    -- Lower-cased province names; empty: every province.
    provinces       text[] not null default '{}',
    -- Upper-case prefixes of normalised postal codes; empty: every postal code.
    postal_prefixes text[] not null default '{}',
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint shipping_zones_countries_check check (cardinality(countries) > 0)
);
create index shipping_zones_countries_idx on shipping_zones using gin (countries);

-- How a zone prices a method (a code of SHIPPING_METHODS): each row is a bracket of weight
-- and/or subtotal (bounds inclusive); the cheapest row whose brackets hold the parcel quotes it. `free_from`:
-- the fee is waived when the subtotal (before discounts) reaches it.
create table shipping_rates (
    rate_id           uuid primary key,
    zone_id           uuid not null references shipping_zones (zone_id) on delete cascade,
    method            text not null,
    min_weight_grams  bigint not null default 0,
    max_weight_grams  bigint,
    min_subtotal      bigint not null default 0,
    max_subtotal      bigint,
    fee               bigint not null,
    free_from         bigint,
    min_days          integer,
    max_days          integer,
    position          integer not null,
    constraint shipping_rates_amounts_check check (
        fee >= 0 and min_weight_grams >= 0 and min_subtotal >= 0
        and (max_weight_grams is null or max_weight_grams >= min_weight_grams)
        and (max_subtotal is null or max_subtotal >= min_subtotal)
        and (free_from is null or free_from >= 0)
        and (min_days is null or min_days >= 0)
        and (max_days is null or max_days >= coalesce(min_days, 0)))
);
create index shipping_rates_zone_idx on shipping_rates (zone_id, position);
