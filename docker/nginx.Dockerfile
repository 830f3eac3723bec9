# The nginx image: the official nginx with this project's configuration and Django's collected
# static files baked in. Build context: the repository root.
ARG PYTHON_IMAGE=python:3.13-slim
ARG NGINX_IMAGE=nginx:1.30

# The same steps as app.Dockerfile's builder, so BuildKit reuses that cached layer.
FROM ${PYTHON_IMAGE} AS static
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN --mount=type=cache,target=/root/.cache/pip pip install uv==0.13.8
WORKDIR /src
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    uv sync --locked --no-dev --no-install-project --python /usr/local/bin/python3
COPY app/ /src/app/
RUN SECRET_KEY=collectstatic-only POSTGRES_HOST=- POSTGRES_DB=- POSTGRES_USER=- \
    POSTGRES_PASSWORD=collectstatic-only STATIC_ROOT=/srv/static \
    /opt/venv/bin/python app/manage.py collectstatic --noinput -v 0

FROM ${NGINX_IMAGE} AS nginx
RUN rm -f /etc/nginx/conf.d/default.conf
COPY nginx/nginx.conf /etc/nginx/nginx.conf
COPY nginx/conf.d/ /etc/nginx/conf.d/
COPY nginx/snippets/ /etc/nginx/snippets/
COPY nginx/errors/ /usr/share/nginx/_errors/
COPY --chmod=755 nginx/watch-upstream.sh /docker-entrypoint.d/40-watch-upstream.sh
COPY --from=static /srv/static/ /usr/share/nginx/static/
EXPOSE 8080
