// The shopper and staff flows, driven through the TypeScript client generated from
// openapi.json (openapi-typescript types + openapi-fetch). Run by scripts/contract-tests.sh
// against a live toko-api and midtrans-sim: TOKO_API_URL, TOKO_SIM_URL, TOKO_ADMIN_EMAIL and
// TOKO_ADMIN_PASSWORD come from it. Every toko call goes through the typed client; only the
// simulator's control API, which is not toko, is called with plain fetch to play the customer
// paying at Midtrans. The file is type-checked with `tsc --noEmit` first, so a spec change
// that breaks typed clients fails the run before anything is sent.
//
// The tests run in file order and share state: the admin seeds the catalog, the shopper buys,
// the admin ships and refunds.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { guestCartClient, type Schemas, tokoClient, type TokoClient } from "./client.js";

const API = required("TOKO_API_URL");
const SIM = required("TOKO_SIM_URL");
const RUN = randomUUID().slice(0, 8);
const anonymous = tokoClient(API);

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (scripts/contract-tests.sh sets it)`);
  return value;
}

/** The response has `status` and a body: the typed `data` of an openapi-fetch result. */
function ok<T>(result: { data?: T; error?: unknown; response: Response }, status: number): T {
  assert.equal(result.response.status, status, JSON.stringify(result.error ?? result.data));
  assert.ok(result.data !== undefined, "a body");
  return result.data;
}

/** The response is the documented `status` with an application/problem+json body. */
function problem(
  result: { error?: Schemas["Problem"]; response: Response },
  status: number,
): Schemas["Problem"] {
  assert.equal(result.response.status, status);
  assert.match(result.response.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.ok(result.error, "a problem body");
  return result.error;
}

const address: Schemas["AddressDto"] = {
  recipient_name: "Sari Shopper",
  phone: "+6281234567890",
  line1: "Jl. Merdeka 1",
  city: "Bandung",
  postal_code: "40111",
  country_code: "ID",
};

const state: {
  admin?: TokoClient;
  shopper?: TokoClient;
  shopperToken?: string;
  email?: string;
  apparel?: Schemas["CategoryOut"];
  tees?: Schemas["CategoryOut"];
  product?: Schemas["ProductOut"];
  variantM?: Schemas["VariantOut"];
  variantL?: Schemas["VariantOut"];
  order?: Schemas["OrderOut"];
} = {};

function get<K extends keyof typeof state>(key: K): NonNullable<(typeof state)[K]> {
  const value = state[key];
  assert.ok(value !== undefined, `${key} is set by an earlier test`);
  return value as NonNullable<(typeof state)[K]>;
}

test("staff: the admin creates categories, a product with variants and stock", async () => {
  const session = ok(
    await anonymous.POST("/api/v1/auth/login", {
      body: { email: required("TOKO_ADMIN_EMAIL"), password: required("TOKO_ADMIN_PASSWORD") },
    }),
    200,
  );
  const admin = tokoClient(API, session.tokens.access_token);
  state.admin = admin;

  const apparel = ok(await admin.POST("/api/v1/admin/categories", { body: { name: `Apparel ${RUN}` } }), 201);
  const tees = ok(
    await admin.POST("/api/v1/admin/categories", { body: { name: `Kaos ${RUN}`, parent_id: apparel.id } }),
    201,
  );
  state.apparel = apparel;
  state.tees = tees;

  const product = ok(
    await admin.POST("/api/v1/admin/products", {
      body: {
        name: `Kaos Batik ${RUN}`,
        // A category is named by its slug (or id), as a front-end knows it.
        category: tees.slug,
        brand: "Nusantara",
        description: "Cotton tee with a batik print",
        status: "active",
        options: ["size"],
        variants: [{ sku: `BATIK-${RUN}-M`, price: 89000, stock_on_hand: 10, options: { size: "M" } }],
      },
    }),
    201,
  );
  assert.equal(product.status, "active");
  const variantL = ok(
    await admin.POST("/api/v1/admin/products/{product_id}/variants", {
      params: { path: { product_id: product.id } },
      body: { sku: `BATIK-${RUN}-L`, price: 95000, stock_on_hand: 0, options: { size: "L" } },
    }),
    201,
  );
  state.product = product;
  state.variantM = product.variants[0];
  state.variantL = variantL;

  // Stock for the new size with an Idempotency-Key: a retry replays instead of adding twice.
  const adjust = {
    params: { header: { "Idempotency-Key": `restock-${RUN}` } },
    body: { sku: variantL.sku, delta: 5, reason: "first delivery" },
  };
  const first = ok(await admin.POST("/api/v1/admin/inventory/adjustments", adjust), 201);
  const again = ok(await admin.POST("/api/v1/admin/inventory/adjustments", adjust), 201);
  assert.equal(again.movement.id, first.movement.id);
  assert.equal(again.variant.available, 5);
  const movements = ok(
    await admin.GET("/api/v1/admin/inventory/{sku}/movements", { params: { path: { sku: variantL.sku } } }),
    200,
  );
  assert.equal(movements.items.filter((m) => m.on_hand_delta === 5).length, 1);
});

test("shopper: registers, browses the category tree, lists and searches products", async () => {
  const email = `shopper-${RUN}@contract.test`;
  const session = ok(
    await anonymous.POST("/api/v1/auth/register", {
      body: { email, password: "shopper password 123", name: "Sari Shopper" },
    }),
    201,
  );
  assert.equal(session.user.email, email);
  state.email = email;
  const [apparel, tees, product] = [get("apparel"), get("tees"), get("product")];

  const tree = ok(await anonymous.GET("/api/v1/categories"), 200);
  const node = tree.items.find((c) => c.id === apparel.id);
  assert.deepEqual(node?.children.map((c) => c.id), [tees.id]);
  ok(await anonymous.GET("/api/v1/categories/{id_or_slug}", { params: { path: { id_or_slug: tees.slug } } }), 200);

  // Listing by the parent category includes its descendants.
  const page = ok(
    await anonymous.GET("/api/v1/products", { params: { query: { category: apparel.slug, sort: "price_asc" } } }),
    200,
  );
  assert.deepEqual(
    page.items.map((p) => p.id),
    [product.id],
  );
  const detail = ok(
    await anonymous.GET("/api/v1/products/{id_or_slug}", { params: { path: { id_or_slug: product.slug } } }),
    200,
  );
  assert.deepEqual(Object.fromEntries(detail.variants.map((v) => [v.sku, v.available])), {
    [get("variantM").sku]: 10,
    [get("variantL").sku]: 5,
  });
  problem(
    await anonymous.GET("/api/v1/products/{id_or_slug}", { params: { path: { id_or_slug: `no-such-${RUN}` } } }),
    404,
  );

  const found = ok(await anonymous.GET("/api/v1/search", { params: { query: { q: `batik ${RUN}` } } }), 200);
  assert.deepEqual(
    found.hits.map((h) => h.product.id),
    [product.id],
  );
  const typo = ok(
    await anonymous.GET("/api/v1/search", { params: { query: { q: "kaos btaik", brand: "Nusantara" } } }),
    200,
  );
  assert.ok(typo.hits.some((h) => h.product.id === product.id));
});

test("shopper: a guest cart merges into the customer's cart at login", async () => {
  const guest = ok(await anonymous.POST("/api/v1/carts"), 201);
  const guestClient = guestCartClient(API, guest.cart_token);
  const cart = ok(
    await guestClient.POST("/api/v1/cart/items", { body: { variant_id: get("variantM").id, quantity: 2 } }),
    200,
  );
  assert.equal(cart.item_count, 2);

  const session = ok(
    await anonymous.POST("/api/v1/auth/login", {
      params: { header: { "X-Cart-Token": guest.cart_token } },
      body: { email: get("email"), password: "shopper password 123" },
    }),
    200,
  );
  const shopper = tokoClient(API, session.tokens.access_token);
  state.shopper = shopper;
  state.shopperToken = session.tokens.access_token;
  const me = ok(await shopper.GET("/api/v1/me"), 200);
  assert.equal(me.email, get("email"));

  const merged = ok(await shopper.GET("/api/v1/cart"), 200);
  assert.deepEqual(
    merged.items.map((i) => [i.sku, i.quantity]),
    [[get("variantM").sku, 2]],
  );
  const more = ok(await shopper.POST("/api/v1/cart/items", { body: { variant_id: get("variantM").id, quantity: 1 } }), 200);
  assert.equal(more.subtotal, 3 * 89000);
});

test("shopper: checkout needs an Idempotency-Key, and a retry with one places one order", async () => {
  const shopper = get("shopper");
  const body: Schemas["CheckoutIn"] = { shipping_method: "standard", shipping_address: address };

  // The client's types require the header; a raw call without it gets a problem saying so.
  const missing = await fetch(`${API}/api/v1/checkout`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${get("shopperToken")}` },
    body: JSON.stringify(body),
  });
  assert.equal(missing.status, 400);
  const missingProblem = (await missing.json()) as Schemas["Problem"];
  assert.match(JSON.stringify(missingProblem), /Idempotency-Key/);

  const methods = ok(await anonymous.GET("/api/v1/shipping-methods"), 200);
  const standard = methods.items.find((m) => m.code === "standard");
  assert.ok(standard);
  const params = { header: { "Idempotency-Key": `checkout-${RUN}` } };
  const first = ok(await shopper.POST("/api/v1/checkout", { params, body }), 201);
  const retry = ok(await shopper.POST("/api/v1/checkout", { params, body }), 201);
  const order = first.order;
  assert.equal(retry.order.id, order.id);
  assert.equal(order.status, "pending_payment");
  assert.equal(order.subtotal, 3 * 89000);
  assert.equal(order.grand_total, order.subtotal + standard.fee);
  assert.equal(first.payment?.status, "pending");
  assert.ok(first.payment?.redirect_url);
  state.order = order;

  const cart = ok(await shopper.GET("/api/v1/cart"), 200);
  assert.deepEqual(cart.items, []);
});

