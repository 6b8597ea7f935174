//! Notification emails: the `notifier` worker's handler, the SMTP mailer and the templates.
//!
//! Exactly one email per event: the handler opens the idempotency transaction for the
//! event's message id (a duplicate waits on it, then finds it done), sends, and commits only
//! after the SMTP server accepted the message. A failed send rolls back and is retried. The one
//! window left is a crash after the server accepted the message but before the commit: then
//! the email is sent again on redelivery, with the same `Message-ID` (`<event-id@host>`), so
//! mail clients show it once.

pub mod smtp;
pub mod templates;

use async_trait::async_trait;
use std::{sync::Arc, time::Duration};

use lettre::{
    message::{Mailbox, Mailboxes, MultiPart},
    Message,
};
use sqlx::PgPool;

use self::{
    smtp::SmtpClient,
    templates::{Email, Shop},
};
use crate::{
    config::{ConfigError, Reader, Secret},
    events::{Event, EventKind},
    messaging::{Delivered, Handler, HandlerError, Idempotency},
    payments::exceptions::PaymentExceptionOpened,
};

/// SMTP and sender settings of the notifier.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub smtp_url: Secret,
    pub from: String,
    pub shop: Shop,
    /// The key account links (password reset) are derived with: the API's `JWT_SECRET`.
    pub link_key: Option<Secret>,
}

impl MailConfig {
    pub fn from_reader(r: &Reader) -> Result<Self, ConfigError> {
        let smtp_url = r.string("SMTP_URL", "smtp://127.0.0.1:1025");
        if !(smtp_url.starts_with("smtp://") || smtp_url.starts_with("smtps://")) {
            return Err(ConfigError::Invalid {
                name: "SMTP_URL",
                reason: "expected smtp:// or smtps://".into(),
            });
        }
        let from = r.string("MAIL_FROM", "toko <no-reply@toko.local>");
        from.parse::<Mailbox>().map_err(|e| ConfigError::Invalid {
            name: "MAIL_FROM",
            reason: e.to_string(),
        })?;
        Ok(Self {
            smtp_url: Secret::new(smtp_url),
            from,
            shop: Shop {
                name: r.string("SHOP_NAME", "toko"),
                url: r.string("SHOP_URL", "http://localhost:3000"),
            },
            link_key: r.optional("JWT_SECRET").map(Secret::new),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid SMTP_URL: {0}")]
    Config(String),
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("could not build the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("SMTP delivery failed: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("connecting to the SMTP server: {0}")]
    Connect(#[source] std::io::Error),
    #[error("the SMTP server did not answer within {0:?}")]
    Timeout(Duration),
}

/// Sends emails over SMTP (`SMTP_URL`, e.g. `smtp://mailpit:1025`, `smtps://user:pass@host`)
/// on pooled connections ([`smtp`]).
#[derive(Clone)]
pub struct Mailer {
    smtp: Arc<SmtpClient>,
    from: Mailbox,
    /// The domain of `Message-ID`s.
    domain: String,
}

impl Mailer {
    pub fn new(config: &MailConfig) -> Result<Self, MailError> {
        let smtp = SmtpClient::new(config.smtp_url.expose(), Duration::from_secs(20))?;
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| MailError::Address(config.from.clone()))?;
        let domain = from.email.domain().to_owned();
        Ok(Self {
            smtp: Arc::new(smtp),
            from,
            domain,
        })
    }

    /// Sends `email` with a `Message-ID` derived from `id` (stable across retries).
    pub async fn send(&self, email: &Email, id: &str) -> Result<(), MailError> {
        let to: Mailboxes = email
            .to
            .parse()
            .map_err(|_| MailError::Address(email.to.clone()))?;
        let mut message = Message::builder().from(self.from.clone());
        for recipient in to {
            message = message.to(recipient);
        }
        let message = message
            .subject(&email.subject)
            .message_id(Some(format!("<{id}@{}>", self.domain)))
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))?;
        self.smtp
            .send(message.envelope(), &message.formatted())
            .await
    }
}

/// The `notifier` worker.
pub struct Notifier {
    db: PgPool,
    mailer: Mailer,
    shop: Shop,
    link_key: Option<Secret>,
}

/// The events that send an email.
pub fn subscribes(kind: EventKind) -> bool {
    use EventKind::*;
    match kind {
        UserRegistered
        | StaffInvited
        | UserPasswordResetRequested
        | UserEmailVerificationRequested
        | OrderCreated
        | OrderPaid
        | ShipmentCreated
        | OrderCancelled
        | OrderExpired
        | OrderRefunded
        | OrderPartiallyRefunded
        | PaymentExceptionOpened
        | WebhookEndpointDisabled
        | ReturnRequested
        | ReturnApproved
        | ReturnRejected
        | ReturnReceived
        | ReturnRefunded => true,
        // Nothing is left to write to: the address is gone with the account.
        UserDeleted => false,
        ProductCreated | ProductUpdated | ProductArchived | ProductDeleted | VariantCreated
        | VariantUpdated | VariantDeleted | StockChanged | CategoryChanged | OrderProcessing
        // The shipment's email tells the customer; the order's status adds nothing.
        | OrderPartiallyShipped | OrderShipped | ShipmentDelivered
        | OrderDelivered | OrderCompleted | OrderPaymentReversed | PromotionRedeemed
        | PromotionReleased => false,
    }
}

impl Notifier {
    pub fn new(db: PgPool, mailer: Mailer, shop: Shop) -> Self {
        Self {
            db,
            mailer,
            shop,
            link_key: None,
        }
    }

