# The database image: the official postgres with pgBackRest (Debian's package) for continuous
# WAL archiving, base backups and point-in-time restore (docs/backups.md). The same image runs
# the db service and the backup service (the scheduler). Build context: the repository root.
ARG POSTGRES_IMAGE=postgres:17

# pgBackRest and jq (make backups reads `pgbackrest info --output=json`) from the image's own
# Debian release, pinned to the versions tested; apt refuses a version it does not have.
FROM ${POSTGRES_IMAGE} AS pgbackrest
ARG PGBACKREST_VERSION=2.55.1-1
ARG JQ_VERSION=1.7.1-6+deb13u4
USER root
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update \
    && apt-get install -y --no-install-recommends \
       "pgbackrest=${PGBACKREST_VERSION}" "jq=${JQ_VERSION}" "libjq1=${JQ_VERSION}" \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o postgres -g postgres -m 0750 /var/lib/pgbackrest

FROM pgbackrest AS runtime
COPY --chmod=755 docker/pgbackrest-env docker/backup /usr/local/bin/
# Runs as compose.yaml says (user: postgres); the entrypoint and CMD are postgres's own.
USER postgres
