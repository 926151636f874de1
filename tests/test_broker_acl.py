"""The production broker config (deploy/) against a real mosquitto: TLS, certificates, ACL."""

import ssl
import subprocess

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import func, select

from cityhub import store
from kiosk.outbox import Outbox, SyncState
from kiosk.sync import protocol
from tests.fixtures.broker import CITY, append_events, wait_until


class TlsClient:
    def __init__(self, broker, name: str | None):
        pki = broker.dir / "pki"
        self.messages = []
        self.granted = {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{name}-{id(self)}",
                                  protocol=mqtt.MQTTv311)
        self.client.tls_set(ca_certs=str(pki / "ca.crt"), certfile=str(pki / f"{name}.crt") if name else None,
                            keyfile=str(pki / f"{name}.key") if name else None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        self.client.on_subscribe = lambda _c, _u, mid, codes, _p: self.granted.update({mid: codes})
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        wait_until(self.client.is_connected, 10, f"{name} to connect")

    def subscribe(self, topic):
        mid = self.client.subscribe(topic, qos=1)[1]
        return wait_until(lambda: self.granted.get(mid), 10, f"suback for {topic}")

    def publish(self, topic, payload):
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def payloads(self):
        return [payload for _topic, payload in list(self.messages)]

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def clients(tls_mosquitto):
    made = []

    def connect(name):
        made.append(TlsClient(tls_mosquitto, name))
        return made[-1]
    yield connect
    for client in made:
        client.close()


def test_acl_device_cannot_publish_as_another_device(clients):
    hub, forger = clients("cityhub"), clients("tc-a")
    hub.subscribe(f"kiosk/v1/{CITY}/+/evt")
    info = forger.client.publish(protocol.evt_topic(CITY, "tc-b"), b"forged", qos=1)
    # mosquitto 2.0 answers a denied publish with PUBACK reason 135 even over MQTT 3.1.1, which
    # paho treats as a protocol error and drops the connection: either way, never delivered.
    wait_until(lambda: info.is_published() or not forger.client.is_connected(), 10, "the broker's answer")
    clients("tc-a").publish(protocol.evt_topic(CITY, "tc-a"), b"own")
    wait_until(lambda: b"own" in hub.payloads(), 10, "the device's own message")
    assert hub.payloads() == [b"own"]


def test_acl_device_cannot_read_another_devices_acks_or_site(clients):
    hub, device_a = clients("cityhub"), clients("tc-a")
    for topic in (protocol.ack_topic(CITY, "tc-b"), f"kiosk/v1/{CITY}/#", protocol.ack_topic(CITY, "tc-a"),
                  protocol.roster_topic(CITY, "annex")):
        device_a.subscribe(topic)
    hub.publish(protocol.ack_topic(CITY, "tc-b"), b"ack for b")
    hub.publish(protocol.roster_topic(CITY, "annex"), b"roster of annex")
    hub.publish(protocol.roster_topic(CITY, "honcho"), b"roster of honcho")
    hub.publish(protocol.ack_topic(CITY, "tc-a"), b"ack for a")
    wait_until(lambda: b"ack for a" in device_a.payloads(), 10, "the device's own ack")
    assert b"ack for b" not in device_a.payloads() and b"roster of annex" not in device_a.payloads()
    assert b"roster of honcho" in device_a.payloads()


def test_acl_client_without_certificate_refused(tls_mosquitto):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="no-cert", protocol=mqtt.MQTTv311)
    client.tls_set(ca_certs=str(tls_mosquitto.dir / "pki" / "ca.crt"), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    refused = False
    try:
        client.connect("127.0.0.1", tls_mosquitto.port)
        for _ in range(50):  # TLS 1.3 reports a missing client certificate after the handshake
            if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:
                refused = True
                break
    except (ssl.SSLError, OSError):
        refused = True
    assert refused and not client.is_connected()


def test_acl_sync_and_hub_drain_through_tls(tmp_path, tls_mosquitto, processes, kiosk_config):
    pki = tls_mosquitto.dir / "pki"
    data = tmp_path / "kiosk"
    append_events(Outbox(data, disk_floor_bytes=0), 5, "tc-a")
    config = kiosk_config("tc-a", tls_mosquitto, data)
    config.write_text(config.read_text().replace("tls = false", f'''tls = true
ca_file = "{pki}/ca.crt"
cert_file = "{pki}/tc-a.crt"
key_file = "{pki}/tc-a.key"'''))
    db = f"sqlite:///{tmp_path}/hub.db"
    processes.hub(db, tls_mosquitto, extra=["--mqtt", f"mqtts://127.0.0.1:{tls_mosquitto.port}", "--ca",
                                            str(pki / "ca.crt"), "--cert", str(pki / "cityhub.crt"),
                                            "--key-file", str(pki / "cityhub.key")])
    processes.sync(config)
    wait_until(lambda: SyncState.load(data).confirmed_through == 5, 30, "events confirmed over TLS")
    with store.connect(db).connect() as conn:
        assert conn.execute(select(func.count()).select_from(store.events)).scalar() == 5
    status = wait_until(lambda: SyncState.load(data).health.get("hub_online"), 10, "hub status seen")
    assert status is True


def test_acl_username_and_password_file_instead_of_certificates(tmp_path, processes, kiosk_config):
    from tests.fixtures.broker import Mosquitto

    broker_dir = tmp_path / "pwbroker"
    broker_dir.mkdir()
    passwords = broker_dir / "passwd"
    for user, secret in (("tc-a", "kiosk-secret"), ("cityhub", "hub-secret")):
        subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if user == "tc-a" else []), str(passwords), user, secret],
                       check=True, capture_output=True)
    broker = Mosquitto(broker_dir)
    broker.conf_path.write_text(broker.default_conf().replace("allow_anonymous true", "allow_anonymous false")
                                + f"password_file {passwords}\n")
    broker.start()
    try:
        data = tmp_path / "kiosk"
        append_events(Outbox(data, disk_floor_bytes=0), 3, "tc-a")
        (tmp_path / "kiosk.pw").write_text("kiosk-secret\n")
        (tmp_path / "hub.pw").write_text("hub-secret\n")
        config = kiosk_config("tc-a", broker, data)
        config.write_text(config.read_text().replace(
            "tls = false", f'tls = false\nusername = "tc-a"\npassword_file = "{tmp_path}/kiosk.pw"'))
        processes.hub(f"sqlite:///{tmp_path}/hub.db", broker,
                      extra=["--mqtt", f"mqtt://cityhub@127.0.0.1:{broker.port}", "--password-file",
                             str(tmp_path / "hub.pw")])
        processes.sync(config)
        wait_until(lambda: SyncState.load(data).confirmed_through == 3, 30, "events confirmed with passwords")
    finally:
        broker.stop()


def test_acl_hub_shared_subscription_allowed(clients):
    hub, device_a = clients("cityhub"), clients("tc-a")
    hub.subscribe(f"$share/hub/kiosk/v1/{CITY}/+/evt")
    device_a.publish(protocol.evt_topic(CITY, "tc-a"), b"shared")
    wait_until(lambda: b"shared" in hub.payloads(), 10, "the event through the shared subscription")
