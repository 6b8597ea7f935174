//! The authorization matrix: every operation of the OpenAPI document, called as anonymous,
//! customer A, customer B and an admin, gets the status its access rule promises (401 without
//! a token, 403 for customers on admin routes, 404 for someone else's resources, 2xx when
//! allowed). An operation without a rule here fails the test.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use toko_testkit::{address, Call, TestApp, TestUser};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone.
    Public,
    /// Any signed-in user, on their own data (`/me`, `/cart`, checkout, their order list).
    Signed,
    /// Any signed-in user who confirms their password: the matrix sends a wrong one, so the
    /// step (deleting the account) is reached and refused as 422 (account_data.rs shows it
    /// succeeding).
    Confirmed,
    /// Customer A's order or cart item: others get 404, never the data.
    Owned,
    /// Staff whose role holds the named permission; other staff and customers get 403.
    Staff(&'static str),
    /// Midtrans: no token, the notification's signature is the credential.
    Signature,
}

const RULES: &[(&str, Access)] = &[
    ("register_user", Access::Public),
    ("login_user", Access::Public),
    ("refresh_token", Access::Public),
    ("logout_user", Access::Public),
    ("request_password_reset", Access::Public),
    ("confirm_password_reset", Access::Public),
    ("verify_email", Access::Public),
    ("get_email_verification", Access::Signed),
    ("resend_email_verification", Access::Signed),
    ("get_me", Access::Signed),
    ("update_me", Access::Signed),
    ("change_password", Access::Signed),
    ("export_my_data", Access::Signed),
    ("delete_my_account", Access::Confirmed),
    ("list_addresses", Access::Signed),
    ("create_address", Access::Signed),
    ("get_address", Access::Owned),
    ("replace_address", Access::Owned),
    ("delete_address", Access::Owned),
    ("list_categories", Access::Public),
    ("get_category", Access::Public),
    ("list_products", Access::Public),
    ("get_product", Access::Public),
    ("search_products", Access::Public),
    ("create_guest_cart", Access::Public),
    ("get_cart", Access::Signed),
    ("clear_cart", Access::Signed),
    ("add_cart_item", Access::Signed),
    ("update_cart_item", Access::Owned),
    ("delete_cart_item", Access::Owned),
    ("apply_cart_promotion_code", Access::Signed),
    ("remove_cart_promotion_code", Access::Signed),
    ("list_shipping_methods", Access::Public),
    ("create_checkout", Access::Signed),
    ("list_orders", Access::Signed),
    ("get_order", Access::Owned),
    ("cancel_order", Access::Owned),
    ("get_order_payment", Access::Owned),
    ("create_order_payment", Access::Owned),
    ("receive_midtrans_notification", Access::Signature),
    ("list_users", Access::Staff("customers.read")),
    ("disable_user", Access::Staff("customers.write")),
    ("enable_user", Access::Staff("customers.write")),
    ("create_category", Access::Staff("catalog.write")),
    ("update_category", Access::Staff("catalog.write")),
    ("delete_category", Access::Staff("catalog.write")),
    ("create_product", Access::Staff("catalog.write")),
    ("list_admin_products", Access::Staff("catalog.read")),
    ("get_admin_product", Access::Staff("catalog.read")),
    ("update_product", Access::Staff("catalog.write")),
    ("delete_product", Access::Staff("catalog.write")),
    ("create_variant", Access::Staff("catalog.write")),
    ("update_variant", Access::Staff("catalog.write")),
    ("delete_variant", Access::Staff("catalog.write")),
    ("create_inventory_adjustment", Access::Staff("stock.write")),
    ("list_inventory_movements", Access::Staff("catalog.read")),
    ("list_admin_orders", Access::Staff("orders.read")),
    ("get_admin_order", Access::Staff("orders.read")),
    ("create_order_transition", Access::Staff("orders.write")),
    ("create_order_refund", Access::Staff("refunds")),
    ("cancel_order_payment", Access::Staff("orders.write")),
    ("create_order_manual_refund", Access::Staff("refunds")),
    ("list_payment_exceptions", Access::Staff("orders.read")),
    ("resolve_payment_exception", Access::Staff("orders.write")),
    ("create_webhook_endpoint", Access::Staff("settings")),
    ("list_webhook_endpoints", Access::Staff("settings")),
    ("list_webhook_event_types", Access::Staff("settings")),
    ("get_webhook_endpoint", Access::Staff("settings")),
    ("update_webhook_endpoint", Access::Staff("settings")),
    ("delete_webhook_endpoint", Access::Staff("settings")),
    ("rotate_webhook_secret", Access::Staff("settings")),
    ("send_webhook_test", Access::Staff("settings")),
    ("redeliver_webhook_range", Access::Staff("settings")),
    ("list_webhook_deliveries", Access::Staff("settings")),
    ("get_webhook_delivery", Access::Staff("settings")),
    ("redeliver_webhook_delivery", Access::Staff("settings")),
    ("create_promotion", Access::Staff("promotions")),
    ("list_promotions", Access::Staff("promotions")),
    ("get_promotion", Access::Staff("promotions")),
    ("update_promotion", Access::Staff("promotions")),
    ("delete_promotion", Access::Staff("promotions")),
    ("get_promotion_usage", Access::Staff("promotions")),
    ("create_return", Access::Owned),
    ("list_returns", Access::Signed),
    ("get_return", Access::Owned),
    ("list_admin_returns", Access::Staff("orders.read")),
    ("get_admin_return", Access::Staff("orders.read")),
    ("approve_return", Access::Staff("orders.write")),
    ("reject_return", Access::Staff("orders.write")),
    ("receive_return", Access::Staff("orders.write")),
    ("refund_return", Access::Staff("refunds")),
    ("list_tax_classes", Access::Staff("settings")),
    ("create_tax_class", Access::Staff("settings")),
    ("update_tax_class", Access::Staff("settings")),
    ("delete_tax_class", Access::Staff("settings")),
    ("get_product_tax_class", Access::Staff("catalog.read")),
    ("set_product_tax_class", Access::Staff("catalog.write")),
    ("list_shipping_zones", Access::Staff("settings")),
    ("create_shipping_zone", Access::Staff("settings")),
    ("get_shipping_zone", Access::Staff("settings")),
    ("replace_shipping_zone", Access::Staff("settings")),
    ("delete_shipping_zone", Access::Staff("settings")),
    ("quote_cart_shipping", Access::Signed),
    ("create_shipment", Access::Staff("orders.write")),
    ("list_shipments", Access::Staff("orders.read")),
    ("mark_shipment_delivered", Access::Staff("orders.write")),
    ("cancel_order_units", Access::Staff("refunds")),
    ("invite_staff", Access::Staff("staff")),
    ("list_staff_invites", Access::Staff("staff")),
    ("revoke_staff_invite", Access::Staff("staff")),
    ("list_audit_log", Access::Staff("audit.read")),
    ("change_user_role", Access::Staff("staff")),
    ("accept_staff_invite", Access::Public),
    // Last: it signs each role's user out everywhere.
    ("end_all_sessions", Access::Signed),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anonymous,
    CustomerA,
    CustomerB,
    Owner,
    Admin,
    CatalogManager,
    OrderManager,
    Support,
}

