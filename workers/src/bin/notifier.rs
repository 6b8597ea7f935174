//! `notifier`: sends the customer emails (welcome, order confirmation, payment received,
//! shipped, cancelled or expired, refund) and the staff's payment-exception emails over SMTP
//! — see `toko::notifications`.

use toko::{
    config::{ProcessEnv, Reader},
    notifications::{MailConfig, Mailer, Notifier},
};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    toko_workers::run("notifier", |worker| {
        let mail = MailConfig::from_reader(&Reader(&ProcessEnv))?;
        let notifier = Notifier::new(worker.pool.clone(), Mailer::new(&mail)?, mail.shop)
            .with_link_key(mail.link_key);
        worker.consume(notifier)?;
        Ok(())
    })
    .await
}
