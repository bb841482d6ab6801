"""OAuth 2.0 sign-in for users who register their own OAuth app with a platform.

- GitHub: the device authorization grant (RFC 8628). Meshport shows a user code,
  the user enters it at the verification page, and Meshport polls the token URL. It
  needs a client id and no client secret.
- Sketchfab: the authorization-code grant (RFC 6749 section 4.1) with PKCE (RFC
  7636), received by a one-shot redirect listener on 127.0.0.1 at the port the user
  registered (RFC 8252 section 7.3), then the refresh grant. It needs the client id
  and the client secret of the user's app.

Meshport ships no client id or secret. ``MESHPORT_GITHUB_OAUTH_URL`` and
``MESHPORT_SKETCHFAB_OAUTH_URL`` replace ``https://github.com`` and
``https://sketchfab.com`` in the endpoint URLs, so tests can point at local servers.

The code is split into ``grants`` (endpoints, the token request and its errors),
``device`` (``DeviceFlow``) and ``redirect`` (``AuthorizationCodeFlow`` and
``RedirectListener``). This package re-exports their public names.
"""

from .device import DEVICE_CODE_GRANT, DeviceCode, DeviceFlow
from .grants import (
    DEFAULT_OAUTH_BASE_URLS,
    DEFAULT_TIMEOUT,
    ENDPOINT_PATHS,
    PLATFORM_LABELS,
    CancelCheck,
    Clock,
    OAuthEndpoints,
    Sleep,
    endpoints_for,
    grant_error,
    new_session,
    post_form,
    token_from_response,
    wait_or_cancel,
)
from .redirect import AuthorizationCodeFlow, RedirectListener

__all__ = [
    "DEFAULT_OAUTH_BASE_URLS",
    "DEFAULT_TIMEOUT",
    "DEVICE_CODE_GRANT",
    "ENDPOINT_PATHS",
    "PLATFORM_LABELS",
    "AuthorizationCodeFlow",
    "CancelCheck",
    "Clock",
    "DeviceCode",
    "DeviceFlow",
    "OAuthEndpoints",
    "RedirectListener",
    "Sleep",
    "endpoints_for",
    "grant_error",
    "new_session",
    "post_form",
    "token_from_response",
    "wait_or_cancel",
]
