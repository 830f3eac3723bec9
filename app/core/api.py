"""The API's plumbing: a JSON-only body parser, problem responses in the OpenAPI schema, and
the system endpoints (info, hello)."""

import asyncio
import platform
import socket
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import django
from django.conf import settings
from django.http import HttpRequest
from ninja import NinjaAPI, Router, Schema
from ninja.errors import HttpError
from ninja.params import ParamShortcut
from ninja.params.functions import Query
from ninja.params.models import Body, BodyModel
from ninja.parser import Parser
from pydantic import Field

import config
from core import selectors
from core.problems import CONTENT_TYPE, UnsupportedMediaType


class JsonParser(Parser):
    """Request bodies must be JSON: `application/json` or a `+json` type, else 415."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        media_type = (request.content_type or "").lower()
        if media_type != "application/json" and not (
            media_type.startswith("application/") and media_type.endswith("+json")
        ):
            raise UnsupportedMediaType(
                f"The request body must be application/json, not {media_type or 'unspecified'}."
            )
        return super().parse_body(request)


class JsonBodyModel(BodyModel):
    """A request body that must be a JSON document, even an empty one. Ninja skips the parser
    for an empty body and validates "no body" instead (a 422 "Field required", or an empty
    PATCH that changes nothing): an empty body is not JSON, so it goes through the parser like
    any other, and is a 400 (or a 415 when its Content-Type is not JSON)."""

    @classmethod
    def get_request_data(cls, request: HttpRequest, api: NinjaAPI, path_params: Any) -> Any:
        if not request.body:
            try:
                api.parser.parse_body(request)
            except Exception as exc:
                raise HttpError(400, "Cannot parse request body") from exc
        return super().get_request_data(request, api, path_params)


class JsonBodyParam(Body):  # type: ignore[misc]
    _model = JsonBodyModel

    @classmethod
    def _param_source(cls) -> str:
        return "body"  # the OpenAPI location (ninja derives it from the class name)


# An operation's body parameter, `payload: JsonBody[Schema]`: every body the API reads is declared
# so (tests/unit/test_items_api.py checks each operation). Written as ninja writes `Body[...]`.
if TYPE_CHECKING:
    T = TypeVar("T")
    JsonBody = Annotated[T, JsonBodyParam(...)]
else:
    JsonBody = ParamShortcut(lambda: JsonBodyParam(...))


class ProblemNinjaAPI(NinjaAPI):
    """Documents error responses as application/problem+json, which is what they are, and
    reads as public while they are."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                # Reads accept the same credentials, and none while reads are public: `{}` is
                # OpenAPI's "no credentials needed" (accounts.auth.READ).
                security = operation.get("security")
                if security and method == "get" and settings.API_PUBLIC_READS:
                    security.insert(0, {})
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content")
                    if int(status) >= 400 and content and "application/json" in content:
                        response["content"] = {CONTENT_TYPE: content.pop("application/json")}
        return schema


class Problem(Schema):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None


def problems(*statuses: int) -> dict[int, type[Problem]]:
    return dict.fromkeys(statuses, Problem)


router = Router(tags=["system"])


class Versions(Schema):
    app: str
    django: str
    python: str
    postgresql: str | None = Field(description="null while the database is unreachable")


class Client(Schema):
    address: str | None
    scheme: str


class Info(Schema):
    asgi_server: str
    instance: str = Field(description="host name of the app container that answered")
    versions: Versions
    client: Client


class Hello(Schema):
    message: str


@router.get("/info", response={200: Info}, summary="The running server, versions and client")
async def info(request: HttpRequest) -> dict[str, Any]:
    return {
        "asgi_server": settings.ASGI_SERVER,
        "instance": socket.gethostname(),
        "versions": {
            "app": config.__version__,
            "django": django.get_version(),
            "python": platform.python_version(),
            "postgresql": await selectors.database_version_or_none(),
        },
        "client": {"address": request.META.get("REMOTE_ADDR"), "scheme": request.scheme},
    }


@router.get(
    "/hello", response={200: Hello, **problems(400)}, summary="Sleep asynchronously, then greet"
)
async def hello(
    request: HttpRequest,
    delay: float = Query(1.0, ge=0, le=10, allow_inf_nan=False, description="seconds, 0 to 10"),
) -> dict[str, str]:
    await asyncio.sleep(delay)
    return {"message": "Hello, World!"}
