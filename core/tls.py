"""TLS trust and proxy settings for requests sessions, and the classification of a
failed request into a cause an artist can act on.

Trust comes from, in this order: ``MESHPORT_CA_BUNDLE`` (a PEM file, a folder of
hashed certificates, or ``system``), the ``ca_bundle`` argument (the add-on
preference), else requests' default, which honours ``REQUESTS_CA_BUNDLE`` and
``CURL_CA_BUNDLE`` and falls back to certifi's bundle. Certificate checks are never
turned off: no path through this module sets ``verify=False``.

Proxies come from ``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``
(upper or lower case), which requests reads itself as long as ``trust_env`` is on.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies

from . import errors
from .config import key_place
from .ratelimit import describe_wait, is_rate_limited, rate_limit_wait
from .redact import redact_url

log = logging.getLogger(__name__)

CA_BUNDLE_VARIABLE = "MESHPORT_CA_BUNDLE"
SYSTEM_TRUST = "system"
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


@dataclass(frozen=True)
class TrustChoice:
    """The source of the certificates that servers are verified against.

    ``verify`` is the value for ``requests.Session.verify``: True for requests'
    default, else the path of a CA file or folder. ``ssl_context`` is set only for
    the system trust store through the ``truststore`` package.
    """

    source: str
    verify: bool | str
    description: str
    ssl_context: ssl.SSLContext | None = None


def choose_trust(
    ca_bundle: str | None = None, environ: Mapping[str, str] = os.environ
) -> TrustChoice:
    """Pick the trust source from ``MESHPORT_CA_BUNDLE``, else ``ca_bundle``.

    Raises ``ConfigurationError`` when the chosen file is missing or contains no
    certificate, or when the system trust store cannot be found.
    """
    from_env = environ.get(CA_BUNDLE_VARIABLE, "").strip()
    value = from_env or (ca_bundle or "").strip()
    origin = CA_BUNDLE_VARIABLE if from_env else "the CA bundle preference"
    if not value:
        return TrustChoice("default", True, "requests' default CA bundle (certifi)")
    if value.lower() == SYSTEM_TRUST:
        return _system_trust()
    return _custom_bundle(Path(value).expanduser(), origin)


def apply_to_session(session: requests.Session, choice: TrustChoice | None = None) -> TrustChoice:
    """Apply ``choice`` (default: ``choose_trust()``) to ``session`` and keep proxy
    variables on. Returns the choice so the caller can pass ``choice.verify`` per
    request, because requests lets ``REQUESTS_CA_BUNDLE`` override ``session.verify``.
    """
    choice = choice or choose_trust()
    session.trust_env = True
    session.verify = choice.verify
    if choice.ssl_context is not None:
        for adapter in session.adapters.values():
            _use_ssl_context(adapter, choice.ssl_context)
    log.debug("TLS trust: %s", choice.description)
    return choice


def new_session(user_agent: str, ca_bundle: str | None = None) -> requests.Session:
    """Return a session with ``user_agent``, the chosen trust and proxy variables on."""
    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    apply_to_session(session, choose_trust(ca_bundle))
    return session


def proxy_for(url: str) -> str | None:
    """Return the proxy requests would use for ``url``, redacted, or None."""
    proxies = get_environ_proxies(url)
    scheme = urlsplit(url).scheme
    proxy = proxies.get(scheme) or proxies.get("all")
    return redact_url(proxy) if proxy else None


def _system_trust() -> TrustChoice:
    try:
        import truststore
    except ImportError:
        truststore = None
    if truststore is not None:
        # NOTE: not covered by the test suite, which runs without truststore installed.
        # Requests that go through a proxy keep verifying against requests' CA bundle,
        # because requests passes no SSL context to its proxy managers.
        context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        return TrustChoice(SYSTEM_TRUST, True, "the system trust store (truststore)", context)
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.capath):
        if candidate and Path(candidate).exists():
            return TrustChoice(SYSTEM_TRUST, candidate, f"the system CA bundle {candidate}")
    raise errors.ConfigurationError(
        "The system trust store was chosen for TLS, but OpenSSL names no CA file or "
        f"folder here ({paths.openssl_cafile}). Install the truststore package, or "
        f"set {CA_BUNDLE_VARIABLE} to the path of a PEM CA bundle."
    )


def _custom_bundle(path: Path, origin: str) -> TrustChoice:
    if not path.exists():
        raise errors.ConfigurationError(
            f"The CA bundle {path} from {origin} does not exist. Choose an existing PEM "
            "file, or clear the setting to use the default bundle."
        )
    try:
        if path.is_dir():
            ssl.create_default_context(capath=str(path))
        else:
            context = ssl.create_default_context(cafile=str(path))
            if not context.get_ca_certs():
                raise ssl.SSLError("no CA certificate found")
    except (ssl.SSLError, OSError) as error:
        raise errors.ConfigurationError(
            f"The CA bundle {path} from {origin} could not be read as PEM certificates "
            f"({error}). Export the CA certificate in PEM form and choose that file."
        ) from None
    log.info("TLS trust: CA bundle %s from %s", path, origin)
    return TrustChoice("custom", str(path), f"the CA bundle {path}")


def _use_ssl_context(adapter, context: ssl.SSLContext) -> None:
    if not isinstance(adapter, HTTPAdapter):
        return
    # The pool settings are private attributes, but requests lists them in
    # HTTPAdapter.__attrs__ for pickling, so they are stable.
    adapter.init_poolmanager(
        adapter._pool_connections,
        adapter._pool_maxsize,
        block=adapter._pool_block,
        ssl_context=context,
    )


def classify_exception(
    error: requests.RequestException, *, label: str, platform_id: str | None = None
) -> errors.MeshportError:
    """Map a request that got no response to proxy failure, TLS certificate failure
    or network unreachable, each with a message saying what to check."""
    url = getattr(error.request, "url", None) or ""
    host = urlsplit(url).netloc or "the server"
    if isinstance(error, requests.exceptions.ProxyError):
        return _proxy_error(error, url, host, label, platform_id)
    if isinstance(error, requests.exceptions.SSLError):
        return _tls_error(error, host, label, platform_id)
    if isinstance(error, requests.Timeout):
        return errors.NetworkError(
            f"{label}: {host} did not answer in time, so the network or the platform is "
            "unreachable. Check the connection and try again.",
            platform=platform_id,
        )
    if _is_name_resolution_failure(error):
        return errors.NetworkError(
            f"{label}: the name {host} could not be resolved, so the network is "
            "unreachable or DNS is failing. Check the connection and try again.",
            platform=platform_id,
        )
    return errors.NetworkError(
        f"{label}: cannot reach {host} ({_root_cause_name(error)}), so the network is "
        "unreachable. Check the connection and try again.",
        platform=platform_id,
    )


def classify_response(
    response: requests.Response,
    *,
    label: str,
    platform_id: str | None = None,
    now: float | None = None,
) -> errors.MeshportError | None:
    """Map an error response to key rejected, key expired, rate limited, proxy
    failure (407) or platform down; None for other statuses, which the caller maps."""
    status = response.status_code
    kwargs = {"platform": platform_id, "status": status}
    if is_rate_limited(response):
        wait = rate_limit_wait(response, now)
        return errors.RateLimitedError(
            f"{label}: rate limited, {describe_wait(wait)}.", retry_after=wait, **kwargs
        )
    if status == 401 and _says_expired(response):
        return errors.KeyExpiredError(
            f"{label}: the key or sign-in has expired (HTTP 401). Create a new key, or "
            f"sign in again, in {key_place(platform_id)}.",
            **kwargs,
        )
    if status == 401:
        return errors.AuthenticationError(
            f"{label}: the key was rejected (HTTP 401). Check the key in "
            f"{key_place(platform_id)}.",
            **kwargs,
        )
    if status == 407:
        return errors.ProxyFailureError(
            f"{label}: the proxy requires authentication (HTTP 407). Put the user name "
            "and password in HTTPS_PROXY as http://user:password@host:port.",
            **kwargs,
        )
    if status >= 500:
        return errors.PlatformUnavailableError(
            f"{label} is down or overloaded (HTTP {status}). Try again later.", **kwargs
        )
    return None


def classify(
    failure: requests.RequestException | requests.Response,
    *,
    label: str,
    platform_id: str | None = None,
) -> errors.MeshportError | None:
    """Classify an exception or an error response; see the two functions above."""
    if isinstance(failure, requests.Response):
        return classify_response(failure, label=label, platform_id=platform_id)
    return classify_exception(failure, label=label, platform_id=platform_id)


def _proxy_error(error, url: str, host: str, label: str, platform_id) -> errors.MeshportError:
    proxy = proxy_for(url) if url else None
    named = f"the proxy {proxy}" if proxy else "the proxy"
    return errors.ProxyFailureError(
        f"{label}: {named} failed the connection to {host} ({_root_cause_name(error)}). "
        "Check that the proxy is running and that HTTPS_PROXY names it, or add the host "
        "to NO_PROXY if it needs no proxy.",
        platform=platform_id,
    )


def _tls_error(error, host: str, label: str, platform_id) -> errors.MeshportError:
    verification = _find_in_chain(error, ssl.SSLCertVerificationError)
    if verification is not None and verification.verify_message:
        reason = verification.verify_message
    else:
        reason = "TLS handshake failed"
    return errors.TlsCertificateError(
        f"{label}: the TLS certificate of {host} could not be verified ({reason}). If a "
        "company proxy or firewall inspects HTTPS, choose its CA bundle in Meshport's "
        f"preferences or with {CA_BUNDLE_VARIABLE}, and check the system clock.",
        platform=platform_id,
    )


def _says_expired(response: requests.Response) -> bool:
    """Return whether a 401 reports an expired credential, in ``WWW-Authenticate``
    (RFC 6750 ``error_description``) or in the body."""
    challenge = response.headers.get("WWW-Authenticate", "")
    if "expired" in challenge.lower():
        return True
    try:
        body = response.json()
    except (ValueError, requests.RequestException):
        return False
    if not isinstance(body, dict):
        return False
    for name in ("detail", "message", "error", "error_description"):
        value = body.get(name)
        if isinstance(value, str) and "expired" in value.lower():
            return True
    return False


def _chain(error: BaseException):
    """Yield ``error`` and every exception linked to it by cause, context, the
    first argument or urllib3's ``reason``."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending.extend(item for item in linked if isinstance(item, BaseException))


def _find_in_chain(error: BaseException, cls: type[BaseException]):
    return next((item for item in _chain(error) if isinstance(item, cls)), None)


def _root_cause_name(error: BaseException) -> str:
    """Return the name of the operating-system error behind ``error``, such as
    ``ConnectionRefusedError``, else the class name of ``error`` itself."""
    for item in _chain(error):
        if type(item).__module__ == "builtins" and isinstance(item, OSError):
            return type(item).__name__
    return type(error).__name__


def _is_name_resolution_failure(error: BaseException) -> bool:
    for item in _chain(error):
        if isinstance(item, OSError) and type(item).__name__ == "gaierror":
            return True
        if type(item).__name__ == "NameResolutionError":
            return True
    return False
