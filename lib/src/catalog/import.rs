//! Bulk import of products and variants from JSON lines or CSV (`tokoctl catalog import`).
//!
//! Records are upserted by SKU: a record whose slug or SKUs name an existing product updates
//! it (and its variants, setting stock to the given level through the ledger); otherwise a
//! product is created. Each record runs in its own transaction, so a bad record is reported
//! with its line number and never leaves a half-written product behind. The formats are
//! described in README.md ("Bulk data").

use std::collections::BTreeMap;

use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    events, inventory,
    products::{self, NewProduct, ProductPatch},
    variants::{self, NewVariant, VariantPatch},
    Catalog, CatalogError, CategoryKey, Image, ProductStatus,
};
use crate::{events::Event, validation::ValidationErrors};

/// One product with the variants to upsert.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductRecord {
    pub name: String,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub brand: Option<String>,
    /// A category slug or id.
    pub category: String,
    pub status: Option<ProductStatus>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub images: Vec<Image>,
    /// Option names, e.g. `["size", "color"]`.
    #[serde(default)]
    pub options: Vec<String>,
    pub variants: Vec<VariantRecord>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantRecord {
    pub sku: String,
    pub price: i64,
    pub compare_at_price: Option<i64>,
    pub weight_grams: Option<i32>,
    pub stock_on_hand: i32,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// What importing one record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Created,
    Updated,
}

/// A parsed input line: its number and the record, or why it could not be read.
pub type ParsedLine = (usize, Result<ProductRecord, String>);

/// Parses JSON lines: one product record per non-empty line.
pub fn parse_jsonl(text: &str) -> Vec<ParsedLine> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| (i + 1, serde_json::from_str(line).map_err(|e| e.to_string())))
        .collect()
}

/// The CSV columns, one row per variant; rows of one product share `product_slug`.
pub const CSV_HEADER: &[&str] = &[
    "product_slug",
    "product_name",
    "category",
    "brand",
    "status",
    "description",
    "sku",
    "price",
    "compare_at_price",
    "weight_grams",
    "stock_on_hand",
    "options",
];

#[derive(Debug, Deserialize)]
struct CsvRow {
    product_slug: String,
    product_name: String,
    category: String,
    brand: Option<String>,
    status: Option<ProductStatus>,
    description: Option<String>,
    sku: String,
    price: i64,
    compare_at_price: Option<i64>,
    weight_grams: Option<i32>,
    stock_on_hand: i32,
    /// `size=M;color=red`
    options: Option<String>,
}

/// Parses CSV with the [`CSV_HEADER`] columns; each row becomes a one-variant record.
pub fn parse_csv(text: &str) -> Vec<ParsedLine> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return vec![(1, Err(e.to_string()))],
    };
    let mut out = Vec::new();
    for result in reader.records() {
        let parsed =
            result.map_err(|e| (e.position().map_or(0, |p| p.line() as usize), e.to_string()));
        out.push(match parsed {
            Err((line, reason)) => (line, Err(reason)),
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                let row = record
                    .deserialize::<CsvRow>(Some(&headers))
                    .map_err(|e| csv_cell_error(&e, &headers));
                (line, row.and_then(csv_record))
            }
        });
    }
    out
}

/// Why a row could not be read, naming its column (the line is reported beside it).
fn csv_cell_error(error: &csv::Error, headers: &csv::StringRecord) -> String {
    match error.kind() {
        csv::ErrorKind::Deserialize { err, .. } => {
            let column = err
                .field()
                .and_then(|index| headers.get(index as usize))
                .map(|name| format!("column {name}: "))
                .unwrap_or_default();
            format!("{column}{}", err.kind())
        }
        _ => error.to_string(),
    }
}

/// The CSV column of a field of [`ProductRecord`] (`variants[0].price` is `price`), for
/// reporting a CSV import's invalid fields in the file's terms.
pub fn csv_column(field: &str) -> &str {
    let field = field.rsplit_once("].").map_or(field, |(_, inner)| inner);
    let field = field.split(['.', '[']).next().unwrap_or(field);
    match field {
        "name" => "product_name",
        "slug" => "product_slug",
        other => other,
    }
}

fn csv_record(row: CsvRow) -> Result<ProductRecord, String> {
    let mut options = BTreeMap::new();
    for pair in row
        .options
        .as_deref()
        .unwrap_or_default()
        .split(';')
        .filter(|p| !p.trim().is_empty())
    {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("options: {pair:?} is not name=value"))?;
        options.insert(name.trim().to_owned(), value.trim().to_owned());
    }
    Ok(ProductRecord {
        name: row.product_name,
        slug: Some(row.product_slug),
        description: row.description.filter(|d| !d.is_empty()),
        brand: row.brand.filter(|b| !b.is_empty()),
        category: row.category,
        status: row.status,
        attributes: BTreeMap::new(),
        images: Vec::new(),
        options: options.keys().cloned().collect(),
        variants: vec![VariantRecord {
            sku: row.sku,
            price: row.price,
            compare_at_price: row.compare_at_price,
            weight_grams: row.weight_grams,
            stock_on_hand: row.stock_on_hand,
            options,
        }],
    })
}

