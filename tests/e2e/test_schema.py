"""Property-based: schemathesis generates requests from the OpenAPI schema, valid and invalid,
and checks every answer against it: no 5xx, documented status codes and content types, bodies
that match their schemas. Bounded by SCHEMA_EXAMPLES per operation.

/api/hello is left out: it sleeps for its `delay`, up to 10 s a request; its parameter is
covered by explicit tests.
"""

import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.e2e.conftest import BASE_URL

EXAMPLES = int(os.environ.get("SCHEMA_EXAMPLES", "40"))

schema = schemathesis.openapi.from_url(f"{BASE_URL}/api/openapi.json", wait_for_schema=30)


@schema.exclude(path="/api/hello").parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_api_conforms_to_its_schema(case: Any) -> None:
    case.call_and_validate(
        base_url=BASE_URL,
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
            checks.response_headers_conformance,
        ],
    )
