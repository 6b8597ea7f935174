"""The shopper and admin flows, driven through the Python client generated from openapi.json.

Run by scripts/contract-tests.sh against a live toko-api and midtrans-sim: TOKO_API_URL,
TOKO_SIM_URL, TOKO_ADMIN_EMAIL and TOKO_ADMIN_PASSWORD come from it, and `toko_client` is the
package openapi-python-client generated. Every toko call goes through the generated client
(no hand-written HTTP to toko); only the simulator's control API, which is not toko, is called
with plain httpx to play the customer paying at Midtrans.

The tests run in file order and share state: the admin seeds the catalog, the shopper buys,
the admin ships.
"""

import os
import time
import uuid

import httpx
import pytest

from toko_client import AuthenticatedClient, Client
from toko_client.api.account import create_address, export_my_data, get_me, list_addresses
from toko_client.api.admin import (
    create_category,
    create_inventory_adjustment,
    create_shipment,
    create_shipping_zone,
    create_order_refund,
    create_order_transition,
    create_product,
    create_variant,
    get_admin_order,
    list_admin_orders,
    list_inventory_movements,
    list_shipments,
    mark_shipment_delivered,
)
from toko_client.api.auth import login_user, register_user
from toko_client.api.cart import (
    add_cart_item,
    create_guest_cart,
    delete_cart_item,
    get_cart,
    quote_cart_shipping,
    update_cart_item,
)
from toko_client.api.catalog import get_category, get_product, list_categories, list_products
from toko_client.api.orders import (
    cancel_order,
    create_checkout,
    get_order,
    get_order_payment,
    list_orders,
    list_shipping_methods,
)
from toko_client.api.search import search_products
from toko_client.models import (
    AddressDto,
    AddressIn,
    AdjustmentIn,
    AdjustmentOut,
    CartItemIn,
    CartItemPatch,
    CartOut,
    CategoryIn,
    CategoryOut,
    CheckoutIn,
    CheckoutOut,
    GuestCartOut,
    LoginIn,
    OrderDetailOut,
    OrderOut,
    OrderPageOut,
    OrderStatusDto,
    ProductIn,
    ProductOut,
    ProductPageOut,
    ProductSortDto,
    ProductStatusDto,
    Problem,
    RefundIn,
    RegisterIn,
    SavedAddressOut,
    SavedAddressesOut,
    SearchResultOut,
    ShipmentIn,
    ShipmentListOut,
    ShipmentWithOrderOut,
    UnitsIn,
    SessionOut,
    ShippingOptionsOut,
    ShippingRateDto,
    ShippingZoneIn,
    ShippingZoneOut,
    TransitionIn,
    VariantIn,
    VariantInOptions,
    VariantOut,
)

API = os.environ["TOKO_API_URL"]
SIM = os.environ["TOKO_SIM_URL"]
RUN = uuid.uuid4().hex[:8]
STATE: dict = {}


