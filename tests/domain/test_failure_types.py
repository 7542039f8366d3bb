"""The failure-type list the CLI checks input against is the SDK's own enum."""

from dunetrace._enums import FailureType

from dunetrace_cli.domain import failure_types as ft


def test_the_static_list_is_the_installed_sdks_enum() -> None:
    assert ft.SDK_FAILURE_TYPES == tuple(member.value for member in FailureType)


def test_every_detector_in_the_reference_is_known() -> None:
    from dunetrace_cli.knowledge.detectors import DETECTORS

    assert set(DETECTORS) <= ft.KNOWN


def test_suggestions_find_the_near_name() -> None:
    assert ft.suggestions("RETRY_STROM")[0] == "RETRY_STORM"
    assert ft.is_known("custom_pii_leak") and not ft.is_known("CUSTOM_")
