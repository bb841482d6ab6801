"""The retry policy as pure functions: schedule, bounds and what is retried."""

from __future__ import annotations

import pytest
import requests
from meshport.core.retry import (
    IDEMPOTENT_METHODS,
    RETRYABLE_STATUS,
    RetryPolicy,
    is_transient_error,
)


def test_backoff_ceilings_double_up_to_the_cap():
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)

    ceilings = [policy.backoff_ceiling(attempt) for attempt in range(1, 7)]

    assert ceilings == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_full_jitter_scales_the_ceiling():
    policy = RetryPolicy(base_delay=1.0, random=lambda: 0.25)

    assert [policy.backoff(attempt) for attempt in (1, 2, 3)] == [0.25, 0.5, 1.0]


def test_retry_after_replaces_backoff():
    policy = RetryPolicy(random=lambda: 1.0)

    assert policy.next_wait(1, elapsed=0.0, retry_after=42.0) == 42.0


def test_wait_past_total_budget_is_refused():
    policy = RetryPolicy(total_budget=60.0)

    assert policy.next_wait(1, elapsed=20.0, retry_after=41.0) is None


def test_last_attempt_gets_no_wait():
    policy = RetryPolicy(max_attempts=3)

    assert policy.next_wait(3, elapsed=0.0) is None


def test_remaining_never_goes_negative():
    policy = RetryPolicy(total_budget=10.0)

    assert policy.remaining(4.0) == 6.0
    assert policy.remaining(15.0) == 0.0


@pytest.mark.parametrize("status", sorted(RETRYABLE_STATUS))
@pytest.mark.parametrize("method", sorted(IDEMPOTENT_METHODS))
def test_retryable_status_on_idempotent_method_is_retried(method, status):
    assert RetryPolicy().should_retry_status(method, status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 500])
def test_client_errors_are_never_retried(status):
    assert not RetryPolicy().should_retry_status("GET", status)


def test_post_is_not_retried():
    assert not RetryPolicy().should_retry_status("POST", 503)
    assert not RetryPolicy().should_retry_exception("POST")


@pytest.mark.parametrize(
    "error",
    [requests.ConnectionError(), requests.Timeout(), requests.exceptions.ReadTimeout()],
)
def test_connection_failures_are_transient(error):
    assert is_transient_error(error)


@pytest.mark.parametrize(
    "error",
    [requests.exceptions.SSLError(), requests.exceptions.InvalidURL(), ValueError()],
)
def test_other_failures_are_not_transient(error):
    assert not is_transient_error(error)
