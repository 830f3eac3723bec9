from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, field_validator

from items.models import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH


def _storable(value: str) -> str:
    """PostgreSQL text holds no NUL character and no lone surrogate: refuse them here, with a
    422, rather than fail in the database."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=NAME_MAX_LENGTH),
    AfterValidator(_storable),
    AfterValidator(_not_blank),
]
Description = Annotated[
    str, StringConstraints(max_length=DESCRIPTION_MAX_LENGTH), AfterValidator(_storable)
]


class ItemIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description=f"1 to {NAME_MAX_LENGTH} characters, not blank")
    description: Description = Field("", description=f"at most {DESCRIPTION_MAX_LENGTH} characters")


class ItemPatch(Schema):
    """Only the fields given change; null is not a value."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(None, description=f"1 to {NAME_MAX_LENGTH} characters, not blank")
    description: Description | None = Field(
        None, description=f"at most {DESCRIPTION_MAX_LENGTH} characters"
    )

    @field_validator("name", "description", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null; leave the field out to keep it")
        return value


class ItemOut(Schema):
    id: int
    name: str
    description: str
    created_at: datetime
    updated_at: datetime


class ItemPage(Schema):
    items: list[ItemOut]
    next: str | None = Field(description="URL of the next page; null on the last page")
