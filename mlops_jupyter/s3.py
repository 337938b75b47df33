"""S3-compatible storage (AWS, MinIO, Ceph...): is a bucket there, and may we use it.

Credentials come from where boto3 (and so DVC and MLflow) looks: the environment
(``AWS_ACCESS_KEY_ID``...), ``~/.aws``, or the remote's own DVC configuration.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from .errors import MlopsError

CREDENTIAL_ERRORS = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "Forbidden",
    "403",
    "InvalidToken",
    "ExpiredToken",
)


def split(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` as ('bucket', 'some/prefix')."""
    parsed = urlparse(url)
    return parsed.netloc, parsed.path.lstrip("/")


def check_bucket(
    url: str, endpoint: str | None = None, config: dict[str, Any] | None = None
) -> str:
    """A line saying the bucket of ``url`` answers; :class:`MlopsError` saying why it does not.

    ``config`` may hold DVC's remote options (``access_key_id``, ``secret_access_key``,
    ``region``, ``profile``).
    """
    import boto3
    import botocore.exceptions as bexc
    from botocore.config import Config

    bucket, _ = split(url)
    where = f" at {endpoint}" if endpoint else ""
    conf = config or {}
    session = boto3.session.Session(profile_name=conf.get("profile"))
    client = session.client(
        "s3",
        endpoint_url=endpoint or None,
        aws_access_key_id=conf.get("access_key_id"),
        aws_secret_access_key=conf.get("secret_access_key"),
        region_name=conf.get("region"),
        config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1}),
    )
    try:
        client.head_bucket(Bucket=bucket)
    except bexc.NoCredentialsError:
        raise MlopsError(
            f"no credentials for s3://{bucket}{where}; set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
        ) from None
    except (bexc.EndpointConnectionError, bexc.ConnectTimeoutError) as exc:
        raise MlopsError(
            f"the storage{where or ' of s3://' + bucket} is not reachable "
            f"({type(exc).__name__}); start it, or check s3_endpoint_url in mlops.toml"
        ) from None
    except bexc.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise MlopsError(
                f"bucket {bucket!r} does not exist{where}; create it (`aws s3 mb s3://{bucket}`) "
                "or fix the remote's URL"
            ) from None
        if code in CREDENTIAL_ERRORS:
            raise MlopsError(
                f"s3://{bucket}{where} refused the credentials ({code}); check AWS_ACCESS_KEY_ID "
                "and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
            ) from None
        raise MlopsError(f"s3://{bucket}{where} answered {code or exc}") from None
    return f"bucket {bucket!r}{where} answers"
