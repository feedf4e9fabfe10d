# The Liaison image: the bots, the bridge, and Synapse (a dependency of the package) with its
# workers, so that every Python process of the deployment runs the same code.
FROM python:3.11.13-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bots bots
COPY bridge bridge
COPY server-config server-config
COPY schemas schemas
# Synapse's PostgreSQL driver and Redis client: the workers need both.
RUN pip wheel --no-cache-dir --wheel-dir /wheels . "matrix-synapse[postgres,redis]"

FROM python:3.11.13-slim-bookworm
# pg_dump / pg_restore (liaison backup) of the same major version as the server (15).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels liaison \
      "matrix-synapse[postgres,redis]" && rm -rf /wheels
RUN useradd --system --uid 991 --home-dir /var/lib/liaison liaison \
 && mkdir -p /data /element /var/lib/liaison /backups \
 && chown liaison:liaison /data /element /var/lib/liaison /backups
COPY deploy/entrypoint.sh /usr/local/bin/liaison-entrypoint
USER liaison
WORKDIR /var/lib/liaison
ENTRYPOINT ["liaison-entrypoint"]
CMD ["liaison", "--help"]
