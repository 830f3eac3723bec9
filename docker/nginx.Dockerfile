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
# The configuration's tunables and their defaults, for production. The image's entrypoint
# renders /etc/nginx/templates/*.template into /etc/nginx/conf.d with them (a tmpfs in
# compose.yaml: the root filesystem is read-only), substituting only NGINX_* variables.
#   NGINX_API_RATE           sustained request rate per client address on /api/, /bench/, /ws/
#   NGINX_API_BURST          requests above that rate accepted at once (past it: 429)
#   NGINX_API_BURST_NODELAY  of those, how many are served without being slowed to the rate
#   NGINX_API_CONNECTIONS    requests in progress at once per client address on /api/, /bench/
#   NGINX_WS_CONNECTIONS     open WebSockets per client address on /ws/
#   NGINX_LOGIN_RATE         POSTs to /admin/login/ per client address
#   NGINX_LOGIN_BURST        login POSTs accepted at once above that rate
#   NGINX_LIMITS             on, or off to lift every limit above (benchmarks only)
#   NGINX_CLIENT_TIMEOUT     longest pause while a client sends its headers or body
#   NGINX_TLS                off, or on: HTTPS on 8443, HTTP redirecting (compose.tls.yaml)
#   NGINX_HSTS_SECONDS       HSTS max-age on HTTPS responses
#   NGINX_HSTS_INCLUDE_SUBDOMAINS, NGINX_HSTS_PRELOAD  HSTS flags, off unless true (hsts.envsh)
#   NGINX_ACCESS_LOG         the access_log directive's arguments, or off
#   NGINX_UPSTREAM_KEEPALIVE idle connections to the app kept open per nginx worker
#   NGINX_WORKER_PROCESSES   worker processes (auto: one per CPU)
#   NGINX_WORKER_RLIMIT_NOFILE  file descriptors per worker (within the container's limit)
ENV NGINX_API_RATE=100r/s \
    NGINX_API_BURST=400 \
    NGINX_API_BURST_NODELAY=200 \
    NGINX_API_CONNECTIONS=512 \
    NGINX_WS_CONNECTIONS=64 \
    NGINX_LOGIN_RATE=6r/m \
    NGINX_LOGIN_BURST=5 \
    NGINX_LIMITS=on \
    NGINX_CLIENT_TIMEOUT=10s \
    NGINX_TLS=off \
    NGINX_HSTS_SECONDS=3600 \
    NGINX_HSTS_INCLUDE_SUBDOMAINS=false \
    NGINX_HSTS_PRELOAD=false \
    NGINX_ACCESS_LOG="/dev/stdout main" \
    NGINX_UPSTREAM_KEEPALIVE=64 \
    NGINX_WORKER_PROCESSES=auto \
    NGINX_WORKER_RLIMIT_NOFILE=20000 \
    NGINX_ENVSUBST_FILTER=^NGINX_
# conf.d is nginx's own: stack.yaml mounts a volume there, which starts with this owner.
RUN rm -f /etc/nginx/conf.d/default.conf && chown 101:101 /etc/nginx/conf.d
COPY nginx/nginx.conf /etc/nginx/nginx.conf
COPY nginx/templates/ /etc/nginx/templates/
COPY nginx/sites/ /etc/nginx/sites/
COPY nginx/snippets/ /etc/nginx/snippets/
COPY nginx/errors/ /usr/share/nginx/_errors/
COPY --chmod=755 nginx/hsts.envsh /docker-entrypoint.d/19-hsts.envsh
COPY --chmod=755 nginx/upstream-servers.sh /usr/local/bin/upstream-servers
COPY --chmod=755 nginx/watch-upstream.sh /docker-entrypoint.d/40-watch-upstream.sh
COPY --from=static /srv/static/ /usr/share/nginx/static/
# The image's nginx user (101 in the official and Debian images) runs everything, master
# included: it binds only ports above 1024 and writes only to its tmpfs.
USER 101:101
EXPOSE 8080 8443
