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
from schemathesis import GenerationMode, checks

from tests.e2e.conftest import AUTHORIZATION, BASE_URL

EXAMPLES = int(os.environ.get("SCHEMA_EXAMPLES", "40"))

schema = schemathesis.openapi.from_url(f"{BASE_URL}/api/openapi.json", wait_for_schema=30)
# Valid requests, and requests that break the schema on purpose (which must be 4xx, not 5xx).
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


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
        headers=AUTHORIZATION,  # as an API client with a token: writes reach their validation
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
            checks.response_headers_conformance,
            checks.negative_data_rejection,
        ],
    )
