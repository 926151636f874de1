"""The card worker: one thread owns the reader, hands inputs to the loop, serves CardOps."""

from __future__ import annotations

import queue

from kiosk.display.cards import CardWorker, reason_code
from kiosk.nfc.emulator import EmulatorReader, VirtualCard
from kiosk.nfc.reader import CardError
from kiosk.roles.base import CardOp, CardRead, CardResult


def start(identify, run_op=None):
    reader, inbox = EmulatorReader(), queue.Queue()
    worker = CardWorker(reader, identify, inbox.put, run_op)
    worker.start()
    return reader, inbox, worker


def test_cards_worker_posts_card_read_with_timing():
    reader, inbox, worker = start(lambda session: CardRead("key-1"))
    try:
        reader.insert(VirtualCard())
        arrival = inbox.get(timeout=5)
        assert arrival.input == CardRead("key-1")
        assert 0 < arrival.handed_over <= arrival.identified
    finally:
        worker.stop()


def test_cards_worker_turns_card_error_into_code():
    def refuse(session):
        raise CardError("not_my_number", "no JPKI AP")

    reader, inbox, worker = start(refuse)
    try:
        reader.insert(VirtualCard())
        assert inbox.get(timeout=5).input == CardRead(None, "not_my_number")
    finally:
        worker.stop()


def test_cards_worker_serves_ops_until_release_then_reads_next_card():
    reader, inbox, worker = start(lambda session: CardRead("key"), run_op=lambda session, op: op.args["n"] * 2)
    try:
        reader.insert(VirtualCard())
        inbox.get(timeout=5)
        worker.ops.put(CardOp("double", {"n": 21}))
        assert inbox.get(timeout=5).input == CardResult("double", value=42)
        worker.ops.put(CardOp("release"))
        reader.remove()
        reader.insert(VirtualCard())
        assert inbox.get(timeout=5).input == CardRead("key")
    finally:
        worker.stop()


def test_cards_worker_answers_stale_op_as_removed():
    reader, inbox, worker = start(lambda session: CardRead("key"), run_op=lambda session, op: "ran")
    try:
        worker.ops.put(CardOp("tries_left"))  # asked before any card is on the reader
        reader.insert(VirtualCard())
        first, second = inbox.get(timeout=5).input, inbox.get(timeout=5).input
        # dropped before the card is announced, so an op sent in answer to it is never dropped
        assert first == CardResult("tries_left", error="removed") and second == CardRead("key")
    finally:
        worker.stop()


def test_cards_reason_code_from_chain_reason():
    assert reason_code("jpki: not_my_number: JPKI AP not found") == "not_my_number"
    assert reason_code("no method configured") == "unreadable"
    assert reason_code(None) == "unreadable"
