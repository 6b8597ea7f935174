-- A realistic catalog for measuring search: a two-level category tree, 150 brands, and
-- :products products (default 100000) with Indonesian + English names, descriptions of
-- 35-85 words (the product's own words, then a long-tailed vocabulary), 1-3 variants each,
-- 90% active, 5% draft, 5% archived. The content is deterministic
-- (setseed), inserted through the normal triggers so search documents are built as in
-- production. Run on an empty, migrated database:
--   psql -v products=100000 -f scripts/bench/search-dataset.sql "$DATABASE_URL"
\if :{?products}
\else
\set products 100000
\endif
\set ON_ERROR_STOP on
select setseed(0.42);

create temporary table words (kind text, word text);
insert into words select 'type', unnest(array[
  'Kaos','Kemeja','Celana','Jaket','Hoodie','Sepatu','Sandal','Tas','Dompet','Topi',
  'Jam Tangan','Kacamata','Headphone','Earbuds','Speaker','Smartphone','Laptop','Tablet','Charger','Powerbank',
  'Mouse','Keyboard','Monitor','Kabel USB-C','Blender','Rice Cooker','Setrika','Kipas Angin','Panci','Wajan',
  'Sabun','Shampoo','Serum','Lipstik','Parfum','Sunscreen','Masker','Botol Minum','Matras Yoga','Raket']);
insert into words select 'adj', unnest(array[
  'Polos','Premium','Original','Slim Fit','Oversize','Anti Air','Portable','Wireless','Bluetooth','Murah',
  'Terbaru','Pria','Wanita','Anak','Unisex','Casual','Formal','Sporty','Vintage','Minimalis',
  'Katun','Denim','Kulit Asli','Stainless','Ultra Light','Pro','Mini','Jumbo','Lembut','Tahan Lama']);
insert into words select 'color', unnest(array[
  'Hitam','Putih','Merah','Biru','Hijau','Abu-abu','Navy','Cream','Coklat','Pink','Kuning','Ungu']);
insert into words select 'desc', unnest(array[
  'bahan','berkualitas','nyaman','dipakai','sehari-hari','cocok','untuk','kerja','kuliah','olahraga',
  'garansi','resmi','pengiriman','cepat','dari','jakarta','bandung','surabaya','stok','terbatas',
  'high','quality','material','comfortable','daily','use','durable','lightweight','design','modern',
  'mudah','dibersihkan','ukuran','lengkap','warna','sesuai','foto','dijamin','100%','asli',
  'the','best','choice','for','your','family','free','gift','limited','edition']);

-- The long tail of description words: 400 made-up words from Indonesian-like syllables,
-- drawn log-uniformly below so a few are common and most are rare, as in real text.
insert into words
select 'filler', s1 || s2 || s3
from (select unnest(array['ba','ka','ma','sa','ta','la','pe','ri','su','to','ne','gu','ju','de','wi','ho']) s1) a
cross join (select unnest(array['ran','lin','tam','sek','bur','das','mo','ni','pu','ke']) s2) b
cross join (select unnest(array['','an','kan','nya','i']) s3) c
order by md5(s1 || s2 || s3)
limit 400;

create temporary table brands as
select b as brand from unnest(array[
  'Uniqlo','Zara','H&M','Erigo','Eiger','Consina','Adidas','Nike','Puma','Compass','Ventela','Brodo',
  'Samsung','Apple','Xiaomi','Oppo','Vivo','Realme','Asus','Lenovo','Acer','HP','Logitech','Anker',
  'Miyako','Cosmos','Philips','Sharp','Panasonic','Wardah','Emina','Somethinc','Scarlett','Make Over',
  'Tupperware','Lock&Lock','Maspion','Kirin','Sanken','Polytron']) b
union all select 'Brand ' || i from generate_series(1, 110) i;

insert into categories (category_id, parent_id, slug, name, position)
select gen_random_uuid(), null, slug, name, row_number() over ()
from (values ('fashion','Fashion'),('elektronik','Elektronik'),('rumah-tangga','Rumah Tangga'),
             ('kecantikan','Kecantikan'),('olahraga','Olahraga'),('aksesoris','Aksesoris')) v(slug, name);
insert into categories (category_id, parent_id, slug, name, position)
select gen_random_uuid(), p.category_id, p.slug || '-' || s.n, initcap(replace(p.slug, '-', ' ')) || ' ' || s.label, s.n
from categories p
cross join (values (1,'Pria'),(2,'Wanita'),(3,'Anak'),(4,'Premium'),(5,'Import'),(6,'Lokal')) s(n, label)
where p.parent_id is null;

create temporary table leafs as
select row_number() over (order by slug) as n, category_id from categories where parent_id is not null;

-- Arrays for fast random picks.
create temporary table pools as
select (select array_agg(word) from words where kind = 'type') as types,
       (select array_agg(word) from words where kind = 'adj') as adjs,
       (select array_agg(word) from words where kind = 'color') as colors,
       (select array_agg(word) from words where kind in ('desc', 'filler')) as descs,
       (select array_agg(brand) from brands) as brands,
       (select count(*) from leafs) as leaf_count;

insert into products (product_id, slug, name, description, brand, category_id, status, images, created_at)
select gen_random_uuid(),
       'p-' || g.i,
       concat_ws(' ', t.brand, t.type, t.adj, t.color, case when random() < 0.3 then (random() * 900 + 100)::int::text end),
       concat_ws(' ', t.type, t.adj, t.color, 'dari', t.brand, '.',
                 (select string_agg(pl.descs[floor(exp(random() * ln(array_length(pl.descs, 1))))::int + w * 0], ' ')
                  from generate_series(1, 30 + (g.i % 50)) w)),
       case when random() < 0.95 then t.brand end,
       l.category_id,
       case when g.i % 20 = 0 then 'draft' when g.i % 20 = 1 then 'archived' else 'active' end,
       jsonb_build_array(jsonb_build_object('url', 'https://cdn.example.com/p/' || g.i || '.jpg', 'alt_text', '', 'position', 0)),
       now() - (random() * interval '720 days')
from generate_series(1, :products) g(i)
cross join pools pl
cross join lateral (
    select pl.types[1 + floor(random() * array_length(pl.types, 1))::int + (g.i * 0)] as type,
           pl.adjs[1 + floor(random() * array_length(pl.adjs, 1))::int + (g.i * 0)] as adj,
           pl.colors[1 + floor(random() * array_length(pl.colors, 1))::int + (g.i * 0)] as color,
           pl.brands[1 + floor(random() * array_length(pl.brands, 1))::int + (g.i * 0)] as brand
) t
join leafs l on l.n = 1 + (g.i * 7919) % pl.leaf_count;

-- 1-3 variants: prices from Rp 15.000 to Rp 25.000.000 (log-uniform), a third out of stock.
insert into variants (variant_id, product_id, sku, options, price, stock_on_hand, position)
select gen_random_uuid(), p.product_id, upper(p.slug) || '-' || v.n, jsonb_build_object('size', v.n),
       (round(exp(ln(15000) + random() * (ln(25000000) - ln(15000))) / 1000) * 1000)::bigint,
       case when random() < 0.33 then 0 else (random() * 50)::int end,
       v.n
from products p
cross join lateral generate_series(1, 1 + (abs(hashtext(p.slug)) % 3)) v(n);

analyze categories;
analyze products;
analyze variants;
vacuum (analyze) products;
select status, count(*) from products group by status order by status;
select count(*) as search_terms from search_terms;