impl Catalog {
    /// Upserts one record in its own transaction.
    pub async fn import_product(
        &self,
        record: ProductRecord,
        actor: Option<Uuid>,
    ) -> Result<ImportOutcome, CatalogError> {
        let mut tx = self.db.begin().await?;
        let category = CategoryKey::parse("category", &record.category);
        let skus: Vec<&str> = record.variants.iter().map(|v| v.sku.as_str()).collect();
        let owners: Vec<Uuid> = sqlx::query_scalar!(
            r#"select product_id as "product_id!" from products where slug = $1
               union select product_id from variants where sku = any($2)"#,
            record.slug.as_deref().unwrap_or_default(),
            &skus as _,
        )
        .fetch_all(&mut *tx)
        .await?;
        let outcome = match owners.as_slice() {
            [] => {
                products::create_in(&mut tx, new_product(record, category), actor).await?;
                ImportOutcome::Created
            }
            [product_id] => {
                update_existing(&mut tx, *product_id, record, category, actor).await?;
                ImportOutcome::Updated
            }
            _ => {
                return Err(ValidationErrors::single(
                    "variants",
                    "the slug and SKUs belong to different existing products",
                )
                .into())
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }
}

fn new_variant(v: &VariantRecord) -> NewVariant {
    NewVariant {
        sku: v.sku.clone(),
        price: v.price,
        compare_at_price: v.compare_at_price,
        weight_grams: v.weight_grams,
        stock_on_hand: v.stock_on_hand,
        options: v.options.clone(),
    }
}

fn new_product(r: ProductRecord, category: CategoryKey) -> NewProduct {
    NewProduct {
        variants: r.variants.iter().map(new_variant).collect(),
        name: r.name,
        slug: r.slug,
        description: r.description,
        brand: r.brand,
        category: Some(category),
        status: r.status,
        attributes: r.attributes,
        images: r.images,
        option_names: r.options,
    }
}

async fn update_existing(
    tx: &mut PgConnection,
    product_id: Uuid,
    r: ProductRecord,
    category: CategoryKey,
    actor: Option<Uuid>,
) -> Result<(), CatalogError> {
    let patch = ProductPatch {
        name: Some(r.name),
        slug: None,
        description: r.description,
        brand: r.brand.map(Some),
        category: Some(category),
        status: r.status,
        attributes: (!r.attributes.is_empty()).then_some(r.attributes),
        images: (!r.images.is_empty()).then_some(r.images),
        option_names: (!r.options.is_empty()).then_some(r.options),
    };
    let product = products::update_in(tx, product_id.into(), patch).await?;
    for (i, record) in r.variants.iter().enumerate() {
        let existing = product.variants.iter().find(|v| v.sku == *record.sku);
        let Some(existing) = existing else {
            let mut errors = ValidationErrors::new();
            variants::validate_new(
                &mut errors,
                &format!("variants[{i}]"),
                &new_variant(record),
                &product.option_names,
            );
            errors.finish()?;
            let position = product.variants.len() as i32 + i as i32;
            let variant =
                variants::insert(tx, product_id, &new_variant(record), position, actor).await?;
            events::variant(tx, Event::VariantCreated, &variant).await?;
            continue;
        };
        let patch = VariantPatch {
            sku: None,
            price: Some(record.price),
            compare_at_price: Some(record.compare_at_price),
            weight_grams: record.weight_grams,
            options: Some(record.options.clone()),
            position: None,
        };
        variants::update_in(tx, existing.id.as_uuid(), patch).await?;
        let delta = record.stock_on_hand - existing.stock_on_hand;
        if delta != 0 {
            let variant = inventory::shift_on_hand(tx, &record.sku, delta)
                .await?
                .ok_or(CatalogError::BelowReserved {
                    on_hand: existing.stock_on_hand,
                    reserved: existing.stock_reserved,
                })?;
            inventory::record(tx, &variant, "import", delta, 0, "bulk import", None, actor).await?;
            events::stock(tx, &variant, "import").await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_one_variant_records_with_line_numbers() {
        let text = "product_slug,product_name,category,brand,status,description,sku,price,compare_at_price,weight_grams,stock_on_hand,options\n\
                    kaos,Kaos,shirts,Basics,active,Adem,KAOS-M,89000,,200,5,size=M;color=black\n\
                    kaos,Kaos,shirts,Basics,active,Adem,KAOS-L,not-a-number,,200,5,size=L\n";
        let parsed = parse_csv(text);
        assert_eq!(parsed.len(), 2);
        let (line, record) = &parsed[0];
        assert_eq!(*line, 2);
        let record = record.as_ref().unwrap();
        assert_eq!(record.options, vec!["color", "size"]);
        assert_eq!(record.variants[0].options["size"], "M");
        assert_eq!(parsed[1].0, 3);
        assert_eq!(
            parsed[1].1.as_ref().unwrap_err(),
            "column price: invalid digit found in string"
        );
    }

    #[test]
    fn record_fields_map_to_csv_columns() {
        assert_eq!(csv_column("variants[0].price"), "price");
        assert_eq!(csv_column("variants[0].options.size"), "options");
        assert_eq!(csv_column("name"), "product_name");
        assert_eq!(csv_column("slug"), "product_slug");
        assert_eq!(csv_column("category"), "category");
        assert_eq!(csv_column("options[1]"), "options");
    }

    #[test]
    fn jsonl_skips_blank_lines_and_reports_bad_ones() {
        let text = "{\"name\":\"A\",\"category\":\"c\",\"variants\":[{\"sku\":\"A-1\",\"price\":1,\"stock_on_hand\":1}]}\n\n{oops}\n";
        let parsed = parse_jsonl(text);
        assert_eq!(parsed.len(), 2);
        assert!(parsed[0].1.is_ok());
        assert_eq!(parsed[1].0, 3);
        assert!(parsed[1].1.is_err());
    }
}
