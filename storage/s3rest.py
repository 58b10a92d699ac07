"""The three S3 requests the MinIO client has no public method for, signed with its public
signer (``minio.signer.sign_v4_s3``).

* a conditional ``PutObject`` (``If-None-Match: *``), so that without a digest index the
  server refuses a duplicate and content is never written twice;
* ``ListMultipartUploads`` and ``AbortMultipartUpload``, to find and remove the uploads a
  killed process left behind.

Invariants: every request is signed (SigV4, the body's SHA-256 over plain HTTP, a
Content-MD5 on every body); a non-2xx answer raises :class:`minio.error.S3Error` with the
server's error code, exactly as the MinIO client would. The region is the configured one,
else ``us-east-1`` (MinIO's and SeaweedFS's default); a server that names another region
in its ``AuthorizationHeaderMalformed`` answer gets the request again, signed for that one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import urllib3
from defusedxml import ElementTree
from minio.credentials import StaticProvider
from minio.datatypes import ListMultipartUploadsResult, Upload
from minio.error import S3Error
from minio.helpers import BaseURL, md5sum_hash, sha256_hash
from minio.signer import sign_v4_s3
from minio.time import to_amz_date, utcnow

_STATUS_CODES = {
    403: "AccessDenied",
    404: "NoSuchKey",
    409: "Conflict",
    412: "PreconditionFailed",
}


def _named_region(exc: S3Error) -> str | None:
    """The region an ``AuthorizationHeaderMalformed`` answer says the bucket is in."""
    try:
        root = ElementTree.fromstring(exc.response.data)
    except Exception:
        return None
    found = root.findtext("Region")
    return found.strip() if found and found.strip() else None


class S3Requests:
    """Signed S3 requests over the store's own connection pool."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        *,
        secure: bool,
        region: str | None,
        http: urllib3.PoolManager,
    ) -> None:
        self._url = BaseURL(("https://" if secure else "http://") + endpoint, region)
        self._secure = secure
        self._region = region or "us-east-1"
        self._creds = StaticProvider(access_key, secret_key)
        self._http = http

    def request(
        self,
        method: str,
        bucket: str,
        key: str | None = None,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        """Send one signed request; once more, signed for the region the server names, if
        it answers that the bucket is in another one."""
        args = (method, bucket, key, body, headers or {}, query or {})
        try:
            return self._send(*args)
        except S3Error as exc:
            region = _named_region(exc) if exc.code == "AuthorizationHeaderMalformed" else None
            if not region or region == self._region:
                raise
            self._region = region
            return self._send(*args)

    def _send(
        self,
        method: str,
        bucket: str,
        key: str | None,
        body: bytes,
        headers: dict[str, str],
        query: dict[str, str],
    ) -> urllib3.BaseHTTPResponse:
        url = self._url.build(
            method=method,
            region=self._region,
            bucket_name=bucket,
            object_name=key,
            query_params=dict(query),
        )
        creds = self._creds.retrieve()
        hdrs: dict[str, Any] = dict(headers)
        hdrs["Host"] = url.netloc
        hdrs["Content-Length"] = str(len(body))
        if body:
            hdrs.setdefault("Content-MD5", md5sum_hash(body))
        sha = "UNSIGNED-PAYLOAD" if self._secure else sha256_hash(body)
        hdrs["x-amz-content-sha256"] = sha
        date = utcnow()
        hdrs["x-amz-date"] = to_amz_date(date)
        signed = sign_v4_s3(
            method=method,
            url=url,
            region=self._region,
            headers=hdrs,
            credentials=creds,
            content_sha256=sha,
            date=date,
        )
        response = self._http.urlopen(
            method, url.geturl(), body=body or None, headers=signed, preload_content=True
        )
        if response.status in (200, 204, 206):
            return response
        raise self._error(response, bucket, key)

    @staticmethod
    def _error(response: urllib3.BaseHTTPResponse, bucket: str, key: str | None) -> S3Error:
        if response.data and response.headers.get("content-type", "").endswith("xml"):
            try:
                return S3Error.fromxml(response)
            except Exception:  # not an S3 error document: fall back to the status
                pass
        code = _STATUS_CODES.get(response.status, f"HTTP{response.status}")
        return S3Error(
            response,
            code,
            f"HTTP {response.status}",
            f"/{bucket}/{key or ''}",
            response.headers.get("x-amz-request-id"),
            response.headers.get("x-amz-id-2"),
            bucket_name=bucket,
            object_name=key,
        )

    def put_if_absent(
        self, bucket: str, key: str, data: bytes, headers: dict[str, str]
    ) -> str | None:
        """PUT ``data`` unless ``key`` exists (S3Error ``PreconditionFailed`` if it does);
        the new version id."""
        response = self.request(
            "PUT", bucket, key, body=data, headers={**headers, "If-None-Match": "*"}
        )
        return response.headers.get("x-amz-version-id")

    def multipart_uploads(self, bucket: str, prefix: str) -> Iterator[Upload]:
        """Every multipart upload in progress under ``prefix`` (all pages)."""
        markers: dict[str, str] = {}
        while True:
            query = {
                "uploads": "",
                "prefix": prefix,
                "max-uploads": "1000",
                "encoding-type": "url",
                **markers,
            }
            result = ListMultipartUploadsResult(self.request("GET", bucket, query=query))
            yield from result.uploads
            if not result.is_truncated or not (
                result.next_key_marker or result.next_upload_id_marker
            ):
                return
            markers = {
                "key-marker": result.next_key_marker or "",
                "upload-id-marker": result.next_upload_id_marker or "",
            }

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.request("DELETE", bucket, key, query={"uploadId": upload_id})
