"""The API at /api/: routers from each domain, errors as problems (core.problems)."""

from ninja import NinjaAPI

import config
from core import problems
from core.api import JsonParser, ProblemNinjaAPI
from core.api import router as system_router
from items.api import router as items_router

api: NinjaAPI = ProblemNinjaAPI(
    title="Async Django stack",
    version=config.__version__,
    description="Async Django behind nginx. Every error is application/problem+json (RFC 9457).",
    parser=JsonParser(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
problems.install(api)
api.add_router("/", system_router)
api.add_router("/", items_router)
