-- Product search on PostgreSQL (the default SEARCH_BACKEND): a weighted tsvector per product
-- kept current by triggers in the same transaction as the change, and a vocabulary of the
-- words shoppers search for (names, brands, categories) that typo correction looks up by
-- trigram similarity. lib/src/search/postgres/ holds the queries that read them.

-- Both are trusted extensions (PostgreSQL 13+): the database owner may create them.
create extension if not exists pg_trgm;
create extension if not exists unaccent;

-- Names mix Indonesian and English ("Kaos Polos Cotton Combed", "Sepatu Running Pria"), so no
-- language's stemmer fits: the English one mangles Indonesian words ("tas" becomes "ta",
-- "kaos" becomes "kao") and defeats prefix matching of partly typed words. `simple` keeps
-- every word as written (lowercased, no stop words), and unaccent folds "café" to "cafe".
create text search configuration toko_search (copy = simple);
alter text search configuration toko_search
    alter mapping for hword, hword_part, word with unaccent, simple;

-- The searchable text of a product: name (weight A), brand and category name (B),
-- description (C). Ranking and the name boost read the weights.
create function search_product_vector(name text, brand text, category_name text, description text)
returns tsvector
language sql stable parallel safe as $$
    select setweight(to_tsvector('toko_search', coalesce(name, '')), 'A')
        || setweight(to_tsvector('toko_search', coalesce(brand, '') || ' ' || coalesce(category_name, '')), 'B')
        || setweight(to_tsvector('toko_search', coalesce(description, '')), 'C')
$$;

-- Words typo correction may suggest: the A and B lexemes of products. Deliberately without a
-- unique constraint: two transactions adding the same new word would otherwise wait on (and
-- could deadlock over) each other's uncommitted row, coupling unrelated product writes. A
-- rare duplicate is harmless (lookups use DISTINCT) and `tokoctl search reindex` rebuilds
-- the table exactly.
create table search_terms (
    term text not null
);
-- Nearest words by trigram distance (`order by term <-> $1`) need GiST.
create index search_terms_trgm_idx on search_terms using gist (term gist_trgm_ops);
create index search_terms_term_idx on search_terms (term text_pattern_ops);

-- Adds new vocabulary words. Words shorter than 3 letters are never corrected (fuzziness
-- AUTO allows no edit there) and words with digits are sizes, models and years, where "one
-- edit away" is a different product ("2023" vs "2024").
create function search_learn_terms(lexemes text[]) returns void
language plpgsql volatile as $$
begin
    insert into search_terms (term)
    select distinct t
    from unnest(lexemes) t
    where length(t) >= 3
      and t !~ '[0-9]'
      and not exists (select 1 from search_terms s where s.term = t)
    order by t;
end;
$$;

alter table products add column search_vector tsvector not null default '';

-- The document, computed before the row is written (no second row version).
create function products_search_document() returns trigger
language plpgsql as $$
declare
    category_name text;
begin
    if tg_op = 'UPDATE'
       and (new.name, new.brand, new.description, new.category_id)
           is not distinct from (old.name, old.brand, old.description, old.category_id) then
        return new;
    end if;
    -- FOR SHARE waits for a concurrent rename of the category to commit and then reads the
    -- new name; the rename (below) in turn waits for this transaction, so neither side can
    -- leave a product indexed under a stale category name.
    select c.name into category_name from categories c where c.category_id = new.category_id for share;
    new.search_vector := search_product_vector(new.name, new.brand, category_name, new.description);
    return new;
end;
$$;
create trigger products_search_document before insert or update of name, brand, description, category_id
    on products for each row execute function products_search_document();

-- The vocabulary learns once per statement from the rows it wrote, so a bulk import of
-- thousands of rows per statement pays one lookup per distinct word, not one per row.
create function products_learn_inserted_terms() returns trigger
language plpgsql as $$
begin
    perform search_learn_terms(array(
        select t.lexeme from new_rows p cross join unnest(ts_filter(p.search_vector, '{a,b}')) t));
    return null;
end;
$$;
create trigger products_learn_inserted_terms after insert on products
    referencing new table as new_rows
    for each statement execute function products_learn_inserted_terms();

-- (Updates of other columns, such as the price aggregates, leave the document alone: only
-- changed documents are read.)
create function products_learn_updated_terms() returns trigger
language plpgsql as $$
begin
    perform search_learn_terms(array(
        select t.lexeme
        from new_rows p
        join old_rows o on o.product_id = p.product_id and o.search_vector is distinct from p.search_vector
        cross join unnest(ts_filter(p.search_vector, '{a,b}')) t));
    return null;
end;
$$;
create trigger products_learn_updated_terms after update on products
    referencing old table as old_rows new table as new_rows
    for each statement execute function products_learn_updated_terms();

-- A renamed category renames its products' documents in the same transaction.
create function categories_refresh_search() returns trigger
language plpgsql as $$
begin
    update products p
    set search_vector = search_product_vector(p.name, p.brand, new.name, p.description)
    where p.category_id = new.category_id;
    return null;
end;
$$;
create trigger categories_refresh_search after update of name on categories
    for each row when (old.name is distinct from new.name)
    execute function categories_refresh_search();

-- Highlights are HTML: escape the text before ts_headline adds its <mark> tags, so a product
-- name can never inject markup into a page that renders them.
create function search_html_escape(value text) returns text
language sql immutable strict parallel safe as $$
    select replace(replace(replace(replace(replace(value, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;')
$$;

-- Only active products are ever searched.
create index products_search_idx on products using gin (search_vector) where status = 'active';
-- Facets of a search without text (category, brand, price, stock over every active product)
-- come from an index-only scan of this narrow index instead of the wide product rows.
create index products_search_facets_idx on products (category_id) include (brand, min_price, in_stock)
    where status = 'active';

-- Existing products (a no-op on a fresh database; the update trigger learns their words).
update products p
set search_vector = search_product_vector(p.name, p.brand, c.name, p.description)
from categories c
where c.category_id = p.category_id;