test("shopper: pays at the simulator and sees the order paid in the order list", async () => {
  const [shopper, order] = [get("shopper"), get("order")];
  // The customer pays at Midtrans (the simulator's control API plays that part); Midtrans
  // then notifies toko's webhook, which confirms with the status API and marks the order paid.
  // GoPay, because the staff flow refunds through Midtrans, which virtual accounts do not allow.
  const paid = await fetch(`${SIM}/_sim/transactions/${order.number}/pay`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ outcome: "settlement", payment_type: "gopay" }),
  });
  assert.equal(paid.status, 200, await paid.text());
  const deadline = Date.now() + 20_000;
  let current = ok(await shopper.GET("/api/v1/orders/{order_id}", { params: { path: { order_id: order.id } } }), 200);
  while (current.status !== "paid" && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    current = ok(await shopper.GET("/api/v1/orders/{order_id}", { params: { path: { order_id: order.id } } }), 200);
  }
  assert.equal(current.status, "paid");
  assert.ok(current.paid_at);
  const payment = ok(
    await shopper.GET("/api/v1/orders/{order_id}/payment", { params: { path: { order_id: order.id } } }),
    200,
  );
  assert.equal(payment.status, "paid");
  const orders = ok(await shopper.GET("/api/v1/orders"), 200);
  assert.deepEqual(
    orders.items.map((o) => [o.id, o.status]),
    [[order.id, "paid"]],
  );
});

