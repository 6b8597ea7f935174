//! Categories: a tree of named, slugged nodes. SQL and use cases for the `categories` table.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::{
    events::{self, CategoryChange},
    Catalog, CatalogError, Category, CategoryId, CategoryKey, Locator,
};
use crate::validation::{is_slug, slugify, ValidationErrors};

/// A category with its subtree.
#[derive(Debug, Clone)]
pub struct CategoryTree {
    pub category: Category,
    pub children: Vec<CategoryTree>,
}

/// A category with its path from the root and its direct children.
#[derive(Debug, Clone)]
pub struct CategoryDetail {
    pub category: Category,
    pub ancestors: Vec<Category>,
    pub children: Vec<Category>,
}

pub struct NewCategory {
    pub name: String,
    pub slug: Option<String>,
    /// `None` makes a root.
    pub parent: Option<CategoryKey>,
    pub description: Option<String>,
    pub position: Option<i32>,
}

/// Changes to a category; `None` leaves a field as it is. `parent: Some(None)` makes it a
/// root.
#[derive(Default)]
pub struct CategoryPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub parent: Option<Option<CategoryKey>>,
    pub description: Option<String>,
    pub position: Option<i32>,
}

#[derive(sqlx::FromRow)]
struct CategoryRow {
    category_id: Uuid,
    parent_id: Option<Uuid>,
    slug: String,
    name: String,
    description: String,
    position: i32,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<CategoryRow> for Category {
    fn from(r: CategoryRow) -> Self {
        Self {
            id: r.category_id.into(),
            parent_id: r.parent_id.map(Into::into),
            slug: r.slug,
            name: r.name,
            description: r.description,
            position: r.position,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Serialises moves within the tree so two concurrent moves cannot form a cycle.
const TREE_LOCK: i64 = 0x746f6b6f_63617473; // "tokocats"

fn validate(
    errors: &mut ValidationErrors,
    name: Option<&str>,
    slug: Option<&str>,
    description: Option<&str>,
) {
    if let Some(name) = name {
        errors.length("name", name.trim(), 1, 100);
    }
    if let Some(slug) = slug {
        errors.check(
            is_slug(slug),
            "slug",
            "must be lowercase letters, digits and single dashes",
        );
    }
    if let Some(description) = description {
        errors.length("description", description, 0, 5000);
    }
}

async fn all_rows(db: impl PgExecutor<'_>) -> Result<Vec<Category>, sqlx::Error> {
    let rows = sqlx::query_as!(
        CategoryRow,
        "select category_id, parent_id, slug, name, description, position, created_at, updated_at
         from categories order by position, name, category_id"
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

async fn find(
    db: impl PgExecutor<'_>,
    locator: &Locator<'_, CategoryId>,
) -> Result<Option<Category>, sqlx::Error> {
    let row = match locator {
        Locator::Id(id) => {
            sqlx::query_as!(
                CategoryRow,
                "select category_id, parent_id, slug, name, description, position, created_at,
                        updated_at
                 from categories where category_id = $1",
                id.as_uuid(),
            )
            .fetch_optional(db)
            .await?
        }
        Locator::Slug(slug) => {
            sqlx::query_as!(
                CategoryRow,
                "select category_id, parent_id, slug, name, description, position, created_at,
                        updated_at
                 from categories where slug = $1",
                slug,
            )
            .fetch_optional(db)
            .await?
        }
    };
    Ok(row.map(Into::into))
}

/// The ids of a category and all its descendants.
pub async fn subtree_ids(db: impl PgExecutor<'_>, root: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"with recursive tree as (
             select category_id from categories where category_id = $1
             union all
             select c.category_id from categories c join tree t on c.parent_id = t.category_id
         )
         select category_id as "category_id!" from tree"#,
        root,
    )
    .fetch_all(db)
    .await
}

fn build_tree(all: &[Category], parent: Option<CategoryId>) -> Vec<CategoryTree> {
    all.iter()
        .filter(|c| c.parent_id == parent)
        .map(|c| CategoryTree {
            category: c.clone(),
            children: build_tree(all, Some(c.id)),
        })
        .collect()
}

impl Catalog {
    /// The whole tree, siblings ordered by position then name.
    pub async fn category_tree(&self) -> Result<Vec<CategoryTree>, CatalogError> {
        self.reads
            .category_trees
            .get_or_try(String::new(), || async {
                let all = all_rows(&self.db).await?;
                Ok(build_tree(&all, None))
            })
            .await
    }

    pub async fn category(
        &self,
        locator: Locator<'_, CategoryId>,
    ) -> Result<CategoryDetail, CatalogError> {
        let all = all_rows(&self.db).await?;
        let category = match locator {
            Locator::Id(id) => all.iter().find(|c| c.id == id),
            Locator::Slug(slug) => all.iter().find(|c| c.slug == slug),
        }
        .cloned()
        .ok_or(CatalogError::NotFound("category"))?;
        let mut ancestors = Vec::new();
        let mut cursor = category.parent_id;
        while let Some(parent_id) = cursor {
            let Some(parent) = all.iter().find(|c| c.id == parent_id) else {
                break;
            };
            ancestors.insert(0, parent.clone());
            cursor = parent.parent_id;
        }
        let children = all
            .iter()
            .filter(|c| c.parent_id == Some(category.id))
            .cloned()
            .collect();
        Ok(CategoryDetail {
            category,
            ancestors,
            children,
        })
    }

    /// Resolves an id or slug to the ids of that category and its descendants.
    pub async fn category_subtree(
        &self,
        locator: Locator<'_, CategoryId>,
    ) -> Result<Vec<Uuid>, CatalogError> {
        let category = find(&self.db, &locator)
            .await?
            .ok_or(CatalogError::NotFound("category"))?;
        Ok(subtree_ids(&self.db, category.id.as_uuid()).await?)
    }

    /// A `category` query parameter (id or slug) as a listing filter: the category and its
    /// descendants; an unknown category matches no products rather than failing.
    pub async fn category_filter(
        &self,
        locator: Option<&str>,
    ) -> Result<Option<Vec<Uuid>>, CatalogError> {
        let Some(locator) = locator else {
            return Ok(None);
        };
        self.reads
            .category_filters
            .get_or_try(locator.to_owned(), || async {
                match self.category_subtree(Locator::parse(locator)).await {
                    Ok(ids) => Ok(Some(ids)),
                    Err(CatalogError::NotFound(_)) => Ok(Some(Vec::new())),
                    Err(e) => Err(e),
                }
            })
            .await
    }

    pub async fn create_category(&self, input: NewCategory) -> Result<Category, CatalogError> {
        let name = input.name.trim().to_owned();
        let slug = input.slug.clone().unwrap_or_else(|| slugify(&name));
        let mut errors = ValidationErrors::new();
        validate(
            &mut errors,
            Some(&input.name),
            Some(&slug),
            input.description.as_deref(),
        );
        errors.finish()?;

        let mut tx = self.db.begin().await?;
        let parent_id = match &input.parent {
            Some(parent) => Some(require_parent(&mut tx, parent).await?),
            None => None,
        };
        let row = sqlx::query_as!(
            CategoryRow,
            "insert into categories (category_id, parent_id, slug, name, description, position)
             values ($1, $2, $3, $4, $5, $6)
             returning category_id, parent_id, slug, name, description, position, created_at,
                       updated_at",
            Uuid::now_v7(),
            parent_id,
            &slug,
            &name,
            input.description.unwrap_or_default(),
            input.position.unwrap_or(0),
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| CatalogError::from_constraint(e, &slug, None))?;
        events::category(&mut tx, row.category_id, CategoryChange::Created).await?;
        tx.commit().await?;
        Ok(row.into())
    }

    pub async fn update_category(
        &self,
        id: CategoryId,
        patch: CategoryPatch,
    ) -> Result<Category, CatalogError> {
        let id = id.as_uuid();
        let mut errors = ValidationErrors::new();
        validate(
            &mut errors,
            patch.name.as_deref(),
            patch.slug.as_deref(),
            patch.description.as_deref(),
        );
        errors.finish()?;

        let mut tx = self.db.begin().await?;
        let mut parent_id = None;
        if let Some(Some(parent)) = &patch.parent {
            sqlx::query!("select pg_advisory_xact_lock($1)", TREE_LOCK)
                .execute(&mut *tx)
                .await?;
            let id_of_parent = require_parent(&mut tx, parent).await?;
            if subtree_ids(&mut *tx, id).await?.contains(&id_of_parent) {
                return Err(ValidationErrors::single(
                    parent.field,
                    "cannot be the category itself or one of its descendants",
                )
                .into());
            }
            parent_id = Some(id_of_parent);
        }
        let slug = patch.slug.clone().unwrap_or_default();
        let row = sqlx::query_as!(
            CategoryRow,
            "update categories set
                 name = coalesce($2, name),
                 slug = coalesce($3, slug),
                 parent_id = case when $4 then $5 else parent_id end,
                 description = coalesce($6, description),
                 position = coalesce($7, position)
             where category_id = $1
             returning category_id, parent_id, slug, name, description, position, created_at,
                       updated_at",
            id,
            patch.name.as_deref().map(str::trim),
            patch.slug.as_deref(),
            patch.parent.is_some(),
            parent_id,
            patch.description.as_deref(),
            patch.position,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| CatalogError::from_constraint(e, &slug, None))?;
        let row = row.ok_or(CatalogError::NotFound("category"))?;
        events::category(&mut tx, id, CategoryChange::Updated).await?;
        tx.commit().await?;
        Ok(row.into())
    }

    /// Deletes an empty leaf category; one with products or children is a conflict (the
    /// foreign keys decide, so a product added concurrently cannot slip through).
    pub async fn delete_category(&self, id: CategoryId) -> Result<(), CatalogError> {
        let id = id.as_uuid();
        let mut tx = self.db.begin().await?;
        let result = sqlx::query!("delete from categories where category_id = $1", id)
            .execute(&mut *tx)
            .await;
        match result {
            Ok(r) if r.rows_affected() == 0 => return Err(CatalogError::NotFound("category")),
            Ok(_) => {}
            Err(e) => {
                return Err(match crate::db::violated_constraint(&e) {
                    Some("products_category_id_fkey") => CatalogError::CategoryInUse("products"),
                    Some("categories_parent_id_fkey") => {
                        CatalogError::CategoryInUse("child categories")
                    }
                    _ => CatalogError::Database(e),
                })
            }
        }
        events::category(&mut tx, id, CategoryChange::Deleted).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn require_parent(tx: &mut PgConnection, parent: &CategoryKey) -> Result<Uuid, CatalogError> {
    find_id(tx, parent)
        .await?
        .map(|id| id.as_uuid())
        .ok_or_else(|| ValidationErrors::single(parent.field, "no such category").into())
}

/// The id of the category a key names, if there is one.
pub(crate) async fn find_id(
    tx: &mut PgConnection,
    key: &CategoryKey,
) -> Result<Option<CategoryId>, sqlx::Error> {
    sqlx::query_scalar!(
        "select category_id from categories
         where ($1::uuid is null or category_id = $1) and ($2::text is null or slug = $2)",
        key.id.map(|id| id.as_uuid()),
        key.slug.as_deref(),
    )
    .fetch_optional(&mut *tx)
    .await
    .map(|id| id.map(CategoryId::from))
}