def ok(response, status, model):
    """The response has `status` and its body parsed into `model` (the spec's schema)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert isinstance(response.parsed, model), type(response.parsed)
    return response.parsed


def authed(token, **kwargs):
    return AuthenticatedClient(base_url=API, token=token, raise_on_unexpected_status=True, **kwargs)


anonymous = Client(base_url=API, raise_on_unexpected_status=True)


def test_admin_seeds_the_catalog():
    session = ok(
        login_user.sync_detailed(
            client=anonymous,
            body=LoginIn(email=os.environ["TOKO_ADMIN_EMAIL"], password=os.environ["TOKO_ADMIN_PASSWORD"]),
        ),
        200,
        SessionOut,
    )
    admin = authed(session.tokens.access_token)
    STATE["admin"] = admin

    apparel = ok(create_category.sync_detailed(client=admin, body=CategoryIn(name=f"Apparel {RUN}")), 201, CategoryOut)
    tees = ok(
        create_category.sync_detailed(client=admin, body=CategoryIn(name=f"Kaos {RUN}", parent_id=apparel.id)),
        201,
        CategoryOut,
    )
    STATE["apparel"], STATE["tees"] = apparel, tees

    product = ok(
        create_product.sync_detailed(
            client=admin,
            body=ProductIn(
                name=f"Kaos Batik {RUN}",
                category_id=tees.id,
                brand="Nusantara",
                description="Cotton tee with a batik print",
                status=ProductStatusDto.ACTIVE,
                options=["size"],
                variants=[
                    VariantIn(sku=f"BATIK-{RUN}-M", price=89000, stock_on_hand=10, options=VariantInOptions.from_dict({"size": "M"})),
                ],
            ),
        ),
        201,
        ProductOut,
    )
    assert product.status == ProductStatusDto.ACTIVE
    variant_l = ok(
        create_variant.sync_detailed(
            product.id,
            client=admin,
            body=VariantIn(sku=f"BATIK-{RUN}-L", price=95000, stock_on_hand=0, options=VariantInOptions.from_dict({"size": "L"})),
        ),
        201,
        VariantOut,
    )
    STATE["product"] = product
    STATE["variant_m"] = product.variants[0]
    STATE["variant_l"] = variant_l

    # Stock for the new size, with an Idempotency-Key: a retry replays instead of adding twice.
    key = f"restock-{RUN}"
    body = AdjustmentIn(sku=variant_l.sku, delta=5, reason="first delivery")
    first = ok(create_inventory_adjustment.sync_detailed(client=admin, body=body, idempotency_key=key), 201, AdjustmentOut)
    again = ok(create_inventory_adjustment.sync_detailed(client=admin, body=body, idempotency_key=key), 201, AdjustmentOut)
    assert first.movement.id == again.movement.id
    assert again.variant.available == 5
    movements = list_inventory_movements.sync_detailed(variant_l.sku, client=admin)
    assert movements.status_code == 200
    assert [m.on_hand_delta for m in movements.parsed.items].count(5) == 1


def test_shopper_registers_and_browses():
    email = f"shopper-{RUN}@contract.test"
    session = ok(
        register_user.sync_detailed(
            client=anonymous, body=RegisterIn(email=email, password="shopper password 123", name="Sari Shopper")
        ),
        201,
        SessionOut,
    )
    assert session.user.email == email
    STATE["email"] = email

    tree = list_categories.sync_detailed(client=anonymous)
    assert tree.status_code == 200
    apparel = next(c for c in tree.parsed.items if c.id == STATE["apparel"].id)
    assert [c.id for c in apparel.children] == [STATE["tees"].id]
    detail = get_category.sync_detailed(STATE["tees"].slug, client=anonymous)
    assert detail.status_code == 200

    # Listing by the parent category includes its descendants.
    page = ok(
        list_products.sync_detailed(client=anonymous, category=STATE["apparel"].slug, sort=ProductSortDto.PRICE_ASC),
        200,
        ProductPageOut,
    )
    assert [p.id for p in page.items] == [STATE["product"].id]
    product = ok(get_product.sync_detailed(STATE["product"].slug, client=anonymous), 200, ProductOut)
    assert {v.sku: v.available for v in product.variants} == {STATE["variant_m"].sku: 10, STATE["variant_l"].sku: 5}

    missing = get_product.sync_detailed(f"no-such-product-{RUN}", client=anonymous)
    assert missing.status_code == 404 and isinstance(missing.parsed, Problem)

    found = ok(search_products.sync_detailed(client=anonymous, q=f"batik {RUN}"), 200, SearchResultOut)
    assert [h.product.id for h in found.hits] == [STATE["product"].id]
    typo = ok(search_products.sync_detailed(client=anonymous, q="kaos btaik", brand="Nusantara"), 200, SearchResultOut)
    assert STATE["product"].id in [h.product.id for h in typo.hits]


def test_guest_cart_merges_into_the_customer_cart_on_login():
    guest = ok(create_guest_cart.sync_detailed(client=anonymous), 201, GuestCartOut)
    # The guest cart is authorised by its token in X-Cart-Token (the spec's `cartToken` scheme).
    guest_client = authed(guest.cart_token, prefix="", auth_header_name="X-Cart-Token")
    cart = ok(
        add_cart_item.sync_detailed(client=guest_client, body=CartItemIn(variant_id=STATE["variant_m"].id, quantity=2)),
        200,
        CartOut,
    )
    assert cart.item_count == 2

    session = ok(
        login_user.sync_detailed(
            client=anonymous,
            body=LoginIn(email=STATE["email"], password="shopper password 123"),
            x_cart_token=guest.cart_token,
        ),
        200,
        SessionOut,
    )
    shopper = authed(session.tokens.access_token)
    STATE["shopper"] = shopper
    me = get_me.sync_detailed(client=shopper)
    assert me.status_code == 200 and me.parsed.email == STATE["email"]

    cart = ok(get_cart.sync_detailed(client=shopper), 200, CartOut)
    assert [(i.sku, i.quantity) for i in cart.items] == [(STATE["variant_m"].sku, 2)]

    # Edit: another size, more of the first, then drop the second.
    cart = ok(
        add_cart_item.sync_detailed(client=shopper, body=CartItemIn(variant_id=STATE["variant_l"].id, quantity=1)),
        200,
        CartOut,
    )
    line_m = next(i for i in cart.items if i.variant_id == STATE["variant_m"].id)
    line_l = next(i for i in cart.items if i.variant_id == STATE["variant_l"].id)
    cart = ok(update_cart_item.sync_detailed(line_m.id, client=shopper, body=CartItemPatch(quantity=3)), 200, CartOut)
    cart = ok(delete_cart_item.sync_detailed(line_l.id, client=shopper), 200, CartOut)
    assert [(i.sku, i.quantity) for i in cart.items] == [(STATE["variant_m"].sku, 3)]
    assert cart.subtotal == 3 * 89000

    too_many = update_cart_item.sync_detailed(line_m.id, client=shopper, body=CartItemPatch(quantity=11))
    assert too_many.status_code == 409 and isinstance(too_many.parsed, Problem)


def test_checkout_is_idempotent_and_payment_marks_the_order_paid():
    shopper = STATE["shopper"]
    methods = list_shipping_methods.sync_detailed(client=anonymous)
    assert methods.status_code == 200
    standard = next(m for m in methods.parsed.items if m.code == "standard")

    # Staff price shipping by zone: all of Indonesia at the flat fees, West Java by weight
    # with free express from 200,000. The most specific zone (the province) prices the cart.
    admin = STATE["admin"]
    for zone in (
        ShippingZoneIn(name="Indonesia", countries=["ID"], rates=[
            ShippingRateDto(method="standard", fee=standard.fee),
            ShippingRateDto(method="express", fee=35000),
        ]),
        ShippingZoneIn(name="West Java", countries=["ID"], provinces=["Jawa Barat"], rates=[
            ShippingRateDto(method="standard", max_weight_grams=1000, fee=11000, min_days=1, max_days=2),
            ShippingRateDto(method="standard", min_weight_grams=1001, fee=18000),
            ShippingRateDto(method="express", fee=30000, free_from=200000),
        ]),
    ):
        ok(create_shipping_zone.sync_detailed(client=admin, body=zone), 201, ShippingZoneOut)
    # The shopper saves their address once and quotes and checks out by its id.
    home = ok(create_address.sync_detailed(client=shopper, body=AddressIn(
        label="Home",
        address=AddressDto(
            recipient_name="Sari Shopper",
            phone="+6281234567890",
            line1="Jl. Merdeka 1",
            city="Bandung",
            province="Jawa Barat",
            postal_code="40111",
            country_code="ID",
        ),
    )), 201, SavedAddressOut)
    assert home.is_default, "the first saved address is the default"
    book = ok(list_addresses.sync_detailed(client=shopper), 200, SavedAddressesOut)
    assert [a.id for a in book.items] == [home.id]
    quote = ok(quote_cart_shipping.sync_detailed(client=shopper, address_id=home.id), 200, ShippingOptionsOut)
    by_parts = ok(
        quote_cart_shipping.sync_detailed(client=shopper, country_code="ID", province="Jawa Barat", postal_code="40111"),
        200, ShippingOptionsOut,
    )
    assert quote == by_parts
    options = {o.method: o for o in quote.items}
    assert quote.subtotal == 3 * 89000
    assert (options["standard"].fee, options["standard"].min_days) == (11000, 1)
    assert (options["express"].fee, options["express"].free) == (0, True)

    body = CheckoutIn(shipping_method="standard", address_id=home.id)
    key = f"checkout-{RUN}"
    first = ok(create_checkout.sync_detailed(client=shopper, body=body, idempotency_key=key), 201, CheckoutOut)
    retry = ok(create_checkout.sync_detailed(client=shopper, body=body, idempotency_key=key), 201, CheckoutOut)
    order = first.order
    assert retry.order.id == order.id
    assert order.shipping_address == home.address
    assert order.status == OrderStatusDto.PENDING_PAYMENT
    assert order.subtotal == 3 * 89000
    assert order.shipping_fee == options["standard"].fee
    assert order.grand_total == order.subtotal + options["standard"].fee
    assert first.payment.status == "pending" and first.payment.redirect_url
    STATE["order"] = order

    # The shopper's data export holds the order and the saved address, as a download.
    exported = export_my_data.sync_detailed(client=shopper)
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].startswith("attachment; filename=")
    assert order.id in [o.id for o in exported.parsed.orders]
    assert [a.id for a in exported.parsed.addresses] == [home.id]

    cart = ok(get_cart.sync_detailed(client=shopper), 200, CartOut)
    assert cart.items == []
    reserved = ok(get_product.sync_detailed(STATE["product"].slug, client=anonymous), 200, ProductOut)
    assert {v.sku: v.available for v in reserved.variants}[STATE["variant_m"].sku] == 7

    # The customer pays at Midtrans (the simulator's control API plays that part); Midtrans
    # then notifies toko's webhook, which confirms with the status API and marks the order paid.
    # GoPay: the flow refunds through Midtrans later, which virtual accounts do not allow.
    paid = httpx.post(f"{SIM}/_sim/transactions/{order.number}/pay", json={"outcome": "settlement", "payment_type": "gopay"}, timeout=30)
    assert paid.status_code == 200, paid.text
    deadline = time.monotonic() + 20
    while True:
        current = ok(get_order.sync_detailed(order.id, client=shopper), 200, OrderOut)
        if current.status == OrderStatusDto.PAID or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert current.status == OrderStatusDto.PAID
    assert current.paid_at is not None
    payment = get_order_payment.sync_detailed(order.id, client=shopper)
    assert payment.status_code == 200 and payment.parsed.status == "paid"

    orders = ok(list_orders.sync_detailed(client=shopper), 200, OrderPageOut)
    assert [(o.id, o.status) for o in orders.items] == [(order.id, OrderStatusDto.PAID)]


def test_admin_ships_the_paid_order():
    admin, order = STATE["admin"], STATE["order"]
    listed = list_admin_orders.sync_detailed(client=admin, status=OrderStatusDto.PAID, customer_email=STATE["email"])
    assert listed.status_code == 200 and [o.id for o in listed.parsed.items] == [order.id]

    ok(
        create_order_transition.sync_detailed(
            order.id, client=admin, body=TransitionIn(to=OrderStatusDto.PROCESSING, reason="packing")
        ),
        200,
        OrderOut,
    )
    # A split shipment: one unit first, then everything left.
    [line] = order.lines
    first = ok(
        create_shipment.sync_detailed(
            order.id,
            client=admin,
            body=ShipmentIn(lines=[UnitsIn(line_id=line.id, quantity=1)], carrier="jne", tracking_number=f"JNE{RUN}-1"),
        ),
        201,
        ShipmentWithOrderOut,
    )
    assert first.order.status == OrderStatusDto.PARTIALLY_SHIPPED
    assert [(l.line_id, l.quantity) for l in first.shipment.lines] == [(line.id, 1)]
    rest = ok(
        create_shipment.sync_detailed(order.id, client=admin, body=ShipmentIn(tracking_number=f"JNE{RUN}")),
        201,
        ShipmentWithOrderOut,
    )
    shipped = rest.order
    assert shipped.status == OrderStatusDto.SHIPPED and shipped.tracking_number == f"JNE{RUN}"
    assert [l.shipped_quantity for l in shipped.lines] == [3]
    assert rest.shipment.carrier == "standard" and [l.quantity for l in rest.shipment.lines] == [2]
    parcels = ok(list_shipments.sync_detailed(order.id, client=admin), 200, ShipmentListOut)
    assert [p.tracking_number for p in parcels.items] == [f"JNE{RUN}-1", f"JNE{RUN}"]
    delivered = ok(
        mark_shipment_delivered.sync_detailed(order.id, first.shipment.id, client=admin), 200, ShipmentWithOrderOut
    )
    assert delivered.shipment.status == "delivered" and delivered.order.status == OrderStatusDto.SHIPPED
    detail = ok(get_admin_order.sync_detailed(order.id, client=admin), 200, OrderDetailOut)
    assert [h.to for h in detail.history if h.kind == "transition"] == [
        OrderStatusDto.PENDING_PAYMENT,
        OrderStatusDto.PAID,
        OrderStatusDto.PROCESSING,
        OrderStatusDto.PARTIALLY_SHIPPED,
        OrderStatusDto.SHIPPED,
    ]

    # Shipping a shipped order again is a documented 409 problem, not a crash.
    again = create_order_transition.sync_detailed(
        order.id, client=admin, body=TransitionIn(to=OrderStatusDto.SHIPPED, tracking_number=f"JNE{RUN}")
    )
    assert again.status_code == 409 and isinstance(again.parsed, Problem)

    customer_view = ok(get_order.sync_detailed(order.id, client=STATE["shopper"]), 200, OrderOut)
    assert customer_view.status == OrderStatusDto.SHIPPED

    # Payment committed the reservation: 10 on hand - 3 sold, nothing reserved.
    stock = ok(get_product.sync_detailed(STATE["product"].slug, client=anonymous), 200, ProductOut)
    assert {v.sku: v.available for v in stock.variants}[STATE["variant_m"].sku] == 7

    # A partial refund through Midtrans, retried with the same Idempotency-Key: refunded once.
    refund = RefundIn(reason="late delivery", amount=10000)
    key = f"refund-{RUN}"
    refunded = ok(create_order_refund.sync_detailed(order.id, client=admin, body=refund, idempotency_key=key), 200, OrderOut)
    again = ok(create_order_refund.sync_detailed(order.id, client=admin, body=refund, idempotency_key=key), 200, OrderOut)
    assert refunded.status == OrderStatusDto.PARTIALLY_REFUNDED and refunded.refunded_amount == 10000
    assert again.refunded_amount == 10000


def test_unpaid_orders_hold_stock_until_cancelled():
    """Leaves one order waiting for payment and one cancelled, for `tokoctl audit` to check."""
    shopper = STATE["shopper"]
    body = CheckoutIn(
        shipping_method="express",
        shipping_address=AddressDto(
            recipient_name="Sari Shopper", phone="+6281234567890", line1="Jl. Merdeka 1",
            city="Bandung", postal_code="40111", country_code="ID",
        ),
    )
    orders = []
    for n in range(2):
        ok(add_cart_item.sync_detailed(client=shopper, body=CartItemIn(variant_id=STATE["variant_l"].id, quantity=2)), 200, CartOut)
        placed = ok(create_checkout.sync_detailed(client=shopper, body=body, idempotency_key=f"later-{RUN}-{n}"), 201, CheckoutOut)
        orders.append(placed.order)
    stock = ok(get_product.sync_detailed(STATE["product"].slug, client=anonymous), 200, ProductOut)
    assert {v.sku: v.available for v in stock.variants}[STATE["variant_l"].sku] == 1

    cancelled = ok(cancel_order.sync_detailed(orders[1].id, client=shopper), 200, OrderOut)
    assert cancelled.status == OrderStatusDto.CANCELLED
    stock = ok(get_product.sync_detailed(STATE["product"].slug, client=anonymous), 200, ProductOut)
    assert {v.sku: v.available for v in stock.variants}[STATE["variant_l"].sku] == 3
    listed = ok(list_orders.sync_detailed(client=shopper), 200, OrderPageOut)
    assert [o.status for o in listed.items] == [
        OrderStatusDto.CANCELLED,
        OrderStatusDto.PENDING_PAYMENT,
        OrderStatusDto.PARTIALLY_REFUNDED,
    ]


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-q"]))
