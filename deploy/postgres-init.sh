#!/bin/sh
# Run by the postgres image on the first start of an empty volume: the bots' own role and
# database beside Synapse's (the password from the liaison_db_password secret).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$(cat "$LIAISON_DB_PASSWORD_FILE")" <<'SQL'
CREATE ROLE liaison LOGIN PASSWORD :'password';
CREATE DATABASE liaison OWNER liaison ENCODING 'UTF8';
SQL