const ROLES: [Role; 8] = [
    Role::Anonymous,
    Role::CustomerA,
    Role::CustomerB,
    Role::Owner,
    Role::Admin,
    Role::CatalogManager,
    Role::OrderManager,
    Role::Support,
];

const STAFF: [(Role, &str); 5] = [
    (Role::Owner, "owner"),
    (Role::Admin, "admin"),
    (Role::CatalogManager, "catalog_manager"),
    (Role::OrderManager, "order_manager"),
    (Role::Support, "support"),
];

/// Which staff role holds which permission: the table written out here, apart from
/// the code's (`auth::roles`), so that a wrong grant there fails this test.
fn holds(role: Role, permission: &str) -> bool {
    match role {
        Role::Owner => true,
        Role::Admin => permission != "staff",
        Role::CatalogManager => {
            ["catalog.read", "catalog.write", "stock.write"].contains(&permission)
        }
        Role::OrderManager => [
            "catalog.read",
            "orders.read",
            "orders.write",
            "refunds",
            "customers.read",
        ]
        .contains(&permission),
        Role::Support => ["orders.read", "customers.read"].contains(&permission),
        Role::Anonymous | Role::CustomerA | Role::CustomerB => false,
    }
}

/// `None` means "allowed": any 2xx.
fn expected(access: Access, role: Role) -> Option<u16> {
    match (access, role) {
        (Access::Public, _) => None,
        // A forged signature is refused whoever sends it.
        (Access::Signature, _) => Some(401),
        (_, Role::Anonymous) => Some(401),
        (Access::Signed, _) => None,
        (Access::Confirmed, _) => Some(422),
        (Access::Owned, Role::CustomerA) => None,
        (Access::Owned, _) => Some(404),
        (Access::Staff(permission), role) if holds(role, permission) => None,
        (Access::Staff(_), _) => Some(403),
    }
}

struct World {
    app: TestApp,
    a: TestUser,
    b: TestUser,
    admin: TestUser,
    /// One account per staff role (the admin above is the fixtures' author).
    staff: Vec<(Role, TestUser)>,
    category: String,
    variant: String,
}

impl World {
    fn user(&self, role: Role) -> Option<&TestUser> {
        match role {
            Role::Anonymous => None,
            Role::CustomerA => Some(&self.a),
            Role::CustomerB => Some(&self.b),
            staff => self
                .staff
                .iter()
                .find(|(role, _)| *role == staff)
                .map(|(_, user)| user),
        }
    }

    fn admin_post(&self, path: &str, body: Value) -> Call {
        self.app.by(&self.admin).post(path, &body)
    }

