"""Pro Santé Connect login, pure: what the provider's answers mean (tokens, a pending CIBA
request, poll errors), when a token is stale or due for a keep-alive renewal, and the mailbox
configuration that asks for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.oauth import (
    MARGIN,
    ProviderError,
    Refused,
    Tokens,
    discovered,
    pending_from,
    poll_error,
    tokens_from,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HINT = "899700012345"


def test_a_token_answer_gives_tokens_and_a_refresh_without_rotation_keeps_the_old_one():
    first = tokens_from({"access_token": "a1", "token_type": "Bearer", "expires_in": 120,
                         "refresh_token": "r1", "refresh_expires_in": 1800}, HINT, NOW)
    assert first == Tokens("a1", NOW + timedelta(seconds=120), "r1",
                           NOW + timedelta(seconds=1800), HINT, NOW)
    later = NOW + timedelta(seconds=100)
    kept = tokens_from({"access_token": "a2", "token_type": "bearer", "expires_in": 120},
                       HINT, later, previous=first)
    assert (kept.access_token, kept.refresh_token, kept.refresh_expires_at) == \
        ("a2", "r1", first.refresh_expires_at)
    rotated = tokens_from({"access_token": "a3", "token_type": "Bearer", "expires_in": 120,
                           "refresh_token": "r2"}, HINT, later, previous=first)
    assert (rotated.refresh_token, rotated.refresh_expires_at) == ("r2", None)
    assert Tokens.from_dict(first.to_dict()) == first
    assert Tokens.from_dict(kept.to_dict()) == kept


@pytest.mark.parametrize("body", [
    None, [], {"token_type": "Bearer"}, {"access_token": "a", "token_type": "mac"},
    {"access_token": 5, "token_type": "Bearer"}])
def test_an_answer_without_a_bearer_token_is_the_providers_fault(body):
    with pytest.raises(ProviderError):
        tokens_from(body, HINT, NOW)


def test_a_token_is_renewed_before_it_ends_and_kept_alive_half_way_through_its_session():
    tokens = tokens_from({"access_token": "a", "token_type": "Bearer", "expires_in": 120,
                          "refresh_token": "r", "refresh_expires_in": 1800}, HINT, NOW)
    assert tokens.fresh(NOW)
    assert tokens.fresh(tokens.expires_at - MARGIN - timedelta(seconds=1))
    assert not tokens.fresh(tokens.expires_at - MARGIN)
    assert tokens.renew_at() == NOW + timedelta(seconds=900)
    # A refresh token shorter-lived than the access token is renewed in time all the same.
    assert tokens_from({"access_token": "a", "token_type": "Bearer", "expires_in": 300,
                        "refresh_token": "r", "refresh_expires_in": 60}, HINT, NOW) \
        .renew_at() == NOW + timedelta(seconds=30)
    # No idle limit said, or no refresh token: nothing to keep alive.
    assert tokens_from({"access_token": "a", "token_type": "Bearer", "refresh_token": "r"},
                       HINT, NOW).renew_at() is None
    assert tokens_from({"access_token": "a", "token_type": "Bearer"}, HINT, NOW) \
        .renew_at() is None
    # A missing or nonsensical lifetime counts as one minute, never as forever.
    assert tokens_from({"access_token": "a", "token_type": "Bearer", "expires_in": -5},
                       HINT, NOW).expires_at == NOW + timedelta(seconds=60)


def test_a_ciba_request_and_what_each_poll_error_means():
    pending = pending_from({"auth_req_id": "req-1", "expires_in": 300, "interval": 2}, HINT,
                           "LIAISON-1234", NOW)
    assert (pending.auth_req_id, pending.interval, pending.expires_at) == \
        ("req-1", 2.0, NOW + timedelta(seconds=300))
    assert pending_from({"auth_req_id": "r"}, HINT, "c", NOW).interval == 5.0  # CIBA default
    with pytest.raises(ProviderError):
        pending_from({"expires_in": 300}, HINT, "c", NOW)
    assert poll_error({"error": "authorization_pending"}) == "pending"
    assert poll_error({"error": "slow_down"}) == "slow_down"
    for code in ("access_denied", "expired_token", "invalid_grant"):
        with pytest.raises(Refused) as refused:
            poll_error({"error": code, "error_description": "non"})
        assert refused.value.code == code
    with pytest.raises(ProviderError):
        poll_error("<html>502</html>")


def test_a_discovery_document_is_taken_only_from_the_configured_issuer():
    issuer = "https://auth.esante.gouv.fr/auth/realms/esante-wallet"
    document = {"issuer": issuer, "token_endpoint": f"{issuer}/token"}
    assert discovered(document, issuer) == document
    assert discovered(document, issuer + "/") == document  # the URL as configured
    for other in ({**document, "issuer": "https://evil.example/realms/esante-wallet"},
                  {**document, "issuer": issuer + "-test"},
                  {k: v for k, v in document.items() if k != "issuer"}, [document]):
        with pytest.raises(ProviderError, match="issuer|JSON"):
            discovered(other, issuer)
