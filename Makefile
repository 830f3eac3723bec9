# The user's entry point: `make help` lists every target.
ASGI_SERVER ?= $(or $(shell sed -n 's/^ASGI_SERVER=//p' .env 2>/dev/null),uvicorn)
COMPOSE ?= docker compose
FORCE ?=
export ASGI_SERVER

.DEFAULT_GOAL := help

.PHONY: help  ## List the targets
help:
	@grep -E '^\.PHONY: [a-z-]+ +## ' $(MAKEFILE_LIST) | sed -E 's/^\.PHONY: ([a-z-]+) +## (.*)/  make \1\t\2/' | expand -t 18

.env:
	@umask 077 && sed \
	  -e "s|^SECRET_KEY=.*|SECRET_KEY=$$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 64)|" \
	  -e "s|^POSTGRES_PASSWORD=.*|POSTGRES_PASSWORD=$$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)|" \
	  .env.example > .env
	@echo "wrote .env with fresh secrets (mode 600; never commit it)"

.PHONY: up  ## Build, start and wait until healthy; prints the URL (ASGI_SERVER=uvicorn|daphne)
# Two steps, so that switching ASGI_SERVER recreates the app container only (one `up` would
# recreate nginx too, as it depends on app); the reload makes nginx resolve `app` again.
up: .env
	$(COMPOSE) up --detach --build --wait --wait-timeout 300 --remove-orphans app
	$(COMPOSE) up --detach --build --wait --wait-timeout 60 nginx
	$(COMPOSE) exec nginx nginx -s reload
	@echo "Stack is up: http://$$($(COMPOSE) port nginx 8080)/  (ASGI server: $(ASGI_SERVER))"

.PHONY: down  ## Stop and remove the containers; the database volume is kept
down:
	$(COMPOSE) down --remove-orphans

.PHONY: restart  ## Restart the app and nginx
restart:
	$(COMPOSE) restart app nginx

.PHONY: logs  ## Follow the logs of every service
logs:
	$(COMPOSE) logs --follow --tail 100

.PHONY: ps  ## Show the services and their health
ps:
	$(COMPOSE) ps --all

.PHONY: shell  ## Django shell in the running app container
shell:
	$(COMPOSE) exec app python manage.py shell

.PHONY: dbshell  ## psql in the running database container
dbshell:
	$(COMPOSE) exec db sh -c 'psql -U "$$POSTGRES_USER" -d "$$POSTGRES_DB"'

.PHONY: superuser  ## Create an admin account: asks, or takes DJANGO_SUPERUSER_USERNAME/_EMAIL/_PASSWORD
superuser:
	@if [ -n "$$DJANGO_SUPERUSER_PASSWORD" ]; then \
	  $(COMPOSE) exec -e DJANGO_SUPERUSER_USERNAME -e DJANGO_SUPERUSER_EMAIL \
	    -e DJANGO_SUPERUSER_PASSWORD app python manage.py createsuperuser --noinput; \
	else \
	  $(COMPOSE) exec app python manage.py createsuperuser; \
	fi

.PHONY: migrate  ## Apply database migrations (the stack runs them at start too)
migrate: .env
	$(COMPOSE) run --rm --build migrate

.PHONY: dev  ## Run in the foreground with ./app mounted and auto-reload (uvicorn), DEBUG on
dev: .env
	$(COMPOSE) -f compose.yaml -f compose.dev.yaml up --build --remove-orphans

.PHONY: lint  ## ruff, mypy, makemigrations --check, nginx -t, compose config (in containers)
lint:
	bash tests/run lint

.PHONY: test  ## Every test in containers: lint, in-image tests, e2e under uvicorn and daphne
test:
	bash tests/run all

.PHONY: bench  ## Benchmark every contender (about 9 min); BENCH_DURATION, BENCH_RUNS, BENCH_ONLY narrow it
bench:
	bash bench/run

.PHONY: soak  ## Soak through nginx (5 min): zero errors, flat memory; SOAK_DURATION, SOAK_RATE
soak:
	bash tests/soak/run

.PHONY: clean  ## Remove containers, images AND the database volume (asks first; FORCE=1 skips)
clean:
	@if [ "$(FORCE)" != 1 ]; then \
	  printf 'This deletes the database volume and every row in it. Type "yes" to go on: '; \
	  read answer; [ "$$answer" = yes ] || { echo "cancelled"; exit 1; }; \
	fi
	$(COMPOSE) down --volumes --remove-orphans --rmi local
	@echo "removed the containers, the local images and the database volume"
