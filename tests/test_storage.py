"""The ObjectStore contract, run against the local store and a real SeaweedFS S3 server."""

from __future__ import annotations

import hashlib
import io
import os
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from storage import (
    InvalidKey,
    LocalStore,
    ObjectNotFound,
    ObjectRetained,
    ObjectStore,
    ObjectTooLarge,
    Retention,
    S3Store,
    UnsupportedOperation,
    content_key,
    sha256_of_key,
)


class Trickle:
    """A stream of unknown length that returns short, uneven reads, like a pipe."""

    def __init__(self, data: bytes, step: int = 7919) -> None:
        self._data = data
        self._pos = 0
        self._step = step

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = len(self._data)
        n = min(n, self._step)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


def test_put_content_is_addressed_by_sha256(store: ObjectStore) -> None:
    data = os.urandom(300_000)
    res = store.put_content(Trickle(data), content_type="application/pdf")
    digest = hashlib.sha256(data).hexdigest()
    assert res.sha256 == digest
    assert res.key == f"sha256/{digest[:2]}/{digest}"
    assert res.size == len(data)
    assert res.created
    assert store.get_bytes(res.key) == data
    info = store.stat(res.key)
    assert info.size == len(data)
    assert info.sha256 == digest
    assert info.content_type == "application/pdf"


def test_identical_content_is_stored_once(store: ObjectStore) -> None:
    data = b"%PDF-1.7 same content" * 1000
    first = store.put_content(io.BytesIO(data))
    second = store.put_content(io.BytesIO(data))
    assert first.key == second.key
    assert first.created and not second.created
    assert [o.key for o in store.list("sha256/")] == [first.key]


def test_large_object_streams_in_parts(store: ObjectStore) -> None:
    """Bigger than the S3 store's single-PUT limit (5 MiB parts in the tests)."""
    data = os.urandom(13 * 1024 * 1024 + 17)
    res = store.put_content(Trickle(data, step=1 << 20))
    assert res.sha256 == hashlib.sha256(data).hexdigest()
    assert res.size == len(data)
    assert store.sha256_of(res.key) == (res.sha256, len(data))
    # no temporary object remains visible
    assert [o.key for o in store.list("")] == [res.key]
    again = store.put_content(io.BytesIO(data))
    assert not again.created


def test_byte_ranges(store: ObjectStore) -> None:
    data = bytes(range(256)) * 100
    res = store.put_content(io.BytesIO(data))
    with store.open(res.key, start=1000, end=1999) as f:
        assert f.read() == data[1000:2000]
    with store.open(res.key, start=25500) as f:
        assert f.read() == data[25500:]
    with store.open(res.key, start=0, end=0) as f:
        assert f.read() == data[:1]


def test_named_keys_list_and_delete(store: ObjectStore) -> None:
    store.put("exchange/in/a.xml", io.BytesIO(b"<a/>"), content_type="application/xml")
    store.put("exchange/in/b.xml", io.BytesIO(b"<b/>"), metadata={"sender": "H41"})
    store.put("exchange/out/c.xml", io.BytesIO(b"<c/>"))
    assert [o.key for o in store.list("exchange/in/")] == ["exchange/in/a.xml", "exchange/in/b.xml"]
    assert [o.key for o in store.list("exchange/")][-1] == "exchange/out/c.xml"
    assert store.stat("exchange/in/b.xml").metadata == {"sender": "H41"}
    assert store.exists("exchange/in/a.xml")
    store.delete("exchange/in/a.xml")
    assert not store.exists("exchange/in/a.xml")
    with pytest.raises(ObjectNotFound):
        store.stat("exchange/in/a.xml")
    with pytest.raises(ObjectNotFound):
        store.open("exchange/in/a.xml")
    assert [o.key for o in store.list("exchange/in/")] == ["exchange/in/b.xml"]


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "a b", "x/./y"])
def test_invalid_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.put(key, io.BytesIO(b"x"))


def test_retention_blocks_delete_and_overwrite(store: ObjectStore) -> None:
    res = store.put_content(io.BytesIO(b"signed original"))
    until = datetime.now(UTC) + timedelta(days=2)
    store.set_retention(res.key, Retention(until))
    info = store.stat(res.key)
    assert info.retention is not None
    assert abs((info.retention.until - until).total_seconds()) < 2
    with pytest.raises(ObjectRetained) as exc:
        store.delete(res.key)
    assert "retention until" in str(exc.value)
    assert store.get_bytes(res.key) == b"signed original"

    store.put("named/retained", io.BytesIO(b"v1"))
    store.set_retention("named/retained", Retention(until))
    with pytest.raises(ObjectRetained):
        store.put("named/retained", io.BytesIO(b"v2"))
    assert store.get_bytes("named/retained") == b"v1"


def test_legal_hold_blocks_delete_until_released(store: ObjectStore) -> None:
    res = store.put_content(io.BytesIO(b"evidence"), legal_hold=True)
    assert store.stat(res.key).legal_hold
    with pytest.raises(ObjectRetained) as exc:
        store.delete(res.key)
    assert "legal hold" in str(exc.value)
    store.set_legal_hold(res.key, False)
    store.delete(res.key)
    assert not store.exists(res.key)


