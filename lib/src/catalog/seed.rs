//! A realistic demo catalog (`tokoctl catalog seed --products N`): a category tree, brands,
//! products with several variants, prices, stock and descriptions made of real words, so
//! browsing, search and benchmarks have something to chew on.
//!
//! Generation is deterministic for a given seed. Rows go in with set-based `unnest` inserts
//! in batches, so 100,000 products take seconds, not minutes. Seeding writes the initial
//! stock movements (the ledger must sum to the stock) but no outbox events: it is a bulk load
//! of a fresh shop, so run `tokoctl search reindex` afterwards when search uses Elasticsearch.

use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

use super::{Catalog, CatalogError};

type Words = &'static [&'static str];

/// A leaf category: (name, nouns, price range in IDR, option kind, brands, materials). Brands
/// and materials belong to the leaf, so a phone is never made of cotton nor jeans by Samsung.
type Leaf = (&'static str, Words, (i64, i64), Options, Words, Words);

/// (top category, qualities, uses, leaves): the words of a description fit the department.
type Department = (&'static str, Words, Words, &'static [Leaf]);

#[derive(Clone, Copy)]
enum Options {
    Apparel,
    Shoes,
    Storage,
    Color,
    None,
}

const DEPARTMENTS: &[Department] = &[
    (
        "Fashion",
        &[
            "lightweight",
            "breathable",
            "soft",
            "durable",
            "comfortable",
            "stylish",
            "versatile",
        ],
        &[
            "daily use",
            "the office",
            "weekend trips",
            "rainy season",
            "long commutes",
        ],
        &[
            (
                "T-Shirts",
                &["T-Shirt", "Kaos", "Polo Shirt", "Henley"],
                (49_000, 299_000),
                Options::Apparel,
                &["Uniqlo", "Erigo", "Nusantara", "Batavia", "Sumba"],
                &[
                    "cotton",
                    "organic cotton",
                    "cotton jersey",
                    "recycled polyester",
                ],
            ),
            (
                "Shirts",
                &[
                    "Oxford Shirt",
                    "Kemeja Batik",
                    "Linen Shirt",
                    "Flannel Shirt",
                ],
                (99_000, 599_000),
                Options::Apparel,
                &["Uniqlo", "Batavia", "Nusantara", "Sumba", "Erigo"],
                &["cotton", "linen", "batik cotton", "flannel"],
            ),
            (
                "Trousers",
                &["Chino", "Jeans", "Cargo Pants", "Jogger"],
                (149_000, 799_000),
                Options::Apparel,
                &["Uniqlo", "Erigo", "Batavia", "Nusantara"],
                &["denim", "cotton twill", "ripstop nylon", "stretch cotton"],
            ),
            (
                "Jackets",
                &["Bomber Jacket", "Denim Jacket", "Rain Jacket", "Hoodie"],
                (199_000, 1_499_000),
                Options::Apparel,
                &["Eiger", "Consina", "Erigo", "Uniqlo"],
                &["denim", "nylon", "recycled polyester", "cotton fleece"],
            ),
            (
                "Shoes",
                &["Sneakers", "Running Shoes", "Loafers", "Sandals", "Boots"],
                (199_000, 2_499_000),
                Options::Shoes,
                &["Compass", "Ortuseight", "Specs", "Eiger"],
                &["canvas", "leather", "suede", "knit mesh"],
            ),
        ],
    ),
    (
        "Electronics",
        &[
            "lightweight",
            "durable",
            "water-resistant",
            "energy-efficient",
            "compact",
            "fast-charging",
            "long-lasting",
        ],
        &[
            "daily use",
            "the office",
            "students",
            "long commutes",
            "gaming",
            "gifts",
        ],
        &[
            (
                "Smartphones",
                &["Smartphone", "Phone", "Android Phone", "iPhone"],
                (1_499_000, 24_999_000),
                Options::Storage,
                &["Samsung", "Xiaomi", "Asus", "Sony"],
                &["aluminium", "glass", "polycarbonate"],
            ),
            (
                "Laptops",
                &["Laptop", "Notebook", "Ultrabook", "Chromebook"],
                (4_999_000, 39_999_000),
                Options::Storage,
                &["Asus", "Lenovo", "Samsung", "Xiaomi"],
                &["aluminium", "magnesium alloy", "polycarbonate"],
            ),
            (
                "Audio",
                &["Headphones", "Earbuds", "Bluetooth Speaker", "Soundbar"],
                (149_000, 6_999_000),
                Options::Color,
                &["Sony", "Philips", "Polytron", "Xiaomi", "Logitech"],
                &["plastic", "aluminium", "fabric mesh"],
            ),
            (
                "Cameras",
                &["Mirrorless Camera", "Action Camera", "Webcam", "Lens"],
                (499_000, 29_999_000),
                Options::None,
                &["Sony", "Logitech", "Xiaomi"],
                &["magnesium alloy", "plastic", "aluminium"],
            ),
            (
                "Accessories",
                &[
                    "Power Bank",
                    "USB-C Cable",
                    "Charger",
                    "Phone Case",
                    "Smartwatch",
                ],
                (29_000, 3_999_000),
                Options::Color,
                &["Xiaomi", "Samsung", "Logitech", "Philips"],
                &["silicone", "plastic", "braided nylon", "aluminium"],
            ),
        ],
    ),
    (
        "Home & Living",
        &[
            "sturdy",
            "handcrafted",
            "easy to clean",
            "compact",
            "energy-efficient",
            "long-lasting",
            "stylish",
        ],
        &[
            "home cooking",
            "small apartments",
            "family gatherings",
            "the office",
            "gifts",
        ],
        &[
            (
                "Kitchen",
                &[
                    "Rice Cooker",
                    "Frying Pan",
                    "Knife Set",
                    "Blender",
                    "Coffee Maker",
                ],
                (79_000, 2_999_000),
                Options::Color,
                &["Miyako", "Cosmos", "Philips", "Oxone", "Lock&Lock"],
                &[
                    "stainless steel",
                    "ceramic",
                    "cast aluminium",
                    "tempered glass",
                ],
            ),
            (
                "Furniture",
                &["Bookshelf", "Office Chair", "Coffee Table", "Sofa", "Desk"],
                (299_000, 9_999_000),
                Options::Color,
                &["Informa", "Ikea", "Kawi", "Lombok Works"],
                &["teak wood", "rattan", "bamboo", "steel frame"],
            ),
            (
                "Bedding",
                &["Pillow", "Bed Sheet", "Blanket", "Mattress Topper"],
                (59_000, 1_999_000),
                Options::Color,
                &["Informa", "Ikea", "Sumba", "Nusantara"],
                &["cotton", "microfiber", "bamboo fibre", "linen"],
            ),
            (
                "Decor",
                &["Wall Clock", "Table Lamp", "Plant Pot", "Picture Frame"],
                (39_000, 899_000),
                Options::Color,
                &["Informa", "Ikea", "Lombok Works", "Kawi"],
                &["ceramic", "rattan", "teak wood", "glass"],
            ),
        ],
    ),
    (
        "Beauty",
        &[
            "gentle",
            "fragrance-free",
            "long-lasting",
            "lightweight",
            "dermatologist-tested",
            "vegan",
        ],
        &[
            "daily use",
            "sensitive skin",
            "humid weather",
            "travel",
            "gifts",
        ],
        &[
            (
                "Skincare",
                &["Face Wash", "Moisturizer", "Sunscreen", "Serum", "Toner"],
                (29_000, 599_000),
                Options::None,
                &["Wardah", "Emina", "Somethinc"],
                &[
                    "aloe vera",
                    "niacinamide",
                    "green tea extract",
                    "hyaluronic acid",
                ],
            ),
            (
                "Makeup",
                &["Lipstick", "Foundation", "Mascara", "Eyeliner"],
                (39_000, 499_000),
                Options::Color,
                &["Wardah", "Emina", "Somethinc"],
                &["vitamin E", "shea butter", "jojoba oil"],
            ),
            (
                "Hair Care",
                &["Shampoo", "Conditioner", "Hair Oil", "Hair Dryer"],
                (25_000, 1_299_000),
                Options::None,
                &["Wardah", "Emina", "Philips"],
                &["argan oil", "candlenut oil", "aloe vera"],
            ),
        ],
    ),
    (
        "Sports & Outdoors",
        &[
            "lightweight",
            "durable",
            "water-resistant",
            "breathable",
            "sturdy",
            "compact",
        ],
        &[
            "the gym",
            "outdoor adventures",
            "weekend trips",
            "rainy season",
            "morning rides",
        ],
        &[
            (
                "Fitness",
                &["Yoga Mat", "Dumbbell", "Resistance Band", "Jump Rope"],
                (49_000, 1_499_000),
                Options::Color,
                &["Eiger", "Ortuseight", "Specs"],
                &["natural rubber", "TPE foam", "cast iron", "nylon"],
            ),
            (
                "Cycling",
                &["Road Bike", "Bike Helmet", "Bike Light", "Cycling Jersey"],
                (99_000, 19_999_000),
                Options::Apparel,
                &["Eiger", "Consina", "Polygon"],
                &[
                    "aluminium",
                    "carbon fibre",
                    "polycarbonate",
                    "recycled polyester",
                ],
            ),
            (
                "Camping",
                &[
                    "Tent",
                    "Sleeping Bag",
                    "Backpack",
                    "Headlamp",
                    "Water Bottle",
                ],
                (49_000, 3_999_000),
                Options::Color,
                &["Eiger", "Consina", "Rinjani", "Bromo"],
                &["ripstop nylon", "polyester", "aluminium", "stainless steel"],
            ),
        ],
    ),
    (
        "Books & Hobbies",
        &[
            "illustrated",
            "bestselling",
            "beautifully made",
            "engaging",
            "classic",
            "well-crafted",
        ],
        &[
            "students",
            "family gatherings",
            "gifts",
            "weekend trips",
            "quiet evenings",
        ],
        &[
            (
                "Books",
                &[
                    "Novel",
                    "Cookbook",
                    "Travel Guide",
                    "Comic",
                    "Children's Book",
                ],
                (39_000, 399_000),
                Options::None,
                &["Gramedia", "Kawi", "Batavia"],
                &["recycled paper", "hardcover binding", "paperback binding"],
            ),
            (
                "Toys",
                &[
                    "Building Blocks",
                    "Puzzle",
                    "Board Game",
                    "Action Figure",
                    "Plush Toy",
                ],
                (49_000, 1_999_000),
                Options::None,
                &["Lego", "Gramedia", "Garuda"],
                &["ABS plastic", "wood", "soft plush"],
            ),
            (
                "Music",
                &["Acoustic Guitar", "Ukulele", "Keyboard", "Drum Pad"],
                (299_000, 12_999_000),
                Options::Color,
                &["Yamaha", "Kawi", "Merapi"],
                &["mahogany", "spruce", "maple", "plastic"],
            ),
        ],
    ),
    (
        "Groceries",
        &[
            "fresh",
            "rich",
            "aromatic",
            "crunchy",
            "naturally sweet",
            "small-batch",
        ],
        &[
            "daily use",
            "family gatherings",
            "the office",
            "gifts",
            "afternoon breaks",
        ],
        &[
            (
                "Coffee & Tea",
                &[
                    "Arabica Coffee",
                    "Robusta Coffee",
                    "Green Tea",
                    "Jasmine Tea",
                ],
                (19_000, 299_000),
                Options::None,
                &["Kapal Api", "Tanamera", "Toba", "Merapi"],
                &["single-origin beans", "whole leaves", "locally grown beans"],
            ),
            (
                "Snacks",
                &["Keripik Singkong", "Cookies", "Chocolate Bar", "Mixed Nuts"],
                (9_000, 149_000),
                Options::None,
                &["Chitato", "Garuda", "Nusantara"],
                &["cassava", "cocoa", "roasted nuts", "palm sugar"],
            ),
        ],
    ),
];

const ADJECTIVES: &[&str] = &[
    "Classic",
    "Premium",
    "Essential",
    "Ultra",
    "Lite",
    "Pro",
    "Urban",
    "Everyday",
    "Signature",
    "Eco",
    "Compact",
    "Deluxe",
    "Modern",
    "Vintage",
    "Smart",
    "Active",
    "Comfort",
    "Travel",
    "Studio",
    "Original",
];

const COLORS: &[&str] = &[
    "black", "white", "navy", "grey", "red", "green", "beige", "blue",
];
const SIZES: &[&str] = &["S", "M", "L", "XL"];
const SHOE_SIZES: &[&str] = &["39", "40", "41", "42", "43", "44"];
const STORAGE: &[&str] = &["64GB", "128GB", "256GB", "512GB"];

/// What a seed run created.
#[derive(Debug, Default, Clone, Copy)]
pub struct SeedSummary {
    pub categories: u64,
    pub products: u64,
    pub variants: u64,
}

/// Rows of one batch, column by column for `unnest`.
#[derive(Default)]
struct Batch {
    product_ids: Vec<Uuid>,
    slugs: Vec<String>,
    names: Vec<String>,
    descriptions: Vec<String>,
    brands: Vec<String>,
    category_ids: Vec<Uuid>,
    statuses: Vec<&'static str>,
    attributes: Vec<serde_json::Value>,
    option_names: Vec<String>,
    created_at: Vec<chrono::DateTime<chrono::Utc>>,
    v_ids: Vec<Uuid>,
    v_product_ids: Vec<Uuid>,
    v_skus: Vec<String>,
    v_options: Vec<serde_json::Value>,
    v_prices: Vec<i64>,
    v_compare: Vec<Option<i64>>,
    v_weights: Vec<i32>,
    v_stock: Vec<i32>,
    v_positions: Vec<i32>,
    /// Ledger ids for the variants that start with stock (UUIDv7, so the ledger sorts by time).
    m_ids: Vec<Uuid>,
    m_variant_ids: Vec<Uuid>,
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// The words a product's description and attributes are made of.
#[derive(Clone, Copy)]
struct Vocabulary {
    qualities: Words,
    uses: Words,
    brands: Words,
    materials: Words,
}

fn description(
    rng: &mut StdRng,
    words: &Vocabulary,
    noun: &str,
    brand: &str,
    material: &str,
) -> String {
    let quality = pick(rng, words.qualities);
    let other = pick(rng, words.qualities);
    let usage = pick(rng, words.uses);
    format!(
        "A {quality} {noun} from {brand}, made with {material}. {cap} and {other}, it is a great choice for {usage}. \
         Shipped from Jakarta.",
        noun = noun.to_lowercase(),
        cap = capitalise(other),
    )
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

fn option_values(kind: Options, rng: &mut StdRng) -> (Vec<&'static str>, Vec<Vec<&'static str>>) {
    let count = rng.random_range(1..=4usize);
    let take = |values: &'static [&'static str], rng: &mut StdRng| -> Vec<&'static str> {
        let start = rng.random_range(0..values.len());
        (0..count.min(values.len()))
            .map(|i| values[(start + i) % values.len()])
            .collect()
    };
    match kind {
        Options::Apparel => {
            let color = *pick(rng, COLORS);
            (
                vec!["color", "size"],
                take(SIZES, rng)
                    .into_iter()
                    .map(|s| vec![color, s])
                    .collect(),
            )
        }
        Options::Shoes => (
            vec!["size"],
            take(SHOE_SIZES, rng).into_iter().map(|s| vec![s]).collect(),
        ),
        Options::Storage => (
            vec!["storage"],
            take(STORAGE, rng).into_iter().map(|s| vec![s]).collect(),
        ),
        Options::Color => (
            vec!["color"],
            take(COLORS, rng).into_iter().map(|s| vec![s]).collect(),
        ),
        Options::None => (vec![], vec![vec![]]),
    }
}

impl Catalog {
    /// Creates the category tree (idempotently) and `products` new products, calling
    /// `progress` with the number of products written after each batch.
    pub async fn seed(
        &self,
        products: u64,
        seed: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<SeedSummary, CatalogError> {
        let mut rng = StdRng::seed_from_u64(seed);
        let leaves = self.seed_categories().await?;
        let mut summary = SeedSummary {
            categories: leaves.len() as u64,
            ..Default::default()
        };
        // Seeded slugs and SKUs carry a run id so several seeds coexist in one database.
        let run = &Uuid::new_v4().simple().to_string()[..6];
        let started = chrono::Utc::now() - chrono::Duration::seconds(products as i64);
        const BATCH: u64 = 2_000;
        let mut written = 0;
        while written < products {
            let n = BATCH.min(products - written);
            let mut b = Batch::default();
            for i in written..written + n {
                let (category_id, noun_list, (low, high), kind, words) = *pick(&mut rng, &leaves);
                let noun = *pick(&mut rng, noun_list);
                let brand = *pick(&mut rng, words.brands);
                let material = *pick(&mut rng, words.materials);
                let model = format!(
                    "{}{}",
                    pick(&mut rng, &["X", "S", "M", "A", "Z", "R"]),
                    rng.random_range(1..100)
                );
                let name = format!("{brand} {} {noun} {model}", pick(&mut rng, ADJECTIVES));
                let product_id = Uuid::now_v7();
                let status = match rng.random_range(0..100) {
                    0..=2 => "draft",
                    3..=4 => "archived",
                    _ => "active",
                };
                b.product_ids.push(product_id);
                b.slugs
                    .push(format!("{}-{run}-{i}", crate::validation::slugify(&name)));
                b.descriptions
                    .push(description(&mut rng, &words, noun, brand, material));
                b.names.push(name);
                b.brands.push(brand.to_owned());
                b.category_ids.push(category_id);
                b.statuses.push(status);
                b.attributes.push(json!({ "material": material }));
                b.created_at
                    .push(started + chrono::Duration::seconds(i as i64));
                let (names, combos) = option_values(kind, &mut rng);
                b.option_names.push(format!("{{{}}}", names.join(",")));
                let base = (rng.random_range(low..=high) / 1_000) * 1_000;
                for (position, combo) in combos.iter().enumerate() {
                    let options: serde_json::Map<String, serde_json::Value> = names
                        .iter()
                        .zip(combo)
                        .map(|(n, v)| (n.to_string(), json!(v)))
                        .collect();
                    let price = base + position as i64 * (base / 20 / 1_000) * 1_000;
                    let variant_id = Uuid::now_v7();
                    b.v_ids.push(variant_id);
                    b.v_product_ids.push(product_id);
                    b.v_skus
                        .push(format!("SEED-{run}-{i}-{position}").to_uppercase());
                    b.v_options.push(serde_json::Value::Object(options));
                    b.v_prices.push(price);
                    b.v_compare
                        .push(rng.random_bool(0.2).then_some(price + price / 5));
                    b.v_weights.push(rng.random_range(50..5_000));
                    let stock = if rng.random_bool(0.1) {
                        0
                    } else {
                        rng.random_range(1..200)
                    };
                    b.v_stock.push(stock);
                    if stock > 0 {
                        b.m_ids.push(Uuid::now_v7());
                        b.m_variant_ids.push(variant_id);
                    }
                    b.v_positions.push(position as i32);
                }
            }
            summary.variants += b.v_ids.len() as u64;
            self.insert_batch(&b).await?;
            written += n;
            summary.products = written;
            progress(written);
        }
        Ok(summary)
    }

    /// The department tree; existing categories (same slug) are reused.
    async fn seed_categories(
        &self,
    ) -> Result<Vec<(Uuid, Words, (i64, i64), Options, Vocabulary)>, CatalogError> {
        let mut leaves = Vec::new();
        let mut tx = self.db.begin().await?;
        for (position, (department, qualities, uses, subs)) in DEPARTMENTS.iter().enumerate() {
            let parent = upsert_category(&mut tx, department, None, position as i32).await?;
            for (sub_position, (name, nouns, range, kind, brands, materials)) in
                subs.iter().enumerate()
            {
                let id = upsert_category(&mut tx, name, Some(parent), sub_position as i32).await?;
                let words = Vocabulary {
                    qualities,
                    uses,
                    brands,
                    materials,
                };
                leaves.push((id, *nouns, *range, *kind, words));
            }
        }
        tx.commit().await?;
        Ok(leaves)
    }

    async fn insert_batch(&self, b: &Batch) -> Result<(), CatalogError> {
        let mut tx = self.db.begin().await?;
        sqlx::query!(
            "insert into products (product_id, slug, name, description, brand, category_id, status, attributes,
                                   option_names, created_at, updated_at)
             select id, slug, name, description, brand, category_id, status, attributes, option_names::text[], created_at, created_at
             from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::text[],
                         $8::jsonb[], $9::text[], $10::timestamptz[])
                  as t(id, slug, name, description, brand, category_id, status, attributes, option_names, created_at)",
            &b.product_ids,
            &b.slugs,
            &b.names,
            &b.descriptions,
            &b.brands,
            &b.category_ids,
            &b.statuses as _,
            &b.attributes,
            &b.option_names,
            &b.created_at,
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "insert into variants (variant_id, product_id, sku, options, price, compare_at_price, weight_grams,
                                   stock_on_hand, position)
             select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::int8[], $6::int8[],
                                  $7::int4[], $8::int4[], $9::int4[])",
            &b.v_ids,
            &b.v_product_ids,
            &b.v_skus,
            &b.v_options,
            &b.v_prices,
            &b.v_compare as _,
            &b.v_weights,
            &b.v_stock,
            &b.v_positions,
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "insert into stock_movements (movement_id, variant_id, sku, kind, on_hand_delta, on_hand_after,
                                          reserved_after, reason)
             select m.id, v.variant_id, v.sku, 'initial', v.stock_on_hand, v.stock_on_hand, 0, 'demo seed'
             from unnest($1::uuid[], $2::uuid[]) as m(id, variant_id)
             join variants v on v.variant_id = m.variant_id",
            &b.m_ids,
            &b.m_variant_ids,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn upsert_category(
    tx: &mut sqlx::PgConnection,
    name: &str,
    parent: Option<Uuid>,
    position: i32,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "insert into categories (category_id, parent_id, slug, name, position) values ($1, $2, $3, $4, $5)
         on conflict on constraint categories_slug_key do update set name = excluded.name
         returning category_id",
        Uuid::now_v7(),
        parent,
        crate::validation::slugify(name),
        name,
        position,
    )
    .fetch_one(tx)
    .await
}