    /// A fresh saved address of customer A (alone in the book, which holds at most 20).
    async fn address_of_a(&self) -> String {
        sqlx::query("delete from addresses where user_id = $1")
            .bind(uuid::Uuid::parse_str(&self.a.id).unwrap())
            .execute(&self.app.db)
            .await
            .unwrap();
        let body: Value = self
            .app
            .by(&self.a)
            .post("/api/v1/me/addresses", &json!({"address": address()}))
            .await
            .json()
            .await
            .unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    /// A fresh pending order of customer A.
    async fn order_of_a(&self) -> String {
        self.order_of_a_with(1).await
    }

    async fn order_of_a_with(&self, units: i64) -> String {
        self.app.add_to_cart(&self.a, &self.variant, units).await;
        let body: Value = self
            .app
            .checkout(&self.a, &uuid::Uuid::new_v4().to_string())
            .await
            .json()
            .await
            .unwrap();
        body["order"]["id"].as_str().unwrap().to_owned()
    }

    async fn number_of(&self, order_id: &str) -> String {
        sqlx::query_scalar("select order_number from orders where order_id = $1")
            .bind(uuid::Uuid::parse_str(order_id).unwrap())
            .fetch_one(&self.app.db)
            .await
            .unwrap()
    }

    /// A fresh paid order of customer A.
    async fn paid_order_of_a(&self) -> String {
        self.paid_order_of_a_with(1).await
    }

    async fn paid_order_of_a_with(&self, units: i64) -> String {
        let id = self.order_of_a_with(units).await;
        let number = self.number_of(&id).await;
        self.app.pay(&id, &number, Some("gopay")).await;
        id
    }

    /// The token of the registration link of a fresh customer.
    async fn verification_token(&self) -> String {
        let user = self.app.register_customer().await;
        let id: uuid::Uuid = sqlx::query_scalar(
            "select verification_id from email_verifications where user_id = $1",
        )
        .bind(uuid::Uuid::parse_str(&user.id).unwrap())
        .fetch_one(&self.app.db)
        .await
        .unwrap();
        let key =
            toko::config::Secret::new(toko_testkit::default_settings("")["JWT_SECRET"].clone());
        toko::auth::verification::verification_token(&key, id)
    }

    /// The token of a reset link of a fresh customer.
    /// The token of a fresh staff invite (derived as the notifier derives it).
    async fn invite_token(&self) -> String {
        let invite = self.invite().await;
        let key =
            toko::config::Secret::new(toko_testkit::default_settings("")["JWT_SECRET"].clone());
        toko::auth::staff::invite_token(&key, invite["id"].as_str().unwrap().parse().unwrap())
    }

    /// A fresh staff invite, sent by the owner.
    async fn invite(&self) -> Value {
        let email = format!("invitee-{}@example.com", uuid::Uuid::new_v4().simple());
        let resp = self
            .app
            .with_token(&self.owner().access_token)
            .post(
                "/api/v1/admin/staff-invites",
                &json!({"email": email, "name": "New Hire", "role": "support"}),
            )
            .await;
        assert_eq!(resp.status(), 201);
        resp.json().await.unwrap()
    }

    fn owner(&self) -> &TestUser {
        self.user(Role::Owner).expect("an owner")
    }

    async fn reset_token(&self) -> String {
        let user = self.app.register_customer().await;
        self.app
            .anonymous()
            .post("/api/v1/auth/password-reset", &json!({"email": user.email}))
            .expect(202)
            .await;
        let request: uuid::Uuid =
            sqlx::query_scalar("select request_id from password_resets where user_id = $1")
                .bind(uuid::Uuid::parse_str(&user.id).unwrap())
                .fetch_one(&self.app.db)
                .await
                .unwrap();
        let key =
            toko::config::Secret::new(toko_testkit::default_settings("")["JWT_SECRET"].clone());
        toko::auth::resets::reset_token(&key, request)
    }

    /// A fresh shipping zone (created by the admin); returns its id.
    async fn shipping_zone(&self) -> String {
        let created: Value = self
            .admin_post("/api/v1/admin/shipping-zones", shipping_zone())
            .await
            .json()
            .await
            .unwrap();
        created["id"].as_str().unwrap().to_owned()
    }

    /// A fresh tax class (created by the admin); returns its code.
    async fn tax_class(&self) -> String {
        let code = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        self.admin_post(
            "/api/v1/admin/tax-classes",
            json!({"code": code, "name": "Matrix", "rate_bp": 500}),
        )
        .expect(201)
        .await;
        code
    }

    /// A fresh delivered order of customer A; returns (order id, its line id).
    async fn delivered_order_of_a(&self) -> (String, String) {
        let id = self.paid_order_of_a().await;
        for (to, tracking) in [
            ("processing", None),
            ("shipped", Some("JNE-1")),
            ("delivered", None),
        ] {
            let resp = self
                .admin_post(
                    &format!("/api/v1/admin/orders/{id}/transitions"),
                    json!({"to": to, "tracking_number": tracking}),
                )
                .await;
            assert_eq!(resp.status(), 200, "{to}");
        }
        let line: uuid::Uuid =
            sqlx::query_scalar("select order_line_id from order_lines where order_id = $1")
                .bind(uuid::Uuid::parse_str(&id).unwrap())
                .fetch_one(&self.app.db)
                .await
                .unwrap();
        (id, line.to_string())
    }

    /// A fresh shipment of a paid order of customer A: (order id, shipment id).
    async fn shipment_of_a(&self) -> (String, String) {
        let id = self.paid_order_of_a().await;
        let created: Value = self
            .admin_post(
                &format!("/api/v1/admin/orders/{id}/shipments"),
                json!({"tracking_number": "JNE-M"}),
            )
            .await
            .json()
            .await
            .unwrap();
        (id, created["shipment"]["id"].as_str().unwrap().to_owned())
    }

    /// A fresh return of customer A, moved on by the admin through `steps` (`approve`, `receive`).
    async fn return_of_a(&self, steps: &[&str]) -> String {
        let (order, line) = self.delivered_order_of_a().await;
        let created: Value = self
            .app
            .by(&self.a)
            .post(
                &format!("/api/v1/orders/{order}/returns"),
                &json!({"lines": [{"line_id": line, "quantity": 1, "reason": "damaged"}]}),
            )
            .await
            .json()
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        for step in steps {
            let body = match *step {
                "receive" => json!({"lines": [{"line_id": line, "disposition": "restock"}]}),
                _ => json!({}),
            };
            let resp = self
                .admin_post(&format!("/api/v1/admin/returns/{id}/{step}"), body)
                .await;
            assert_eq!(resp.status(), 200, "{step}");
        }
        id
    }

    /// An open payment exception: customer A's order paid, then reversed by the bank.
    async fn exception_of_a(&self) -> String {
        let id = self.paid_order_of_a().await;
        let number = self.number_of(&id).await;
        self.app.sim_action(&number, "deny", json!({})).await;
        self.app
            .wait_for_order_status(&id, "payment_reversed")
            .await;
        let exception: uuid::Uuid =
            sqlx::query_scalar("select exception_id from payment_exceptions where order_id = $1")
                .bind(uuid::Uuid::parse_str(&id).unwrap())
                .fetch_one(&self.app.db)
                .await
                .unwrap();
        exception.to_string()
    }

    /// A fresh webhook endpoint (registered by the admin).
    async fn webhook_endpoint(&self) -> String {
        let created: Value = self
            .admin_post(
                "/api/v1/admin/webhooks",
                json!({"url": "https://hooks.example.com/matrix"}),
            )
            .await
            .json()
            .await
            .unwrap();
        created["endpoint"]["id"].as_str().unwrap().to_owned()
    }

    /// A test delivery queued to a fresh endpoint.
    async fn webhook_delivery(&self) -> String {
        let endpoint = self.webhook_endpoint().await;
        let queued: Value = self
            .admin_post(
                &format!("/api/v1/admin/webhooks/{endpoint}/test"),
                json!({}),
            )
            .await
            .json()
            .await
            .unwrap();
        queued["id"].as_str().unwrap().to_owned()
    }

    /// A fresh promotion code (created by the admin); returns (id, code).
    async fn promotion(&self) -> (String, String) {
        let code = format!("M{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let created: Value = self
            .admin_post(
                "/api/v1/admin/promotions",
                json!({"name": "Matrix", "code": code, "effect": "order_fixed", "amount": 1}),
            )
            .await
            .json()
            .await
            .unwrap();
        (created["id"].as_str().unwrap().to_owned(), code)
    }

    /// A code on `role`'s cart (nothing for anonymous callers).
    async fn code_on_cart_of(&self, role: Role) -> String {
        let (_, code) = self.promotion().await;
        if let Some(user) = self.user(role) {
            self.app
                .by(user)
                .post("/api/v1/cart/promotions", &json!({"code": code}))
                .expect(200)
                .await;
        }
        code
    }

    async fn cart_item_of_a(&self) -> String {
        let cart = self.app.add_to_cart(&self.a, &self.variant, 1).await;
        cart["items"][0]["id"].as_str().unwrap().to_owned()
    }

    async fn product(&self) -> Value {
        let sku = format!("AZ-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]).to_uppercase();
        self.app
            .create_simple_product(
                &self.admin,
                &self.category,
                &format!("Matrix {sku}"),
                &sku,
                1_000,
                50,
            )
            .await
    }

    async fn session(&self) -> String {
        self.app
            .login(&self.a.email, &self.a.password)
            .await
            .refresh_token
    }

    /// The request for `operation` as `role`, with whatever fresh fixtures it needs.
    async fn request(&self, operation: &str, role: Role) -> reqwest::RequestBuilder {
        let app = &self.app;
        let c = &app.client;
        let url = |path: &str| app.url(path);
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let request = match operation {
            "register_user" => app.post("/api/v1/auth/register", &json!({"email": format!("m{unique}@example.com"), "password": "correct horse battery", "name": "M"})),
            "login_user" => app.post("/api/v1/auth/login", &json!({"email": self.a.email, "password": self.a.password})),
            "refresh_token" => app.post("/api/v1/auth/refresh", &json!({"refresh_token": self.session().await})),
            "logout_user" => app.post("/api/v1/auth/logout", &json!({"refresh_token": self.session().await})),
            "request_password_reset" => app.post("/api/v1/auth/password-reset", &json!({"email": self.a.email})),
            "confirm_password_reset" => app.post("/api/v1/auth/password-reset/confirm",
                &json!({"token": self.reset_token().await, "new_password": "a matrix passphrase 77"})),
            "verify_email" => app.post("/api/v1/auth/verify-email", &json!({"token": self.verification_token().await})),
            "get_email_verification" => c.get(url("/api/v1/me/email-verification")),
            "resend_email_verification" => c.post(url("/api/v1/me/email-verification")).json(&json!({})),
            "get_me" => c.get(url("/api/v1/me")),
            "update_me" => c.patch(url("/api/v1/me")).json(&json!({"name": "Renamed"})),
            "change_password" => {
                let user = self.user(role).unwrap_or(&self.a);
                c.post(url("/api/v1/me/password")).json(&json!({"current_password": user.password, "new_password": user.password}))
            }
            "end_all_sessions" => c.delete(url("/api/v1/me/sessions")),
            "export_my_data" => c.get(url("/api/v1/me/export")),
            "delete_my_account" => c.post(url("/api/v1/me/deletion")).json(&json!({"current_password": "a wrong password here"})),
            "list_addresses" => c.get(url("/api/v1/me/addresses")),
            "create_address" => c.post(url("/api/v1/me/addresses")).json(&json!({"address": address()})),
            "get_address" => c.get(url(&format!("/api/v1/me/addresses/{}", self.address_of_a().await))),
            "replace_address" => c.put(url(&format!("/api/v1/me/addresses/{}", self.address_of_a().await))).json(&json!({"label": "Moved", "address": address()})),
            "delete_address" => c.delete(url(&format!("/api/v1/me/addresses/{}", self.address_of_a().await))),
            "list_categories" => c.get(url("/api/v1/categories")),
            "get_category" => c.get(url(&format!("/api/v1/categories/{}", self.category))),
            "list_products" => c.get(url("/api/v1/products")),
            "get_product" => c.get(url(&format!("/api/v1/products/{}", self.product().await["id"].as_str().unwrap()))),
            "search_products" => c.get(url("/api/v1/search?q=matrix")),
            "create_guest_cart" => c.post(url("/api/v1/carts")),
            "get_cart" => c.get(url("/api/v1/cart")),
            "clear_cart" => c.delete(url("/api/v1/cart")),
            "add_cart_item" => c.post(url("/api/v1/cart/items")).json(&json!({"variant_id": self.variant, "quantity": 1})),
            "update_cart_item" => c.patch(url(&format!("/api/v1/cart/items/{}", self.cart_item_of_a().await))).json(&json!({"quantity": 2})),
            "delete_cart_item" => c.delete(url(&format!("/api/v1/cart/items/{}", self.cart_item_of_a().await))),
            "list_shipping_methods" => c.get(url("/api/v1/shipping-methods")),
            "apply_cart_promotion_code" => c.post(url("/api/v1/cart/promotions")).json(&json!({"code": self.promotion().await.1})),
            "remove_cart_promotion_code" => c.delete(url(&format!("/api/v1/cart/promotions/{}", self.code_on_cart_of(role).await))),
            "create_checkout" => {
                if let Some(user) = self.user(role) {
                    app.add_to_cart(user, &self.variant, 1).await;
                }
                c.post(url("/api/v1/checkout"))
                    .header("idempotency-key", unique)
                    .json(&json!({"shipping_address": address(), "shipping_method": "standard"}))
            }
            "list_orders" => c.get(url("/api/v1/orders")),
            "get_order" => c.get(url(&format!("/api/v1/orders/{}", self.order_of_a().await))),
            "cancel_order" => c.post(url(&format!("/api/v1/orders/{}/cancel", self.order_of_a().await))),
            "get_order_payment" => c.get(url(&format!("/api/v1/orders/{}/payment", self.order_of_a().await))),
            "create_order_payment" => c.post(url(&format!("/api/v1/orders/{}/payment", self.order_of_a().await))),
            "receive_midtrans_notification" => c.post(url("/api/v1/payments/midtrans/notification")).json(&json!({
                "order_id": "X", "status_code": "200", "gross_amount": "1.00", "signature_key": "forged", "transaction_status": "settlement"
            })),
            "list_users" => c.get(url("/api/v1/admin/users")),
            "list_staff_invites" => c.get(url("/api/v1/admin/staff-invites")),
            "revoke_staff_invite" => c.delete(url(&format!("/api/v1/admin/staff-invites/{}", self.invite().await["id"].as_str().unwrap()))),
            "list_audit_log" => c.get(url("/api/v1/admin/audit-log")),
            "invite_staff" => c.post(url("/api/v1/admin/staff-invites"))
                .json(&json!({"email": format!("hire-{unique}@example.com"), "name": "Hire", "role": "catalog_manager"})),
            "change_user_role" => c.put(url(&format!("/api/v1/admin/users/{}/role", app.register_staff("support").await.id)))
                .json(&json!({"role": "order_manager"})),
            "accept_staff_invite" => app.post("/api/v1/auth/accept-invite",
                &json!({"token": self.invite_token().await, "new_password": "a staff passphrase 42"})),
            "disable_user" => c.post(url(&format!("/api/v1/admin/users/{}/disable", app.register_customer().await.id))),
            "enable_user" => c.post(url(&format!("/api/v1/admin/users/{}/enable", app.register_customer().await.id))),
            "create_category" => c.post(url("/api/v1/admin/categories")).json(&json!({"name": format!("Cat {unique}")})),
            "update_category" => c.patch(url(&format!("/api/v1/admin/categories/{}", self.category))).json(&json!({"description": "x"})),
            "delete_category" => {
                let fresh: Value = self
                    .admin_post(
                        "/api/v1/admin/categories",
                        json!({"name": format!("Del {unique}")}),
                    )
                    .await
                    .json()
                    .await
                    .unwrap();
                c.delete(url(&format!("/api/v1/admin/categories/{}", fresh["id"].as_str().unwrap())))
            }
            "create_product" => c.post(url("/api/v1/admin/products")).json(&json!({
                "name": format!("New {unique}"), "category_id": self.category,
                "variants": [{"sku": format!("NEW-{unique}"), "price": 100, "stock_on_hand": 1}]
            })),
            "list_admin_products" => c.get(url("/api/v1/admin/products")),
            "get_admin_product" => c.get(url(&format!("/api/v1/admin/products/{}", self.product().await["id"].as_str().unwrap()))),
            "update_product" => c.patch(url(&format!("/api/v1/admin/products/{}", self.product().await["id"].as_str().unwrap()))).json(&json!({"description": "d"})),
            "delete_product" => c.delete(url(&format!("/api/v1/admin/products/{}", self.product().await["id"].as_str().unwrap()))),
            "create_variant" => {
                let product = two_variant_product(self).await.1;
                c.post(url(&format!("/api/v1/admin/products/{product}/variants")))
                    .json(&json!({"sku": format!("V-{unique}"), "price": 5, "stock_on_hand": 0, "options": {"size": "L"}}))
            }
            "update_variant" => c.patch(url(&format!("/api/v1/admin/variants/{}", self.product().await["variants"][0]["id"].as_str().unwrap()))).json(&json!({"price": 7})),
            "delete_variant" => c.delete(url(&format!("/api/v1/admin/variants/{}", two_variant_product(self).await.0))),
            "create_inventory_adjustment" => c.post(url("/api/v1/admin/inventory/adjustments"))
                .json(&json!({"sku": self.product().await["variants"][0]["sku"], "delta": 1, "reason": "count"})),
            "list_inventory_movements" => c.get(url(&format!("/api/v1/admin/inventory/{}/movements", self.product().await["variants"][0]["sku"].as_str().unwrap()))),
            "list_admin_orders" => c.get(url("/api/v1/admin/orders")),
            "get_admin_order" => c.get(url(&format!("/api/v1/admin/orders/{}", self.order_of_a().await))),
            "create_order_transition" => c.post(url(&format!("/api/v1/admin/orders/{}/transitions", self.order_of_a().await))).json(&json!({"to": "paid"})),
            "create_order_refund" => c.post(url(&format!("/api/v1/admin/orders/{}/refund", self.paid_order_of_a().await))).json(&json!({"amount": 100, "reason": "goodwill"})),
            "cancel_order_payment" => c.post(url(&format!("/api/v1/admin/orders/{}/cancel-payment", self.order_of_a().await))),
            "create_order_manual_refund" => c.post(url(&format!("/api/v1/admin/orders/{}/manual-refunds", self.paid_order_of_a().await)))
                .json(&json!({"amount": 100, "method": "bank_transfer", "reference": "TRF-1", "note": "goodwill"})),
            "create_return" => {
                let (order, line) = self.delivered_order_of_a().await;
                c.post(url(&format!("/api/v1/orders/{order}/returns")))
                    .json(&json!({"lines": [{"line_id": line, "quantity": 1, "reason": "wrong_item"}], "note": "too small"}))
            }
            "list_returns" => c.get(url("/api/v1/returns")),
            "get_return" => c.get(url(&format!("/api/v1/returns/{}", self.return_of_a(&[]).await))),
            "list_admin_returns" => c.get(url("/api/v1/admin/returns?status=requested")),
            "get_admin_return" => c.get(url(&format!("/api/v1/admin/returns/{}", self.return_of_a(&[]).await))),
            "approve_return" => c.post(url(&format!("/api/v1/admin/returns/{}/approve", self.return_of_a(&[]).await))).json(&json!({"note": "send it"})),
            "reject_return" => c.post(url(&format!("/api/v1/admin/returns/{}/reject", self.return_of_a(&[]).await))).json(&json!({"reason": "worn"})),
            "receive_return" => {
                let id = self.return_of_a(&["approve"]).await;
                let returned: Value = self.app
                    .by(&self.admin)
                    .get(&format!("/api/v1/admin/returns/{id}"))
                    .expect(200)
                    .await;
                c.post(url(&format!("/api/v1/admin/returns/{id}/receive")))
                    .json(&json!({"lines": [{"line_id": returned["lines"][0]["line_id"], "disposition": "write_off"}]}))
            }
            "refund_return" => c.post(url(&format!("/api/v1/admin/returns/{}/refund", self.return_of_a(&["approve", "receive"]).await))).json(&json!({})),
            "list_tax_classes" => c.get(url("/api/v1/admin/tax-classes")),
            "create_tax_class" => c.post(url("/api/v1/admin/tax-classes"))
                .json(&json!({"code": format!("c{}", &unique[..12]), "name": "Matrix", "rate_bp": 500})),
            "update_tax_class" => c.patch(url(&format!("/api/v1/admin/tax-classes/{}", self.tax_class().await))).json(&json!({"rate_bp": 600})),
            "delete_tax_class" => c.delete(url(&format!("/api/v1/admin/tax-classes/{}", self.tax_class().await))),
            "get_product_tax_class" => c.get(url(&format!("/api/v1/admin/products/{}/tax-class", self.product().await["id"].as_str().unwrap()))),
            "set_product_tax_class" => c.put(url(&format!("/api/v1/admin/products/{}/tax-class", self.product().await["id"].as_str().unwrap())))
                .json(&json!({"tax_class": "exempt"})),
            "list_shipping_zones" => c.get(url("/api/v1/admin/shipping-zones")),
            "create_shipping_zone" => c.post(url("/api/v1/admin/shipping-zones")).json(&shipping_zone()),
            "get_shipping_zone" => c.get(url(&format!("/api/v1/admin/shipping-zones/{}", self.shipping_zone().await))),
            "replace_shipping_zone" => c.put(url(&format!("/api/v1/admin/shipping-zones/{}", self.shipping_zone().await))).json(&shipping_zone()),
            "delete_shipping_zone" => c.delete(url(&format!("/api/v1/admin/shipping-zones/{}", self.shipping_zone().await))),
            "quote_cart_shipping" => c.get(url("/api/v1/cart/shipping-options?country_code=ID&postal_code=10110")),
            "create_shipment" => c.post(url(&format!("/api/v1/admin/orders/{}/shipments", self.paid_order_of_a().await))).json(&json!({"tracking_number": "JNE-M"})),
            "list_shipments" => c.get(url(&format!("/api/v1/admin/orders/{}/shipments", self.order_of_a().await))),
            "mark_shipment_delivered" => {
                let (order, shipment) = self.shipment_of_a().await;
                c.post(url(&format!("/api/v1/admin/orders/{order}/shipments/{shipment}/delivered")))
            }
            "cancel_order_units" => {
                let order = self.paid_order_of_a_with(2).await;
                let line: uuid::Uuid =
                    sqlx::query_scalar("select order_line_id from order_lines where order_id = $1")
                        .bind(uuid::Uuid::parse_str(&order).unwrap())
                        .fetch_one(&self.app.db)
                        .await
                        .unwrap();
                c.post(url(&format!("/api/v1/admin/orders/{order}/cancel-units")))
                    .json(&json!({"lines": [{"line_id": line, "quantity": 1}], "reason": "out of stock"}))
            }
            "list_payment_exceptions" => c.get(url("/api/v1/admin/payment-exceptions")),
            "resolve_payment_exception" => c.post(url(&format!("/api/v1/admin/payment-exceptions/{}/resolve", self.exception_of_a().await)))
                .json(&json!({"resolution": "the bank confirmed the reversal"})),
            "create_webhook_endpoint" => c.post(url("/api/v1/admin/webhooks")).json(&json!({"url": "https://hooks.example.com/toko"})),
            "list_webhook_endpoints" => c.get(url("/api/v1/admin/webhooks")),
            "list_webhook_event_types" => c.get(url("/api/v1/admin/webhooks/event-types")),
            "get_webhook_endpoint" => c.get(url(&format!("/api/v1/admin/webhooks/{}", self.webhook_endpoint().await))),
            "update_webhook_endpoint" => c.patch(url(&format!("/api/v1/admin/webhooks/{}", self.webhook_endpoint().await))).json(&json!({"description": "ERP"})),
            "delete_webhook_endpoint" => c.delete(url(&format!("/api/v1/admin/webhooks/{}", self.webhook_endpoint().await))),
            "rotate_webhook_secret" => c.post(url(&format!("/api/v1/admin/webhooks/{}/rotate-secret", self.webhook_endpoint().await))).json(&json!({})),
            "send_webhook_test" => c.post(url(&format!("/api/v1/admin/webhooks/{}/test", self.webhook_endpoint().await))),
            "redeliver_webhook_range" => c.post(url(&format!("/api/v1/admin/webhooks/{}/redeliver", self.webhook_endpoint().await)))
                .json(&json!({"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"})),
            "list_webhook_deliveries" => c.get(url(&format!("/api/v1/admin/webhooks/{}/deliveries", self.webhook_endpoint().await))),
            "get_webhook_delivery" => c.get(url(&format!("/api/v1/admin/webhook-deliveries/{}", self.webhook_delivery().await))),
            "redeliver_webhook_delivery" => c.post(url(&format!("/api/v1/admin/webhook-deliveries/{}/redeliver", self.webhook_delivery().await))),
            "create_promotion" => c.post(url("/api/v1/admin/promotions"))
                .json(&json!({"name": "Ten off", "code": format!("T{}", &unique[..12]), "effect": "order_percent", "percent": 10})),
            "list_promotions" => c.get(url("/api/v1/admin/promotions")),
            "get_promotion" => c.get(url(&format!("/api/v1/admin/promotions/{}", self.promotion().await.0))),
            "update_promotion" => c.patch(url(&format!("/api/v1/admin/promotions/{}", self.promotion().await.0))).json(&json!({"enabled": false})),
            "delete_promotion" => c.delete(url(&format!("/api/v1/admin/promotions/{}", self.promotion().await.0))),
            "get_promotion_usage" => c.get(url(&format!("/api/v1/admin/promotions/{}/usage", self.promotion().await.0))),
            other => panic!("no request for {other}: add one"),
        };
        match self.user(role) {
            Some(user) => request.bearer_auth(&user.access_token),
            None => request,
        }
    }
}

/// A product with options and two variants (so one may be deleted or another added):
/// (first variant id, product id).
/// A zone for all of Indonesia at the flat fees: once a zone exists only zones ship, and the
/// matrix's checkouts (to an Indonesian address) must still go through.
fn shipping_zone() -> Value {
    json!({
        "name": "Matrix",
        "countries": ["ID"],
        "rates": [{"method": "standard", "fee": 15000}, {"method": "express", "fee": 35000}]
    })
}

async fn two_variant_product(w: &World) -> (String, String) {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let product = w.app.create_product(&w.admin, &json!({
        "name": format!("Two {unique}"), "category_id": w.category, "status": "active", "options": ["size"],
        "variants": [
            {"sku": format!("TWO-S-{unique}"), "price": 1, "stock_on_hand": 1, "options": {"size": "S"}},
            {"sku": format!("TWO-M-{unique}"), "price": 1, "stock_on_hand": 1, "options": {"size": "M"}}
        ]
    })).await;
    (
        product["variants"][0]["id"].as_str().unwrap().to_owned(),
        product["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn every_operation_enforces_its_access_rule_for_every_role() {
    let app = TestApp::builder().with_midtrans().spawn().await;
    let admin = app.register_admin().await;
    let a = app.register_customer().await;
    let b = app.register_customer().await;
    let category = app.create_category_id(&admin, "Matrix", None).await;
    let variant = app
        .create_simple_variant(
            &admin,
            &category,
            "Matrix Base",
            "MATRIX-BASE",
            1_000,
            1_000,
        )
        .await;
    let mut staff = Vec::new();
    for (role, name) in STAFF {
        staff.push((role, app.register_staff(name).await));
    }
    let world = World {
        app,
        a,
        b,
        admin,
        staff,
        category,
        variant,
    };

    let spec: Value = serde_json::from_str(&toko::http::spec_json()).unwrap();
    let mut in_spec = BTreeSet::new();
    let mut writes = BTreeSet::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap().to_owned();
            if method != "get" {
                writes.insert(id.clone());
            }
            in_spec.insert(id);
        }
    }
    let ruled: BTreeSet<String> = RULES.iter().map(|(id, _)| id.to_string()).collect();
    let missing: Vec<_> = in_spec.difference(&ruled).collect();
    assert!(
        missing.is_empty(),
        "operations without an access rule: {missing:?}"
    );
    let stale: Vec<_> = ruled.difference(&in_spec).collect();
    assert!(
        stale.is_empty(),
        "rules for operations that no longer exist: {stale:?}"
    );

    let mut failures = Vec::new();
    let mut staff_changes = BTreeSet::new();
    for (operation, access) in RULES {
        for role in ROLES {
            let request = world.request(operation, role).await;
            let status = request.send().await.unwrap().status().as_u16();
            let ok = match expected(*access, role) {
                None => (200..300).contains(&status),
                Some(code) => status == code,
            };
            if ok
                && (200..300).contains(&status)
                && matches!(access, Access::Staff(_))
                && writes.contains(*operation)
            {
                staff_changes.insert(operation.to_string());
            }
            if !ok {
                failures.push(format!(
                    "{operation} as {role:?}: got {status}, expected {:?}",
                    expected(*access, role).map_or("2xx".into(), |c| c.to_string())
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorization matrix failures:\n{}",
        failures.join("\n")
    );

    // Every change staff made above is in the audit log, under its operation.
    let logged: BTreeSet<String> = sqlx::query_scalar("select distinct action from audit_log")
        .fetch_all(&world.app.db)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let unlogged: Vec<_> = staff_changes.difference(&logged).collect();
    assert!(
        unlogged.is_empty(),
        "staff changes missing from the audit log: {unlogged:?}"
    );
    assert!(staff_changes.len() > 40, "{staff_changes:?}");
}
