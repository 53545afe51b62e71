"""Exercise checks: right answers pass, wrong ones get a hint, and the answer is never shown."""

from __future__ import annotations

import pytest

from outage_kit import data, exercises, queueing


def _expected_servers():
    return queueing.servers_for_wait_tail(
        exercises.SIGNIN_ARRIVAL_RATE_PER_S,
        exercises.SIGNIN_SERVICE_RATE_PER_S,
        exercises.SIGNIN_MAX_WAIT_S,
        exercises.SIGNIN_MAX_PROBABILITY,
    )


CHECKS = [
    exercises.outage_duration_hours,
    exercises.unaffected_product,
    exercises.signin_servers,
    exercises.requests_in_system,
    exercises.pooling_choice,
]


@pytest.mark.parametrize("check", CHECKS)
def test_no_answer_yet_is_not_an_error(check):
    verdict = check(None)
    assert verdict.correct is None
    assert "None" in verdict.message


def test_duration_right_and_wrong():
    hours = (data.parameter("restoration_utc") - data.parameter("outage_start_utc")).total_seconds()
    assert exercises.outage_duration_hours(hours / 3600).correct is True
    press = exercises.outage_duration_hours(12)
    assert press.correct is False and "press" in press.message
    zone = exercises.outage_duration_hours(hours / 3600 - 7)
    assert zone.correct is False and "time-zone" in zone.message
    assert exercises.outage_duration_hours("15.5").correct is False


def test_unaffected_product():
    assert exercises.unaffected_product("skype_for_business").correct is True
    assert exercises.unaffected_product(" Skype_for_Business ").correct is True
    affected = exercises.unaffected_product("presence")
    assert affected.correct is False and "affected" in affected.message
    assert "not an id" in exercises.unaffected_product("lync").message
    early_only = exercises.unaffected_product("skype_for_web")
    assert early_only.correct is False and "part of the day" in early_only.message


def test_signin_servers_accepts_only_the_minimum():
    expected = _expected_servers()
    assert exercises.signin_servers(expected).correct is True
    assert exercises.signin_servers(float(expected)).correct is True
    too_many = exercises.signin_servers(expected + 1)
    too_few = exercises.signin_servers(expected - 1)
    assert too_many.correct is False and "fewest" in too_many.message
    assert too_few.correct is False and "target" in too_few.message
    unstable = exercises.signin_servers(10)
    assert "without bound" in unstable.message
    for verdict in (too_many, too_few, unstable):
        assert f"{expected} servers" not in verdict.message


def test_signin_servers_rejects_non_counts():
    assert "whole number" in exercises.signin_servers(20.5).message
    assert "whole number" in exercises.signin_servers(0).message
    assert exercises.signin_servers(True).correct is False
    assert exercises.signin_servers(float("nan")).correct is False


def test_requests_in_system():
    expected = exercises.STORM_ATTEMPT_RATE_PER_S * exercises.STORM_TIME_IN_SYSTEM_S
    assert exercises.requests_in_system(expected).correct is True
    divided = exercises.requests_in_system(
        exercises.STORM_ATTEMPT_RATE_PER_S / exercises.STORM_TIME_IN_SYSTEM_S
    )
    assert divided.correct is False and "divided" in divided.message
    assert f"{expected:,.0f}" not in divided.message and f"{expected:.0f}" not in divided.message


def test_pooling_choice():
    assert exercises.pooling_choice("Pooled").correct is True
    assert exercises.pooling_choice("separate").correct is False
    assert "'pooled' or 'separate'" in exercises.pooling_choice("both").message


def test_pooling_claim_holds_in_the_model():
    pooled = queueing.mmc_metrics(144.0, 10.0, 16)
    separate = queueing.mm1_metrics(9.0, 10.0)
    assert pooled.mean_wait_s < separate.mean_wait_s / 3


def test_verdict_renders_as_text_and_html():
    verdict = exercises.Verdict(False, "a <hint>")
    assert str(verdict) == "Not yet: a <hint>"
    assert "&lt;hint&gt;" in verdict._repr_html_()


# --- lesson 02 ---------------------------------------------------------------------------------

LESSON02_CHECKS = [
    exercises.storm_comes_back,
    exercises.storm_threshold,
    exercises.bottom_service_calls,
    exercises.fewest_calls_rule,
]


@pytest.mark.parametrize("check", LESSON02_CHECKS)
def test_lesson02_no_answer_yet_is_not_an_error(check):
    verdict = check(None)
    assert verdict.correct is None and "None" in verdict.message


def test_storm_comes_back():
    assert exercises.storm_comes_back("No").correct is True
    assert exercises.storm_comes_back("yes").correct is False
    assert "'yes' or 'no'" in exercises.storm_comes_back("perhaps").message


def test_storm_threshold():
    from outage_kit import retries

    expected = retries.storm_threshold_utilisation(exercises.THRESHOLD_ATTEMPTS)
    assert exercises.storm_threshold(expected).correct is True
    assert exercises.storm_threshold(round(expected, 2)).correct is True
    assert "per cent" in exercises.storm_threshold(100 * expected).message
    assert "one attempt more" in exercises.storm_threshold(0.25).message
    assert "first attempt counts" in exercises.storm_threshold(0.5).message
    wrong = exercises.storm_threshold(0.9)
    assert wrong.correct is False
    for verdict in (wrong, exercises.storm_threshold(0.25), exercises.storm_threshold(0.5)):
        assert "0.33" not in verdict.message and "33" not in verdict.message


def test_bottom_service_calls():
    assert exercises.bottom_service_calls(64).correct is True
    assert exercises.bottom_service_calls(64.0).correct is True
    assert "added" in exercises.bottom_service_calls(12).message
    assert "exponent" in exercises.bottom_service_calls(81).message
    assert "layers again" in exercises.bottom_service_calls(16).message
    assert "layers again" in exercises.bottom_service_calls(256).message
    for wrong in (12, 81, 16, 256, 10):
        assert "64" not in exercises.bottom_service_calls(wrong).message


def test_fewest_calls_rule():
    assert exercises.fewest_calls_rule("Full jitter").correct is True
    assert exercises.fewest_calls_rule("full").correct is True
    assert exercises.fewest_calls_rule("exponential, no jitter").correct is False
    assert exercises.fewest_calls_rule("equal jitter").correct is False
    assert "answer" in exercises.fewest_calls_rule("random").message
