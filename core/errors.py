"""The exception tree shared by every layer of Meshport.

Every error carries a message an artist can act on: what failed, on which value,
and what to do next. Operators catch ``MeshportError`` only and report its message;
the command line prints it and exits with status 1.
"""

from __future__ import annotations


class MeshportError(Exception):
    """Base class of every error Meshport raises on purpose."""

    kind = "error"

    def __init__(self, message: str, *, platform: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.platform = platform
        self.status = status

    def to_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message}


class OfflineError(MeshportError):
    """Online access is off, so no request may be sent."""

    kind = "offline"


class AuthenticationError(MeshportError):
    """The platform rejected the key, or no key is set."""

    kind = "authentication"


class KeyExpiredError(AuthenticationError):
    """The key or sign-in token was valid but has expired."""

    kind = "key_expired"


class AccessDeniedError(MeshportError):
    """The key is valid but lacks permission (HTTP 403 without a rate limit)."""

    kind = "access_denied"


class NotFoundError(MeshportError):
    """The asset, file or endpoint does not exist (HTTP 404)."""

    kind = "not_found"


class NotDownloadableError(MeshportError):
    """The platform will not hand out files for this asset."""

    kind = "not_downloadable"


class RateLimitedError(MeshportError):
    """The platform or the local budget requires a wait of ``retry_after`` seconds."""

    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class NetworkError(MeshportError):
    """The request did not get an answer: connection refused, reset, DNS, timeout."""

    kind = "network"


class ProxyFailureError(NetworkError):
    """The proxy named by HTTPS_PROXY (or a similar variable) refused or failed the request."""

    kind = "proxy"


class TlsCertificateError(NetworkError):
    """The server's TLS certificate could not be verified against the trusted CAs."""

    kind = "tls_certificate"


class PlatformUnavailableError(MeshportError):
    """The platform responded with a server error (HTTP 5xx)."""

    kind = "unavailable"


class ResponseFormatError(MeshportError):
    """The platform responded with a shape Meshport does not understand."""

    kind = "bad_response"


class DownloadError(MeshportError):
    """A transfer ended with a file that failed a check (size, md5, magic bytes)."""

    kind = "download"


class UnsafeArchiveError(MeshportError):
    """An archive contains an entry that would escape its folder or exceed a limit."""

    kind = "unsafe_archive"


class UnsupportedFileError(MeshportError):
    """Blender cannot import this file (format, version or glTF extension)."""

    kind = "unsupported_file"


class ImportFailedError(MeshportError):
    """Blender's importer raised or produced nothing."""

    kind = "import_failed"


class CredentialStoreError(MeshportError):
    """The OS keyring is missing or refused the operation."""

    kind = "keyring"


class JobCancelledError(MeshportError):
    """The artist or the add-on cancelled the job."""

    kind = "cancelled"


class ConfigurationError(MeshportError):
    """A setting or command-line value is invalid."""

    kind = "configuration"


class PolicyError(MeshportError):
    """The studio policy file blocks the action, or the file itself is invalid."""

    kind = "policy"
