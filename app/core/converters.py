"""URL converters."""

from django.urls import register_converter

ID_MAX = 2**63 - 1  # PostgreSQL bigint


class IdConverter:
    """A database id: 1 to 2**63 - 1. Anything else (negative, zero, too large for bigint, not a
    number) does not match the route, so it is a 404, never a database error."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= ID_MAX:
            raise ValueError(f"not a database id: {value}")
        return number

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")
