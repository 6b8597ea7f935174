//! The `search-indexer` worker's handler: product, variant, stock and category events bring
//! the search documents of the products they touch up to date (a bulk request on
//! Elasticsearch; on PostgreSQL, a check and repair of the `tsvector` the triggers maintain).
//! Indexing re-derives documents from the database, so replays and out-of-order events are
//! harmless.

use async_trait::async_trait;

use super::{Search, SearchError};
use crate::{
    events::{Event, EventKind},
    messaging::{Delivered, Handler, HandlerError},
};

pub struct SearchIndexer {
    search: Search,
}

impl SearchIndexer {
    pub fn new(search: Search) -> Self {
        Self { search }
    }
}

/// The events whose products need re-indexing.
pub fn subscribes(kind: EventKind) -> bool {
    use EventKind::*;
    match kind {
        ProductCreated | ProductUpdated | ProductArchived | ProductDeleted | VariantCreated
        | VariantUpdated | VariantDeleted | StockChanged | CategoryChanged => true,
        UserRegistered
        | UserDeleted
        | StaffInvited
        | OrderCreated
        | OrderPaid
        | OrderProcessing
        | OrderPartiallyShipped
        | OrderShipped
        | ShipmentCreated
        | ShipmentDelivered
        | OrderDelivered
        | OrderCompleted
        | OrderCancelled
        | OrderExpired
        | OrderRefunded
        | OrderPartiallyRefunded
        | OrderPaymentReversed
        | PaymentExceptionOpened
        | WebhookEndpointDisabled
        | PromotionRedeemed
        | PromotionReleased
        | ReturnRequested
        | ReturnApproved
        | ReturnRejected
        | ReturnReceived
        | ReturnRefunded
        | UserPasswordResetRequested
        | UserEmailVerificationRequested => false,
    }
}

fn failure(error: SearchError) -> HandlerError {
    match error {
        SearchError::InvalidParameter { .. } => HandlerError::permanent(error),
        other => HandlerError::retryable(other),
    }
}

#[async_trait]
impl Handler for SearchIndexer {
    fn name(&self) -> &str {
        "search-indexer"
    }

    async fn handle(&self, msg: &Delivered) -> Result<(), HandlerError> {
        let product = match msg.event()? {
            Event::CategoryChanged(category) => {
                return self
                    .search
                    .index_category(category.category_id.into())
                    .await
                    .map_err(failure);
            }
            Event::ProductCreated(p)
            | Event::ProductUpdated(p)
            | Event::ProductArchived(p)
            | Event::ProductDeleted(p) => p.product_id.as_uuid(),
            Event::VariantCreated(v) | Event::VariantUpdated(v) | Event::VariantDeleted(v) => {
                v.product_id.as_uuid()
            }
            Event::StockChanged(stock) => stock.product_id.as_uuid(),
            other => return Err(HandlerError::not_subscribed(other.kind())),
        };
        self.search
            .backend()
            .index_products(&[product])
            .await
            .map_err(failure)
    }
}
