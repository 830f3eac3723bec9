"""Rows that must survive `make down && make up` (tests/run faults):

python -m tests.faults.rows create NAME    # store an item named NAME
python -m tests.faults.rows check NAME     # exit 0 if it is stored, 1 if not
"""

import json
import os
import sys
from http import HTTPStatus

import httpx

BASE_URL = os.environ.get("E2E_BASE_URL", "http://nginx:8080")
# The token tests/run made for this stack (writes need one).
AUTHORIZATION = {"Authorization": f"Bearer {os.environ['E2E_TOKEN']}"}


def main(action: str, name: str) -> int:
    with httpx.Client(base_url=BASE_URL, timeout=30, headers=AUTHORIZATION) as http:
        if action == "create":
            response = http.post("/api/items", json={"name": name})
            print(f"rows: created {name!r}: {response.status_code}")
            return 0 if response.status_code == HTTPStatus.CREATED else 1
        export = http.get("/api/items/export")
        export.raise_for_status()
        names = {json.loads(line)["name"] for line in export.text.splitlines()}
        print(f"rows: {name!r} {'is' if name in names else 'is NOT'} stored")
        return 0 if name in names else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