def test_s3_retention_is_enforced_by_the_server(s3_store: S3Store) -> None:
    """Object Lock: even a raw client that bypasses our checks cannot remove the version."""
    assert s3_store.object_lock_enabled()
    res = s3_store.put_content(io.BytesIO(b"locked"))
    s3_store.set_retention(res.key, Retention(datetime.now(UTC) + timedelta(days=1)))
    version = s3_store.stat(res.key).version_id
    with pytest.raises(Exception) as exc:
        s3_store.client.remove_object(s3_store.bucket, res.key, version_id=version)
    assert "AccessDenied" in str(exc.value)
    assert s3_store.get_bytes(res.key) == b"locked"


def test_size_limit_leaves_nothing_behind(store: ObjectStore) -> None:
    store.max_object_size = 100_000
    with pytest.raises(ObjectTooLarge):
        store.put_content(Trickle(os.urandom(250_000)))
    assert list(store.list("")) == []
    if isinstance(store, LocalStore):
        assert store.incomplete_uploads() == []


def test_size_limit_on_multipart_upload(s3_store: S3Store) -> None:
    s3_store.max_object_size = 7 * 1024 * 1024
    with pytest.raises(ObjectTooLarge):
        s3_store.put_content(io.BytesIO(os.urandom(12 * 1024 * 1024)))
    assert list(s3_store.list("")) == []


def test_presigned_download(s3_store: S3Store) -> None:
    res = s3_store.put_content(io.BytesIO(b"%PDF-1.7 presigned"))
    url = s3_store.presigned_url(res.key, expires_seconds=60)
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"%PDF-1.7 presigned"


def test_local_store_has_no_presigned_urls(local_store: LocalStore) -> None:
    res = local_store.put_content(io.BytesIO(b"x"))
    with pytest.raises(UnsupportedOperation):
        local_store.presigned_url(res.key)


def test_health_reports_unreachable_s3() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    dead = S3Store(f"127.0.0.1:{port}", "a", "b", "bucket", secure=False)
    h = dead.health()
    assert not h.ok
    assert "unreachable" in h.detail


def test_health_ok(store: ObjectStore) -> None:
    assert store.health().ok


def test_local_store_health_when_directory_is_gone(tmp_path: os.PathLike[str]) -> None:
    store = LocalStore(os.path.join(tmp_path, "missing"))
    assert not store.health().ok


def test_cleanup_removes_only_stale_uploads(local_store: LocalStore) -> None:
    res = local_store.put_content(io.BytesIO(b"keep me"))
    stale = local_store.root / "tmp" / "dead.part"
    stale.write_bytes(b"half")
    os.utime(stale, (0, 0))
    assert local_store.incomplete_uploads() == ["dead.part"]
    assert local_store.cleanup_incomplete(older_than_seconds=60) == 1
    assert local_store.incomplete_uploads() == []
    assert local_store.get_bytes(res.key) == b"keep me"


def test_content_key_helpers() -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    assert sha256_of_key(content_key(digest)) == digest
    assert sha256_of_key("sha256/zz/zz/notahash") is None
    assert sha256_of_key("other/key") is None
    with pytest.raises(InvalidKey):
        content_key("not-a-digest")


def test_recover_links_complete_uploads_only(local_store: LocalStore) -> None:
    """After a power loss the link of a finished put may be lost while its fsynced data sits
    complete in tmp/: recovery restores it. Unmarked or damaged temporary files stay out."""
    res = local_store.put_content(io.BytesIO(b"%PDF-1.7 durable"))
    final = local_store.root / "objects" / res.key
    complete = local_store.root / "tmp" / "aaaa.part"
    os.rename(final, complete)  # the state a lost (never-journaled) link leaves
    unmarked = local_store.root / "tmp" / "bbbb.part"
    unmarked.write_bytes(b"%PDF-1.7 interrupted")
    damaged_src = local_store.put_content(io.BytesIO(b"%PDF-1.7 will be damaged"))
    damaged = local_store.root / "tmp" / "cccc.part"
    os.rename(local_store.root / "objects" / damaged_src.key, damaged)
    with open(damaged, "r+b") as f:
        f.truncate(5)  # data lost, completion mark present

    assert not local_store.exists(res.key)
    assert local_store.recover(min_age_seconds=0) == 1
    assert local_store.get_bytes(res.key) == b"%PDF-1.7 durable"
    assert local_store.stat(res.key).sha256 == res.sha256
    assert not local_store.exists(damaged_src.key)
    assert sorted(local_store.incomplete_uploads()) == ["bbbb.part", "cccc.part"]
    assert local_store.cleanup_incomplete(older_than_seconds=0) == 2
    assert local_store.incomplete_uploads() == []


def test_known_index_decides_without_asking_the_server(s3_store: S3Store) -> None:
    data = b"%PDF-1.7 indexed" * 100
    digest = hashlib.sha256(data).hexdigest()
    # The index says it is stored: nothing is sent.
    skipped = s3_store.put_content(io.BytesIO(data), known=lambda d: d == digest)
    assert not skipped.created
    assert not s3_store.exists(skipped.key)
    # The index says it is new: stored with a plain PUT.
    stored = s3_store.put_content(io.BytesIO(data), known=lambda d: False)
    assert stored.created and s3_store.get_bytes(stored.key) == data
    big = os.urandom(6 * 1024 * 1024)
    res = s3_store.put_content(io.BytesIO(big), known=lambda d: False)
    assert res.created and s3_store.sha256_of(res.key)[0] == res.sha256
    again = s3_store.put_content(io.BytesIO(big), known=lambda d: d == res.sha256)
    assert not again.created
    assert [o.key for o in s3_store.list("tmp/")] == []
