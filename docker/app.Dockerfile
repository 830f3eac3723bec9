# The app image: builder (locked dependencies in a venv), runtime (slim, non-root), test
# (runtime plus the test and lint tools). Build context: the repository root.
ARG PYTHON_IMAGE=python:3.13-slim

FROM ${PYTHON_IMAGE} AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN --mount=type=cache,target=/root/.cache/pip pip install uv==0.13.8
WORKDIR /src
# Only the lock file and pyproject.toml reach this layer: a code change never reinstalls.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    uv sync --locked --no-dev --no-install-project --python /usr/local/bin/python3
# Not needed at run time: Twisted's and zope's own test suites, translation sources (Django
# reads the compiled .mo files). About 35 MB.
RUN cd /opt/venv/lib/python3.13/site-packages \
    && find twisted zope -depth -type d \( -name test -o -name tests \) -exec rm -rf {} + \
    && find . -name '*.po' -delete

FROM builder AS test-builder
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    uv sync --locked --all-groups --no-install-project --python /usr/local/bin/python3

FROM builder AS bench-builder
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    uv sync --locked --no-dev --group bench --no-install-project --python /usr/local/bin/python3

FROM ${PYTHON_IMAGE} AS base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    STATIC_ROOT=/srv/static
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app
COPY --chmod=755 docker/serve docker/healthcheck /usr/local/bin/
WORKDIR /app
EXPOSE 8000
STOPSIGNAL SIGTERM
CMD ["serve"]

# The manifest of hashed static names is needed at run time ({% static %}); nginx serves the
# files themselves, so the app image gets the manifest alone. Throwaway values: collectstatic
# reads no secret.
FROM builder AS static-manifest
COPY app/ /src/app/
RUN SECRET_KEY=collectstatic-only POSTGRES_HOST=- POSTGRES_DB=- POSTGRES_USER=- \
    POSTGRES_PASSWORD=collectstatic-only STATIC_ROOT=/srv/static \
    /opt/venv/bin/python app/manage.py collectstatic --noinput -v 0

# The packages' own static files (the admin's, the API docs') are collected above and served
# by nginx: the runtime venv leaves them out (10 MB).
FROM builder AS runtime-venv
RUN cd /opt/venv/lib/python3.13/site-packages \
    && find . -type d -name static -prune -exec rm -rf {} +

FROM base AS runtime
COPY --from=runtime-venv /opt/venv /opt/venv
COPY app/ /app/
COPY --from=static-manifest /srv/static/staticfiles.json /srv/static/staticfiles.json
USER app

# `make bench`: the app with the peers' servers (gunicorn) and the load generators (wrk; h2load,
# whose warm-up keeps its connections, for the 1,000-connection hello workload).
FROM base AS bench
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    apt-get update && apt-get install --yes --no-install-recommends wrk nghttp2-client
COPY --from=bench-builder /opt/venv /opt/venv
COPY app/ /app/
RUN SECRET_KEY=collectstatic-only POSTGRES_HOST=- POSTGRES_DB=- POSTGRES_USER=- \
    POSTGRES_PASSWORD=collectstatic-only python manage.py collectstatic --noinput -v 0
USER app

FROM base AS test
# The source tree is read-only for the test user: tool caches go to /tmp.
ENV RUFF_CACHE_DIR=/tmp/ruff MYPY_CACHE_DIR=/tmp/mypy HYPOTHESIS_STORAGE_DIRECTORY=/tmp/hypothesis
COPY --from=test-builder /opt/venv /opt/venv
COPY pyproject.toml /src/pyproject.toml
COPY app/ /src/app/
COPY tests/ /src/tests/
COPY bench/*.py /src/bench/
COPY docker/secrets /src/docker/secrets
# tests/swarm/test_stack_file.py compares the two stack files.
COPY compose.yaml stack.yaml /src/
WORKDIR /src
RUN SECRET_KEY=collectstatic-only POSTGRES_HOST=- POSTGRES_DB=- POSTGRES_USER=- \
    POSTGRES_PASSWORD=collectstatic-only python app/manage.py collectstatic --noinput -v 0
USER app
CMD ["pytest"]

# Browser tests (tests/browser): the test image plus Debian's Chromium, which Playwright drives
# through executable_path (Playwright's own browser downloads are not used).
FROM test AS browser
USER root
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    apt-get update && apt-get install --yes --no-install-recommends chromium fonts-dejavu-core
ENV BROWSER_EXECUTABLE=/usr/bin/chromium HOME=/tmp
USER app
CMD ["pytest", "-p", "no:django", "tests/browser"]