    /// Makes password reset links with `key` (the API's `JWT_SECRET`).
    pub fn with_link_key(mut self, key: Option<Secret>) -> Self {
        self.link_key = key;
        self
    }

    /// The email an event calls for (`None`: nothing to send for it). Everything an email
    /// says comes from the event's payload, as it was when the event was written.
    async fn email_for(&self, msg: &Delivered) -> Result<Option<Email>, HandlerError> {
        let shop = &self.shop;
        Ok(match msg.event()? {
            Event::UserRegistered(user) => {
                let link = match user.verification_id {
                    Some(id) => Some(crate::auth::verification::verification_token(
                        self.link_key()?,
                        id,
                    )),
                    None => None,
                };
                Some(templates::welcome(
                    shop,
                    &user.email,
                    &user.name,
                    link.as_deref(),
                ))
            }
            Event::UserPasswordResetRequested(request) => {
                let token = crate::auth::resets::reset_token(self.link_key()?, request.request_id);
                Some(templates::password_reset(shop, &request, &token))
            }
            Event::StaffInvited(invite) => {
                let token = crate::auth::staff::invite_token(self.link_key()?, invite.invite_id);
                Some(templates::staff_invite(shop, &invite, &token))
            }
            Event::UserEmailVerificationRequested(request) => {
                let token = crate::auth::verification::verification_token(
                    self.link_key()?,
                    request.verification_id,
                );
                Some(templates::verify_email(shop, &request, &token))
            }
            Event::OrderCreated(order) => Some(templates::order_confirmation(shop, &order)),
            Event::OrderPaid(order) => Some(templates::payment_received(shop, &order)),
            Event::ShipmentCreated(shipped) => Some(templates::shipment_sent(shop, &shipped)),
            Event::OrderCancelled(order) => Some(templates::order_closed(shop, &order, false)),
            Event::OrderExpired(order) => Some(templates::order_closed(shop, &order, true)),
            Event::OrderRefunded(order) | Event::OrderPartiallyRefunded(order) => {
                Some(templates::refund_issued(shop, &order))
            }
            Event::ReturnRequested(r)
            | Event::ReturnApproved(r)
            | Event::ReturnRejected(r)
            | Event::ReturnReceived(r)
            | Event::ReturnRefunded(r) => Some(templates::return_update(shop, &r)),
            Event::PaymentExceptionOpened(exception) => self.payment_exception(&exception).await?,
            Event::WebhookEndpointDisabled(endpoint) => {
                self.to_admins(|to| templates::webhook_endpoint_disabled(shop, to, &endpoint))
                    .await?
            }
            _ => None,
        })
    }

    /// The key of account links; without it, emails with links cannot be written.
    fn link_key(&self) -> Result<&Secret, HandlerError> {
        self.link_key.as_ref().ok_or_else(|| {
            HandlerError::permanent("JWT_SECRET is not set: the notifier cannot make account links")
        })
    }

    /// A payment exception that needs a person goes to the admins.
    async fn payment_exception(
        &self,
        e: &PaymentExceptionOpened,
    ) -> Result<Option<Email>, HandlerError> {
        if !e.needs_staff() {
            // Handled automatically (e.g. a late payment refunded): listed, nobody to wake.
            return Ok(None);
        }
        self.to_admins(|to| {
            templates::payment_exception(
                &self.shop,
                to,
                &e.order_number,
                &e.kind,
                &e.detail,
                &e.action,
            )
        })
        .await
    }

    /// An email to every enabled admin account; nothing when there is none.
    async fn to_admins(
        &self,
        email: impl FnOnce(&str) -> Email,
    ) -> Result<Option<Email>, HandlerError> {
        let admins = crate::auth::store::admin_emails(&self.db)
            .await
            .map_err(HandlerError::retryable)?;
        if admins.is_empty() {
            tracing::warn!("a staff notification but no admin account to email");
            return Ok(None);
        }
        Ok(Some(email(&admins.join(", "))))
    }
}

#[async_trait]
impl Handler for Notifier {
    fn name(&self) -> &str {
        "notifier"
    }

    async fn handle(&self, msg: &Delivered) -> Result<(), HandlerError> {
        let Some(tx) = Idempotency::begin(&self.db, self.name(), &msg.message_id).await? else {
            return Ok(());
        };
        // A deleted customer's orders keep no address: nobody to write to.
        let email = self.email_for(msg).await?.filter(|e| !e.to.is_empty());
        let Some(email) = email else {
            tx.commit().await?;
            return Ok(());
        };
        match self.mailer.send(&email, &msg.message_id).await {
            Ok(()) => {
                tx.commit().await?;
                tracing::info!(event = %msg.event_type, message_id = %msg.message_id, "email sent");
                Ok(())
            }
            Err(MailError::Address(address)) => Err(HandlerError::permanent(format!(
                "invalid address {address:?}"
            ))),
            Err(error) => Err(HandlerError::retryable(error)),
        }
    }
}
