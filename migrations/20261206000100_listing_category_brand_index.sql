-- A brand within a category, the one listing filter none of the keyset indexes could narrow:
-- the category's indexes walked every product of the category and the brand's every product of
-- the brand to find those of both (a brand the category does not carry: all of them, to find
-- nothing). The listing's bounded probe (lib/src/catalog/listing.rs) reads this index in
-- price order, index-only, so that combination costs a range scan like the others.
create index if not exists products_category_brand_price_idx on products (category_id, lower(brand), min_price, product_id)
    include (brand, in_stock, created_at) where status = 'active';
