#!/bin/sh
# Secrets come as files (/run/secrets/…). For each NAME_FILE=/path in the environment, NAME is
# exported with the file's lines joined by commas (LIAISON_DATA_KEYS: one key per line;
# PGPASSWORD: one line), so that no secret is ever written in compose.yaml.
set -eu
for var in $(env | sed -n 's/^\([A-Z][A-Z0-9_]*\)_FILE=.*/\1/p'); do
  file=$(printenv "${var}_FILE")
  value=$(grep -v '^[[:space:]]*$' "$file" | paste -sd, -)
  export "$var=$value"
  unset "${var}_FILE"
done
exec "$@"
