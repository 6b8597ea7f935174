-- Tell listeners (the API's search result cache) that the catalog changed. Price and stock
-- aggregates live on products, so stock movements notify too. Postgres delivers a
-- notification only after its transaction commits, and folds repeats within one transaction.
create or replace function notify_catalog_changed() returns trigger
language plpgsql as $$
begin
    perform pg_notify('catalog_changed', '');
    return null;
end;
$$;

create trigger products_notify_catalog_changed
    after insert or update or delete or truncate on products
    for each statement execute function notify_catalog_changed();
create trigger categories_notify_catalog_changed
    after insert or update or delete or truncate on categories
    for each statement execute function notify_catalog_changed();
