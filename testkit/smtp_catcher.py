"""A real SMTP server for toko's tests (aiosmtpd): stores every message it accepts as an .eml
file in a directory, so tests can count and read what the notifier delivered.

    python smtp_catcher.py PORT DIRECTORY [RCPT_DELAY_MS]

RCPT_DELAY_MS slows each RCPT TO reply, so a test can kill a worker in the middle of
delivering (before the message is complete). Prints "READY" once listening.
"""
import asyncio
import os
import sys
import time
import uuid

from aiosmtpd.controller import Controller


class StoreToDirectory:
    def __init__(self, directory: str, rcpt_delay: float):
        self.directory = directory
        self.rcpt_delay = rcpt_delay

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.time_ns()}-{uuid.uuid4().hex}.eml"
        tmp = os.path.join(self.directory, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.directory, name))
        return "250 Message accepted for delivery"


def main() -> None:
    port = int(sys.argv[1])
    directory = sys.argv[2]
    delay = int(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.0
    os.makedirs(directory, exist_ok=True)
    controller = Controller(StoreToDirectory(directory, delay), hostname="127.0.0.1", port=port)
    controller.start()
    print("READY", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
