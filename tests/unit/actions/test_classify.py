from __future__ import annotations

import errno

import pydantic
import pytest

from kflow.actions import Classified, classify
from kflow.errors import ErrorKind, StepFailure
from kflow.spec.durations import parse_duration


class Throttled(Exception):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (TimeoutError("slow"), ErrorKind.TIMEOUT),
        (ConnectionError("down"), ErrorKind.TRANSIENT),
        (ConnectionResetError("reset"), ErrorKind.TRANSIENT),
        (ConnectionRefusedError("refused"), ErrorKind.TRANSIENT),
        (BrokenPipeError("pipe"), ErrorKind.TRANSIENT),
        (MemoryError(), ErrorKind.RESOURCE),
        (OSError(errno.ENOSPC, "No space left on device"), ErrorKind.RESOURCE),
        (PermissionError("denied"), ErrorKind.SECURITY),
        (FileNotFoundError("gone"), ErrorKind.PERMANENT),
        (ValueError("bad"), ErrorKind.UNKNOWN),
        (TypeError("bad"), ErrorKind.UNKNOWN),
        (KeyError("k"), ErrorKind.UNKNOWN),
        (RuntimeError("boom"), ErrorKind.UNKNOWN),
        (OSError(errno.EIO, "I/O error"), ErrorKind.UNKNOWN),
    ],
)
def test_exceptions_map_to_the_seeds_error_classes(exc: BaseException, kind: ErrorKind) -> None:
    assert classify(exc).kind is kind


def test_the_message_is_the_type_name_and_the_text() -> None:
    result = classify(ValueError("bad thing"))
    assert result == Classified(
        kind=ErrorKind.UNKNOWN, message="ValueError: bad thing", type_name="ValueError"
    )
    assert result.retryable


def test_an_exception_without_text_is_named_by_its_type() -> None:
    assert classify(TimeoutError()).message == "TimeoutError"


def test_a_step_failure_keeps_its_kind_message_retry_after_and_details() -> None:
    failure = StepFailure("rate limited", "transient", retry_after=30, details="429")
    result = classify(failure)
    assert result.kind is ErrorKind.TRANSIENT
    assert result.message == "rate limited"
    assert result.retry_after == 30.0
    assert result.details == "429"
    assert result.type_name == "kflow.errors.StepFailure"


def test_a_permanent_step_failure_is_not_retryable() -> None:
    assert not classify(StepFailure("no such user", ErrorKind.PERMANENT)).retryable


def test_a_foreign_exception_with_retry_after_keeps_it() -> None:
    result = classify(Throttled("slow down", retry_after=2.5))
    assert result.retry_after == 2.5
    assert result.message == "Throttled: slow down"
    assert result.type_name.endswith("test_classify.Throttled")


def test_a_pydantic_validation_error_is_a_validation_failure() -> None:
    class Row(pydantic.BaseModel):
        n: int

    with pytest.raises(pydantic.ValidationError) as caught:
        Row.model_validate({"n": "x"})
    result = classify(caught.value)
    assert result.kind is ErrorKind.VALIDATION
    assert result.message.startswith("ValidationError: 1 validation error for Row")


def test_an_exception_group_has_a_class_only_when_all_inside_agree() -> None:
    same = ExceptionGroup("two", [TimeoutError("a"), TimeoutError("b")])
    mixed = ExceptionGroup("two", [TimeoutError("a"), ValueError("b")])
    assert classify(same).kind is ErrorKind.TIMEOUT
    assert classify(mixed).kind is ErrorKind.UNKNOWN


def test_the_traceback_is_included_only_when_asked() -> None:
    try:
        raise ValueError("deep inside")
    except ValueError as exc:
        caught = exc
    assert classify(caught).traceback is None
    text = classify(caught, with_traceback=True).traceback
    assert text is not None
    assert "Traceback (most recent call last)" in text
    assert "ValueError: deep inside" in text


def test_a_failure_inside_kflow_keeps_its_frames() -> None:
    try:
        parse_duration("a while")
    except ValueError as exc:
        caught = exc
    assert caught.__traceback__ is not None
    caught.__traceback__ = caught.__traceback__.tb_next  # as if kflow had called it
    text = classify(caught, with_traceback=True).traceback
    assert text is not None and "kflow/spec/durations.py" in text
