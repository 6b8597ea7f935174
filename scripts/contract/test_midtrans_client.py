"""The official Midtrans Python client (`midtransclient` from PyPI, written by Midtrans, not us)
against midtrans-sim: Snap create, status, cancel, expire, refund, approve/deny, the Snap session
cancel and the documented error cases. If the simulator drifts from the real API in a way the
official client notices, this fails.

    TOKO_SIM_URL=http://127.0.0.1:3900 MIDTRANS_SERVER_KEY=SB-Mid-server-... pytest scripts/contract/test_midtrans_client.py

(`scripts/contract-tests.sh` runs it against the simulator it starts.)
"""

import os
import uuid

import midtransclient
import pytest
import requests
from midtransclient.error_midtrans import MidtransAPIError

SIM = os.environ["TOKO_SIM_URL"].rstrip("/")
KEY = os.environ["MIDTRANS_SERVER_KEY"]


def snap_client(key=KEY):
    snap = midtransclient.Snap(is_production=False, server_key=key)
    # The client hard-codes Midtrans' hosts; point this instance at the simulator.
    snap.api_config.SNAP_SANDBOX_BASE_URL = SIM + "/snap/v1"
    snap.api_config.CORE_SANDBOX_BASE_URL = SIM
    return snap


def order_id(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def snap_body(oid, amount=10_000, **extra):
    body = {
        "transaction_details": {"order_id": oid, "gross_amount": amount},
        "item_details": [{"id": "SKU-1", "price": amount, "quantity": 1, "name": "Thing"}],
        "customer_details": {"first_name": "Budi", "email": "budi@example.com"},
    }
    body.update(extra)
    return body


def create(snap, prefix, amount=10_000):
    oid = order_id(prefix)
    created = snap.create_transaction(snap_body(oid, amount))
    return oid, created


def pay(oid, payment_type, outcome):
    """The customer picks a method on the Snap page (the simulator's control API)."""
    resp = requests.post(
        f"{SIM}/_sim/transactions/{oid}/pay",
        json={"payment_type": payment_type, "outcome": outcome},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def control(oid, action):
    resp = requests.post(f"{SIM}/_sim/transactions/{oid}/{action}", json={}, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def api_error(call):
    with pytest.raises(MidtransAPIError) as raised:
        call()
    return raised.value


@pytest.fixture
def snap():
    return snap_client()


def test_snap_create_answers_a_token_and_redirect_url(snap):
    oid, created = create(snap, "PY-SNAP")
    assert set(created) == {"token", "redirect_url"}
    assert created["token"] in created["redirect_url"]
    assert snap.create_transaction_token(snap_body(order_id("PY-TOKEN")))


def test_snap_errors_are_http_statuses_with_error_messages(snap):
    oid, _ = create(snap, "PY-DUP")
    error = api_error(lambda: snap.create_transaction(snap_body(oid)))
    assert error.http_status_code == 400
    assert error.api_response_dict["error_messages"]

    mismatch = snap_body(order_id("PY-SUM"))
    mismatch["transaction_details"]["gross_amount"] = 9_999
    error = api_error(lambda: snap.create_transaction(mismatch))
    assert error.http_status_code == 400
    assert any("gross_amount" in m for m in error.api_response_dict["error_messages"])

    too_short = snap_body(order_id("PY-EXP"), expiry={"unit": "minute", "duration": 4})
    error = api_error(lambda: snap.create_transaction(too_short))
    assert error.http_status_code == 400

    error = api_error(lambda: snap_client("SB-Mid-server-wrong").create_transaction(snap_body(order_id("PY-401"))))
    assert error.http_status_code == 401


def test_status_is_404_until_a_method_is_chosen_then_follows_the_transaction(snap):
    oid, _ = create(snap, "PY-STATUS")
    error = api_error(lambda: snap.transactions.status(oid))
    assert error.api_response_dict["status_code"] == "404"

    pay(oid, "bank_transfer", "pending")
    status = snap.transactions.status(oid)
    assert (status["status_code"], status["transaction_status"]) == ("201", "pending")
    assert status["gross_amount"] == "10000.00"
    # By transaction_id too, and as the b2b listing.
    assert snap.transactions.status(status["transaction_id"])["order_id"] == oid
    b2b = snap.transactions.statusb2b(oid)
    assert [t["transaction_status"] for t in b2b["transactions"]] == ["pending"]


def test_expire_answers_407_which_the_client_accepts(snap):
    oid, _ = create(snap, "PY-EXPIRE")
    pay(oid, "bank_transfer", "pending")
    expired = snap.transactions.expire(oid)
    assert (expired["status_code"], expired["transaction_status"]) == ("407", "expire")
    error = api_error(lambda: snap.transactions.expire(oid))
    assert error.api_response_dict["status_code"] == "412"


def test_cancel_voids_before_settlement_only(snap):
    oid, _ = create(snap, "PY-CANCEL")
    pay(oid, "bank_transfer", "pending")
    cancelled = snap.transactions.cancel(oid)
    assert (cancelled["status_code"], cancelled["transaction_status"]) == ("200", "cancel")

    # A captured card payment (not settled yet) is voided.
    oid, _ = create(snap, "PY-VOID")
    pay(oid, "credit_card", "capture_accept")
    assert snap.transactions.cancel(oid)["transaction_status"] == "cancel"

    oid, _ = create(snap, "PY-SETTLED")
    pay(oid, "bank_transfer", "settlement")
    error = api_error(lambda: snap.transactions.cancel(oid))
    assert error.api_response_dict["status_code"] == "412"


def test_approve_and_deny_resolve_a_challenge_only(snap):
    oid, _ = create(snap, "PY-APPROVE")
    pay(oid, "credit_card", "capture_challenge")
    approved = snap.transactions.approve(oid)
    assert (approved["transaction_status"], approved["fraud_status"]) == ("capture", "accept")
    assert api_error(lambda: snap.transactions.approve(oid)).api_response_dict["status_code"] == "412"

    oid, _ = create(snap, "PY-DENY")
    pay(oid, "credit_card", "capture_challenge")
    denied = snap.transactions.deny(oid)
    assert (denied["transaction_status"], denied["fraud_status"]) == ("deny", "deny")


def test_refunds_follow_the_documented_rules(snap):
    oid, _ = create(snap, "PY-REFUND", 150_000)
    pay(oid, "gopay", "pending")
    # Not settled: Midtrans says use Cancel instead.
    error = api_error(lambda: snap.transactions.refund(oid, {"refund_key": "k0", "amount": 1_000}))
    assert error.api_response_dict["status_code"] == "412"
    control(oid, "settle")

    first = snap.transactions.refund(oid, {"refund_key": f"{oid}-r1", "amount": 5_000, "reason": "late"})
    assert (first["status_code"], first["transaction_status"]) == ("200", "partial_refund")
    assert first["refund_key"] == f"{oid}-r1"
    # The same key again within 7 days is a retry of the same refund.
    again = snap.transactions.refund(oid, {"refund_key": f"{oid}-r1", "amount": 5_000, "reason": "late"})
    assert again["refund_chargeback_id"] == first["refund_chargeback_id"]
    # The same key for another amount is a duplicate.
    error = api_error(lambda: snap.transactions.refund(oid, {"refund_key": f"{oid}-r1", "amount": 7_000}))
    assert error.api_response_dict["status_code"] == "406"
    # More than is left: 414.
    error = api_error(lambda: snap.transactions.refund(oid, {"refund_key": f"{oid}-r2", "amount": 150_000}))
    assert error.api_response_dict["status_code"] == "414"
    status = snap.transactions.status(oid)
    assert status["refund_amount"] == "5000.00"
    assert len(status["refunds"]) == 1


def test_refunds_exist_only_for_the_documented_methods(snap):
    oid, _ = create(snap, "PY-VA")
    pay(oid, "bank_transfer", "settlement")
    error = api_error(lambda: snap.transactions.refund(oid, {"refund_key": f"{oid}-r", "amount": 10_000}))
    assert error.api_response_dict["status_code"] == "412"

    oid, _ = create(snap, "PY-SPAY")
    pay(oid, "shopeepay", "settlement")
    error = api_error(lambda: snap.transactions.refund(oid, {"refund_key": f"{oid}-p", "amount": 1_000}))
    assert error.api_response_dict["status_code"] == "414"
    full = snap.transactions.refund(oid, {"refund_key": f"{oid}-f", "amount": 10_000})
    assert full["transaction_status"] == "refund"


def test_the_notification_helper_reads_the_simulators_notifications(snap):
    oid, _ = create(snap, "PY-NOTIFY")
    view = pay(oid, "bank_transfer", "settlement")
    notification = view["notifications"][-1]
    # The helper re-checks with GET status by transaction_id, as Midtrans recommends.
    checked = snap.transactions.notification(notification)
    assert (checked["order_id"], checked["transaction_status"]) == (oid, "settlement")


def test_a_snap_session_can_be_cancelled_before_a_method_is_chosen(snap):
    # midtransclient 1.4.2 has no method for this endpoint: use its HTTP layer.
    def cancel_session(token):
        return snap.http_client.request(
            "post", KEY, f"{SIM}/snap/v1/transactions/{token}/cancel", {}
        )[0]

    oid, created = create(snap, "PY-SESSION")
    answer = cancel_session(created["token"])
    assert answer["canceled_at"].endswith("Z")
    resp = requests.post(f"{SIM}/_sim/transactions/{oid}/pay", json={}, timeout=10)
    assert resp.status_code == 409, "a closed session cannot be paid"
    error = api_error(lambda: cancel_session(created["token"]))
    assert error.api_response_dict["error_messages"] == ["token already canceled"]

    oid, created = create(snap, "PY-SESSION-BUSY")
    pay(oid, "bank_transfer", "pending")
    error = api_error(lambda: cancel_session(created["token"]))
    assert error.api_response_dict["error_messages"] == ["Transaction is on progress"]
