//! The webhook receiver is only worth its verdicts if it refuses what it should: requests are
//! signed here, independently of toko's signer (HMAC-SHA256 built from `sha2`, per the
//! Standard Webhooks spec), and the receiver must accept those and refuse forgeries, stale
//! timestamps and unknown secrets, and answer exactly as told.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::{engine::general_purpose::STANDARD, Engine};
use sha2::{Digest, Sha256};
use toko_testkit::{webhooks::ReceivedWebhook, WebhookReceiver};

/// A `whsec_` secret whose key is 32 copies of `byte`.
fn secret(byte: u8) -> String {
    format!("whsec_{}", STANDARD.encode([byte; 32]))
}

/// HMAC-SHA256 (RFC 2104), so the signature does not come from the code under test.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner = Sha256::new()
        .chain_update(block.map(|b| b ^ 0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(block.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// `v1,<base64 HMAC over "{id}.{timestamp}.{body}">` with the secret's base64-decoded key.
fn sign(secret: &str, id: &str, timestamp: u64, body: &str) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("a base64 key");
    let mac = hmac_sha256(&key, format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs()
}

/// Posts `body` to the receiver with the three Standard Webhooks headers; returns the status.
async fn deliver(
    receiver: &WebhookReceiver,
    id: &str,
    timestamp: u64,
    signature: &str,
    body: &str,
) -> u16 {
    reqwest::Client::new()
        .post(receiver.url("/hooks/orders"))
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("deliver to the receiver")
        .status()
        .as_u16()
}

fn assert_refused(request: &ReceivedWebhook, because: &str) {
    assert!(!request.verified, "should not verify: {request:#?}");
    assert_eq!(request.secret_index, None, "{request:#?}");
    let error = request.error.as_deref().unwrap_or_default();
    assert!(
        error.contains(because),
        "error {error:?}, expected {because:?}"
    );
}

#[tokio::test]
async fn signed_deliveries_verify_and_forgeries_and_stale_ones_do_not() {
    let receiver = WebhookReceiver::spawn();
    let key = secret(1);
    receiver.set_secrets(&[&key]).await;
    let body = r#"{"type":"order.paid","data":{"order_id":"o-1"}}"#;
    let t = now();

    assert_eq!(
        deliver(&receiver, "msg_ok", t, &sign(&key, "msg_ok", t, body), body).await,
        204
    );
    let forged = sign(&secret(2), "msg_forged", t, body);
    assert_eq!(
        deliver(&receiver, "msg_forged", t, &forged, body).await,
        204
    );
    let tampered_signature = sign(&key, "msg_tampered", t, body);
    let tampered_body = body.replace("o-1", "o-2");
    deliver(
        &receiver,
        "msg_tampered",
        t,
        &tampered_signature,
        &tampered_body,
    )
    .await;
    let stale = t - 600;
    deliver(
        &receiver,
        "msg_stale",
        stale,
        &sign(&key, "msg_stale", stale, body),
        body,
    )
    .await;

    let requests = receiver.wait_for(4, Duration::from_secs(5)).await;
    let ok = &requests[0];
    assert!(ok.verified, "a correctly signed delivery: {ok:#?}");
    assert_eq!(ok.secret_index, Some(0));
    assert_eq!(ok.error, None);
    assert_eq!(ok.path, "/hooks/orders");
    assert_eq!(ok.id.as_deref(), Some("msg_ok"));
    assert_eq!(ok.timestamp, Some(t.to_string()));
    assert_eq!(ok.signature, Some(sign(&key, "msg_ok", t, body)));
    assert_eq!(ok.body["data"]["order_id"], "o-1");
    assert_eq!(ok.status, 204);

    assert_refused(&requests[1], "No matching signature found");
    assert_refused(&requests[2], "No matching signature found");
    assert_refused(&requests[3], "Message timestamp too old");
    assert_eq!(requests.len(), 4);
}

#[tokio::test]
async fn during_a_rotation_either_secret_verifies_and_the_receiver_says_which() {
    let receiver = WebhookReceiver::spawn();
    let (old, new) = (secret(3), secret(4));
    let body = r#"{"type":"order.shipped"}"#;
    let t = now();
    receiver.set_secrets(&[&old]).await;
    deliver(&receiver, "msg_1", t, &sign(&new, "msg_1", t, body), body).await;
    receiver.set_secrets(&[&old, &new]).await;
    deliver(&receiver, "msg_2", t, &sign(&new, "msg_2", t, body), body).await;
    deliver(&receiver, "msg_3", t, &sign(&old, "msg_3", t, body), body).await;

    let requests = receiver.wait_for(3, Duration::from_secs(5)).await;
    assert_refused(&requests[0], "No matching signature found");
    assert!(requests[1].verified, "{:#?}", requests[1]);
    assert_eq!(requests[1].secret_index, Some(1));
    assert!(requests[2].verified, "{:#?}", requests[2]);
    assert_eq!(requests[2].secret_index, Some(0));
}

#[tokio::test]
async fn behave_answers_exactly_the_next_deliveries_as_told() {
    let receiver = WebhookReceiver::spawn();
    let key = secret(5);
    receiver.set_secrets(&[&key]).await;
    let body = "{}";
    let t = now();
    let send = |id: &'static str| {
        let signature = sign(&key, id, t, body);
        let receiver = &receiver;
        async move { deliver(receiver, id, t, &signature, body).await }
    };

    receiver.behave(500, Duration::ZERO, Some(1)).await;
    assert_eq!(send("msg_1").await, 500);
    assert_eq!(send("msg_2").await, 204, "only the next one fails");

    receiver
        .behave(503, Duration::from_millis(300), Some(2))
        .await;
    let started = std::time::Instant::now();
    assert_eq!(send("msg_3").await, 503);
    assert!(started.elapsed() >= Duration::from_millis(300), "delayed");
    assert_eq!(send("msg_4").await, 503);
    assert_eq!(send("msg_5").await, 204);

    receiver.behave(410, Duration::ZERO, None).await;
    for id in ["msg_6", "msg_7", "msg_8"] {
        assert_eq!(send(id).await, 410, "every delivery while times is None");
    }

    let statuses: Vec<u16> = receiver.requests().await.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 204, 503, 503, 204, 410, 410, 410]);
    assert!(receiver.requests().await.iter().all(|r| r.verified));

    receiver.reset().await;
    assert!(receiver.requests().await.is_empty());
    assert_eq!(
        send("msg_9").await,
        204,
        "reset restores the default answer"
    );
    assert!(receiver.wait_for(1, Duration::from_secs(5)).await[0].verified);
}
