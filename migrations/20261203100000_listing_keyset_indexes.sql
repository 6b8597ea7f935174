-- Every filter/sort combination of the public product list as a keyset scan that never
-- visits the wide product rows: one index per sort order, globally, per category and per
-- brand, each carrying the filter columns (category, brand, price, stock) as INCLUDE
-- columns so filters are checked on index tuples (index-only scans). The listing reads
-- a page of ids this way and then only those rows (lib/src/catalog/listing.rs).
drop index if exists products_active_newest_idx, products_active_price_idx, products_active_name_idx,
    products_active_category_idx, products_brand_idx;

create index products_active_newest_idx on products (created_at desc, product_id desc)
    include (category_id, brand, min_price, in_stock) where status = 'active';
create index products_active_price_idx on products (min_price, product_id)
    include (category_id, brand, in_stock, created_at) where status = 'active';
create index products_active_name_idx on products (name, product_id)
    include (category_id, brand, min_price, in_stock) where status = 'active';

create index products_category_newest_idx on products (category_id, created_at desc, product_id desc)
    include (brand, min_price, in_stock) where status = 'active';
create index products_category_price_idx on products (category_id, min_price, product_id)
    include (brand, in_stock, created_at) where status = 'active';
create index products_category_name_idx on products (category_id, name, product_id)
    include (brand, min_price, in_stock) where status = 'active';

create index products_brand_newest_idx on products (lower(brand), created_at desc, product_id desc)
    include (category_id, brand, min_price, in_stock) where status = 'active';
create index products_brand_price_idx on products (lower(brand), min_price, product_id)
    include (category_id, brand, in_stock, created_at) where status = 'active';
create index products_brand_name_idx on products (lower(brand), name, product_id)
    include (category_id, brand, min_price, in_stock) where status = 'active';
