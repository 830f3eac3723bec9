# The user's entry point: `make help` lists every target.
ASGI_SERVER ?= $(or $(shell sed -n 's/^ASGI_SERVER=//p' .env 2>/dev/null),uvicorn)
TLS ?=
NGINX_IMAGE ?= $(or $(shell sed -n 's/^NGINX_IMAGE=//p' .env 2>/dev/null),nginx:1.30)
BACKUP_REPO ?= $(or $(shell sed -n 's/^BACKUP_REPO=//p' .env 2>/dev/null),local)
# TLS=1 adds compose.tls.yaml; a bucket as the backup location (BACKUP_REPO=s3://...),
# compose.s3.yaml (its network out).
COMPOSE_FILES := $(if $(filter 1,$(TLS)),compose.tls.yaml) $(if $(filter s3://%,$(BACKUP_REPO)),compose.s3.yaml)
COMPOSE ?= docker compose $(if $(strip $(COMPOSE_FILES)),-f compose.yaml $(addprefix -f ,$(COMPOSE_FILES)))
FORCE ?=
# SWARM=1: the operational targets (token, tokens, token-revoke, superuser, shell, dbshell,
# logs, ps) act on the swarm stack (make swarm-up) instead of the Compose one.
SWARM ?=
export ASGI_SERVER

.DEFAULT_GOAL := help

.PHONY: help  ## List the targets
help:
	@grep -E '^\.PHONY: [a-z-]+ +## ' $(MAKEFILE_LIST) | sed -E 's/^\.PHONY: ([a-z-]+) +## (.*)/  make \1\t\2/' | expand -t 20

# The secrets, as files under secrets/ (0700): written once, never overwritten, never committed.
SECRETS_DIR ?= secrets
export SECRETS_DIR
.PHONY: secrets  ## Write secrets/ (SECRET_KEY, database password) when missing; make up does it
secrets:
	@bash docker/secrets $(SECRETS_DIR) .env

.PHONY: up  ## Build, start and wait until healthy; prints the URL (ASGI_SERVER=uvicorn|daphne, TLS=1)
# Two steps, so that switching ASGI_SERVER recreates the app container only (one `up` would
# recreate nginx too, as it depends on app); then nginx resolves `app` again and reloads
# (nginx/upstream-servers.sh).
# When the database refuses (a new secrets/ against an old volume, say), the migrate service's
# one-line reason (manage.py checkdb) is repeated at the end.
up: secrets $(if $(filter 1,$(TLS)),tls/cert.pem)
	$(COMPOSE) up --detach --build --wait --wait-timeout 300 --remove-orphans app backup \
	  || { $(COMPOSE) logs --no-log-prefix migrate 2>/dev/null | grep -m 1 -o 'database error: .*' >&2; exit 1; }
	$(COMPOSE) up --detach --build --wait --wait-timeout 60 nginx
	$(COMPOSE) exec nginx upstream-servers reload
	@echo "Stack is up: $(if $(filter 1,$(TLS)),https://$$($(COMPOSE) port nginx 8443),http://$$($(COMPOSE) port nginx 8080))/  (ASGI server: $(ASGI_SERVER))"

# TLS=1: a self-signed certificate for localhost and 127.0.0.1, made once (docker/tls-cert).
tls/cert.pem:
	@bash docker/tls-cert tls "$(NGINX_IMAGE)"

.PHONY: deploy  ## Rebuild the app and replace it, one container at a time, with no failed request (APP_REPLICAS=2)
deploy: secrets
	APP_REPLICAS=$(or $(APP_REPLICAS),2) COMPOSE="$(COMPOSE)" bash docker/deploy

.PHONY: down  ## Stop and remove the containers; the database volume is kept
down:
	$(COMPOSE) down --remove-orphans

.PHONY: restart  ## Restart the app and nginx
restart:
	$(COMPOSE) restart app nginx

.PHONY: logs  ## Follow the logs of every service
logs:
	$(if $(filter 1,$(SWARM)),bash docker/swarm/ops logs,$(COMPOSE) logs --follow --tail 100)

.PHONY: ps  ## Show the services and their health
ps:
	$(if $(filter 1,$(SWARM)),bash docker/swarm/ops ps,$(COMPOSE) ps --all)

.PHONY: shell  ## Django shell in the running app container
shell:
	$(if $(filter 1,$(SWARM)),bash docker/swarm/ops shell,$(COMPOSE) exec app python manage.py shell)

.PHONY: dbshell  ## psql in the running database container
dbshell:
	$(if $(filter 1,$(SWARM)),bash docker/swarm/ops dbshell,$(COMPOSE) exec db sh -c 'psql -U "$$POSTGRES_USER" -d "$$POSTGRES_DB"')

.PHONY: superuser  ## Create an admin account: asks, or takes DJANGO_SUPERUSER_USERNAME/_EMAIL/_PASSWORD
superuser:
	@if [ "$(SWARM)" = 1 ]; then bash docker/swarm/ops superuser; exit; fi; \
	if [ -n "$$DJANGO_SUPERUSER_PASSWORD" ]; then \
	  $(COMPOSE) exec -e DJANGO_SUPERUSER_USERNAME -e DJANGO_SUPERUSER_EMAIL \
	    -e DJANGO_SUPERUSER_PASSWORD app python manage.py createsuperuser --noinput; \
	else \
	  $(COMPOSE) exec app python manage.py createsuperuser; \
	fi

NAME ?=
.PHONY: token  ## Make an API token named NAME and print it, once: TOKEN=$(make -s token NAME=ci)
token:
	@$(if $(filter 1,$(SWARM)),bash docker/swarm/ops token,$(COMPOSE) exec -T app python manage.py token create) $(if $(NAME),"$(NAME)",$(error NAME is required: make token NAME=ci))

.PHONY: token-revoke  ## Revoke the API token named NAME (the admin lists and revokes them too)
token-revoke:
	@$(if $(filter 1,$(SWARM)),bash docker/swarm/ops token-revoke,$(COMPOSE) exec -T app python manage.py token revoke) $(if $(NAME),"$(NAME)",$(error NAME is required: make token-revoke NAME=ci))

.PHONY: tokens  ## List the API tokens: name, key id, created, last used, revoked
tokens:
	@$(if $(filter 1,$(SWARM)),bash docker/swarm/ops tokens,$(COMPOSE) exec -T app python manage.py token list)

.PHONY: migrate  ## Apply database migrations (the stack runs them at start too)
migrate: secrets
	$(COMPOSE) run --rm --build migrate

.PHONY: dev  ## Run in the foreground with ./app mounted and auto-reload (uvicorn), DEBUG on
dev: secrets
	$(COMPOSE) -f compose.yaml -f compose.dev.yaml up --build --remove-orphans

# Docker Swarm (docs/swarm.md): the same stack from stack.yaml, on the swarm this engine is in.
.PHONY: swarm-up  ## Deploy to this engine's swarm (made if none): migrations first, wait healthy (REGISTRY=, APP_REPLICAS=2)
swarm-up:
	bash docker/swarm/up

.PHONY: swarm-update  ## Rolling update of the app on the swarm: start-first, rolled back when unhealthy
swarm-update:
	bash docker/swarm/up update

.PHONY: swarm-down  ## Remove the swarm stack, volumes kept; leaves a swarm only if swarm-up made it
swarm-down:
	bash docker/swarm/down

.PHONY: lint  ## ruff, mypy, makemigrations --check, the docs check, nginx -t, compose config (in containers)
lint:
	bash tests/run lint

.PHONY: test  ## Every test in containers: lint, in-image tests, e2e under uvicorn and daphne
test:
	bash tests/run all

.PHONY: test-faults  ## Fault tests: database outage, crashes, writes under faults, deploy, persistence
test-faults:
	bash tests/run faults

.PHONY: test-swarm  ## The stack on a throwaway three-node swarm (Docker-in-Docker): deploy, update, rollback, node loss
test-swarm:
	bash tests/swarm/run

.PHONY: bench  ## Benchmark every contender (about 20 min); BENCH_DURATION, BENCH_RUNS, BENCH_ONLY narrow it
bench:
	bash bench/run

.PHONY: bench-events  ## Measure the event stream: subscribers x rates, reconnect storm, writes (~30 min; BENCH_EVENTS_QUICK=1: ~5)
bench-events:
	bash bench/run-events

.PHONY: soak  ## Soak through nginx (5 min): zero errors, flat memory; SOAK_DURATION, SOAK_RATE
soak:
	bash tests/soak/run

.PHONY: backup  ## A full backup now (pgBackRest): its label, size and the time it took
backup:
	@$(COMPOSE) exec -T db backup now

.PHONY: backups  ## The backups, the window a restore can reach, the last WAL archived and any failure
backups:
	@$(COMPOSE) exec -T db backup list

TARGET_TIME ?=
BACKUP_LABEL ?=
.PHONY: restore  ## Restore to the newest moment, TARGET_TIME="2026-12-01 10:15:00+00" or BACKUP_LABEL (asks; FORCE=1)
restore: secrets
	@COMPOSE="$(COMPOSE)" FORCE="$(FORCE)" TARGET_TIME="$(TARGET_TIME)" BACKUP_LABEL="$(BACKUP_LABEL)" bash docker/restore

FILE ?=
.PHONY: dump  ## A logical pg_dump (custom format) to dumps/ (or FILE=...), to move data between machines
dump:
	@COMPOSE="$(COMPOSE)" FILE="$(FILE)" bash docker/dump

.PHONY: load  ## Load a make dump FILE=... into the database; refuses one holding rows unless FORCE=1
load:
	@COMPOSE="$(COMPOSE)" FILE="$(FILE)" FORCE="$(FORCE)" bash docker/load

.PHONY: bench-backup  ## Measure backups: base backup and restore at 100k and 1M items, RPO, archiving cost (~20 min)
bench-backup:
	bash bench/run-backup

.PHONY: clean  ## Remove containers, images AND the database and backups volumes (asks first; FORCE=1 skips)
clean:
	@if [ "$(FORCE)" != 1 ]; then \
	  printf 'This deletes the database volume and every row in it, and the backups volume. Type "yes" to go on: '; \
	  read answer; [ "$$answer" = yes ] || { echo "cancelled"; exit 1; }; \
	fi
	$(COMPOSE) down --volumes --remove-orphans --rmi local
	@echo "removed the containers, the local images, the database volume and the backups volume"
