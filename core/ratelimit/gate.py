"""``RateGate`` checks each request to a platform's API against its budget and records
the rate-limit signals of the response. ``RateLimitedAdapter`` runs the gate inside
the transport adapter."""

from __future__ import annotations

import logging
import time
from typing import Callable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from .. import connections
from ..config import PlatformSettings, Settings
from .budgets import Budget, BudgetWait, budget_for, resource_for
from .signals import ServerState, server_wait
from .stores import store_for

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class RateGate:
    """Checks each request to one platform's API host against the shared budget and
    stores the rate-limit signals of its response.

    Requests to other hosts, such as pre-signed storage URLs, are neither counted nor
    held back.
    """

    def __init__(self, platform: PlatformSettings, settings: Settings, clock: Clock = time.time):
        parts = urlsplit(platform.base_url)
        self.platform = platform
        self.settings = settings
        self.clock = clock
        self._api_host = parts.netloc
        self._base_path = parts.path.rstrip("/")

    def budget_for(self, request: requests.PreparedRequest) -> Budget | None:
        parts = urlsplit(request.url)
        if not self._api_host or parts.netloc != self._api_host:
            return None
        path = parts.path
        if self._base_path and path.startswith(self._base_path):
            path = path[len(self._base_path) :]
        resource = resource_for(self.platform.platform_id, path)
        return budget_for(self.platform, resource, "Authorization" in request.headers)

    def before_send(self, request: requests.PreparedRequest) -> None:
        """Raise ``BudgetWait`` unless the request may be sent now; spend budget if so."""
        budget = self.budget_for(request)
        if budget is None:
            return
        now = self.clock()
        store = store_for(self.settings)
        until = store.blocked_until(budget.scope)
        if until > now:
            raise BudgetWait(until - now, budget, "server")
        if not budget.rates:
            return
        wait_ms = store.acquire(budget, int(now * 1000))
        if wait_ms:
            raise BudgetWait(wait_ms / 1000.0, budget, "budget")

    def after_response(self, request: requests.PreparedRequest, response) -> None:
        budget = self.budget_for(request)
        if budget is None:
            return
        now = self.clock()
        state = ServerState.from_response(response, now)
        store = store_for(self.settings)
        if state is not None:
            store.record_server_state(budget.scope, state)
        wait = server_wait(response, now)
        if wait:
            store.block(budget.scope, now + wait, now)
            log.info(
                "platform=%s resource=%s blocked status=%s wait_s=%.1f",
                budget.platform_id,
                budget.resource,
                response.status_code,
                wait,
            )


class RateLimitedAdapter(HTTPAdapter):
    """A transport adapter that checks each request with a ``RateGate`` before it
    leaves and passes it each response, redirects included."""

    def __init__(self, gate: RateGate, **kwargs):
        super().__init__(**kwargs)
        self.gate = gate

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        # Pools that record which thread uses which connection, so a cancel can reach it.
        self.poolmanager.pool_classes_by_scheme = connections.POOL_CLASSES

    def send(self, request, **kwargs):
        self.gate.before_send(request)
        response = super().send(request, **kwargs)
        self.gate.after_response(request, response)
        return response