test("staff: the admin ships the paid order and refunds part of it", async () => {
  const [admin, order] = [get("admin"), get("order")];
  const listed = ok(
    await admin.GET("/api/v1/admin/orders", { params: { query: { status: "paid", customer_email: get("email") } } }),
    200,
  );
  assert.deepEqual(
    listed.items.map((o) => o.id),
    [order.id],
  );
  const path = { order_id: order.id };
  ok(
    await admin.POST("/api/v1/admin/orders/{order_id}/transitions", {
      params: { path },
      body: { to: "processing", reason: "packing" },
    }),
    200,
  );
  const shipped = ok(
    await admin.POST("/api/v1/admin/orders/{order_id}/transitions", {
      params: { path },
      body: { to: "shipped", tracking_number: `JNE${RUN}` },
    }),
    200,
  );
  assert.equal(shipped.status, "shipped");
  assert.equal(shipped.tracking_number, `JNE${RUN}`);
  const detail = ok(await admin.GET("/api/v1/admin/orders/{order_id}", { params: { path } }), 200);
  assert.deepEqual(
    detail.history.map((h) => h.to),
    ["pending_payment", "paid", "processing", "shipped"],
  );
  problem(
    await admin.POST("/api/v1/admin/orders/{order_id}/transitions", {
      params: { path },
      body: { to: "shipped", tracking_number: `JNE${RUN}` },
    }),
    409,
  );

  // A partial refund, retried with the same Idempotency-Key: refunded once.
  const refund = {
    params: { path, header: { "Idempotency-Key": `refund-${RUN}` } },
    body: { reason: "late delivery", amount: 10000 },
  };
  const refunded = ok(await admin.POST("/api/v1/admin/orders/{order_id}/refund", refund), 200);
  const again = ok(await admin.POST("/api/v1/admin/orders/{order_id}/refund", refund), 200);
  assert.equal(refunded.status, "partially_refunded");
  assert.equal(refunded.refunded_amount, 10000);
  assert.equal(again.refunded_amount, 10000);

  const customerView = ok(
    await get("shopper").GET("/api/v1/orders/{order_id}", { params: { path } }),
    200,
  );
  assert.equal(customerView.status, "partially_refunded");
});
