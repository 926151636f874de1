"""A private mosquitto on a free loopback port, for `kiosk demo`, the benchmark and the tests.

The generated config follows DESIGN §4: persistence on and ``max_queued_messages 0`` (the
default of 1000 silently drops messages for a slow or absent subscriber).
"""

from __future__ import annotations

import getpass
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

# Debian installs it in /usr/sbin, which is not on an ordinary user's PATH.
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class LocalBroker:
    """mosquitto with a generated config in ``directory``; ``conf`` replaces the generated one."""

    def __init__(self, directory: Path, conf: str | None = None, port: int | None = None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf_path = self.dir / "mosquitto.conf"
        self.conf_path.write_text(conf if conf is not None else self.default_conf())
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def default_conf(self) -> str:
        return "\n".join([
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",  # loopback only: nothing else on this machine is trusted less
            f"user {getpass.getuser()}",  # as root, mosquitto would drop to a user that cannot write here
            "persistence true",
            f"persistence_location {self.dir}/",
            "max_queued_messages 0",
            f"log_dest file {self.dir}/mosquitto.log",
            "log_type error", "log_type warning", "log_type notice",
        ]) + "\n"

    def start(self, timeout: float = 10.0) -> LocalBroker:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf_path)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not start: {self.log()[-2000:]}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.thaw()
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def freeze(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def log(self) -> str:
        path = self.dir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""
