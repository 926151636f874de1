"""One MQTT 3.1.1 connection with a persistent session, driven by its owner's main loop.

Both `kiosk sync` and `cityhub serve` use it. Callbacks run inside ``step()``, i.e. in the
caller's thread, so each process keeps all of its state in one thread and pets the watchdog
from the loop that does the work. Reconnects use jittered exponential backoff so that a city's
kiosks do not reconnect in lock-step after a broker restart.
"""

from __future__ import annotations

import logging
import random
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from kiosk.sync import protocol

log = logging.getLogger(__name__)

# Short enough that a frozen broker is noticed within half a minute, long enough for a Pi on a
# congested shelter Wi-Fi.
KEEPALIVE_S = 20
# A TCP connection a stopped broker accepted (kernel backlog) but never answered.
CONNACK_TIMEOUT_S = 10.0
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0


@dataclass(frozen=True)
class BrokerSettings:
    host: str
    port: int
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    username: str = ""
    password_file: str = ""

    @classmethod
    def from_url(cls, url: str, **tls_files: str) -> BrokerSettings:
        """``mqtt://[user@]host[:port]`` or ``mqtts://...`` (TLS; port 8883 by default)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"{url!r}: expected mqtt://host[:port] or mqtts://host[:port]")
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname, parts.port or (8883 if tls else 1883), tls,
                   username=parts.username or "", **tls_files)


def backoff_delay(attempt: int) -> float:
    """Delay before reconnect attempt ``attempt`` (0-based): doubling, capped, 50-100 % jitter."""
    return min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** min(attempt, 16)) * random.uniform(0.5, 1.0)


class Link:
    def __init__(self, settings: BrokerSettings, client_id: str, will_topic: str, will_payload: bytes,
                 on_connect: Callable[[], None], on_message: Callable[[str, bytes], None]):
        self.settings = settings
        self.connected = False
        self._on_connect = on_connect
        self._on_message = on_message
        self._attempt = 0
        self._next_try = 0.0
        self._connecting_since: float | None = None
        self._started = False
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=False, protocol=mqtt.MQTTv311)
        if settings.tls:
            client.tls_set(ca_certs=settings.ca_file or None, certfile=settings.cert_file or None,
                           keyfile=settings.key_file or None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if settings.username:
            password = Path(settings.password_file).read_text().strip() if settings.password_file else None
            client.username_pw_set(settings.username, password)
        client.will_set(will_topic, will_payload, qos=protocol.QOS, retain=True)
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_message = self._message
        self.client = client

    def step(self, timeout: float) -> None:
        """Connect when due, then do up to ``timeout`` seconds of network I/O and callbacks."""
        now = time.monotonic()
        if self._connecting_since is not None and not self.connected \
                and now - self._connecting_since > CONNACK_TIMEOUT_S:
            log.warning("broker accepted the connection but did not answer; retrying")
            self.client.disconnect()
            self._schedule_retry()
        if self._connecting_since is None and not self.connected and now >= self._next_try:
            self._try_connect()
        if self._connecting_since is None and not self.connected:
            time.sleep(max(0.0, min(timeout, self._next_try - time.monotonic())))
            return
        try:
            result = self.client.loop(timeout=timeout)
        except (OSError, ssl.SSLError) as exc:  # paho handles most socket errors itself, not all
            log.warning("network error: %s", exc)
            self.client.disconnect()
            self.connected = False
            result = mqtt.MQTT_ERR_CONN_LOST
        if result != mqtt.MQTT_ERR_SUCCESS and not self.connected:
            self._lost()

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int | None:
        """Publish at QoS 1; the message id, or None when not connected."""
        if not self.connected:
            return None
        info = self.client.publish(topic, payload, qos=protocol.QOS, retain=retain)
        return info.mid if info.rc == mqtt.MQTT_ERR_SUCCESS else None

    def subscribe(self, topics: list[str]) -> None:
        self.client.subscribe([(t, protocol.QOS) for t in topics])

    def close(self, last_topic: str | None = None, last_payload: bytes = b"") -> None:
        """Say goodbye cleanly: publish a last retained message (e.g. offline), then disconnect."""
        if self.connected and last_topic:
            info = self.client.publish(last_topic, last_payload, qos=protocol.QOS, retain=True)
            deadline = time.monotonic() + 2.0
            while not info.is_published() and time.monotonic() < deadline and self.connected:
                self.client.loop(timeout=0.05)
        self.connected = False  # before disconnect(): its callback must not report a lost link
        self.client.disconnect()

    def _try_connect(self) -> None:
        try:
            if self._started:
                self.client.reconnect()
            else:
                self.client.connect(self.settings.host, self.settings.port, keepalive=KEEPALIVE_S)
                self._started = True
        except (OSError, ssl.SSLError, ValueError) as exc:
            log.warning("cannot reach broker %s:%s: %s", self.settings.host, self.settings.port, exc)
            self._schedule_retry()
            return
        self._connecting_since = time.monotonic()

    def _schedule_retry(self) -> None:
        self._connecting_since = None
        self._next_try = time.monotonic() + backoff_delay(self._attempt)
        self._attempt += 1

    def _lost(self) -> None:
        if self._connecting_since is not None or self.connected:
            self.connected = False
            self._schedule_retry()

    def _connected(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            self._schedule_retry()
            return
        log.info("connected to %s:%s (session present: %s)", self.settings.host, self.settings.port,
                 flags.session_present)
        self.connected = True
        self._connecting_since = None
        self._attempt = 0
        self._guard("on_connect", self._on_connect)

    def _disconnected(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected:
            log.warning("disconnected from broker: %s", reason_code)
        self.connected = False
        self._schedule_retry()

    def _message(self, client, userdata, message) -> None:
        self._guard(message.topic, self._on_message, message.topic, message.payload)

    @staticmethod
    def _guard(what: str, handler: Callable, *args) -> None:
        # A handler bug or a hostile message must never stop the process (DESIGN §5).
        try:
            handler(*args)
        except Exception:
            log.exception("error while handling %s; ignored", what[:120])
