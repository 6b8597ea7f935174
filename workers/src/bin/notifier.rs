//! `notifier`: sends the customer emails (welcome, order confirmation, payment received,
//! shipped, cancelled or expired, refund) over SMTP — see `toko::notifications`.

use toko::{
    config::{OrderConfig, ProcessEnv, Reader, StoreConfig},
    notifications::{MailConfig, Mailer, Notifier},
    orders::Orders,
};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    toko_workers::run("notifier", |worker| {
        let env = Reader(&ProcessEnv);
        let mail = MailConfig::from_reader(&env)?;
        let orders = Orders::new(
            worker.pool.clone(),
            OrderConfig::from_reader(&env)?,
            StoreConfig::from_reader(&env)?.currency,
        );
        let notifier = Notifier::new(worker.pool.clone(), orders, Mailer::new(&mail)?, mail.shop);
        worker.consume(notifier)?;
        Ok(())
    })
    .await
}
