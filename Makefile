# Liaison: `make run` starts the dev stack, `make test` runs the whole test suite, `make test-fast`
# the tests that need no server (seconds; no Synapse, Dovecot/Postfix or PostgreSQL: not `e2e`).
# Both install what they need first (a virtualenv in .venv, the JS test client in tests/js).

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test test-fast lint bench clean mail-packages synapse-packages browser-packages

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

tests/js/node_modules/.installed: tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The MSSanté bridge's tests run a real Dovecot and Postfix: bots/devstack/mailservers.py starts
# private instances (own directory, free loopback ports), so only the programs are needed. Installed
# when missing, without debconf questions; the packages' own system services are stopped, unused.
MAIL_PROGRAMS := /usr/sbin/dovecot /usr/lib/dovecot/imap /usr/lib/dovecot/lmtp /usr/sbin/postfix
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

mail-packages:
	@$(foreach f,$(MAIL_PROGRAMS),test -x $(f) &&) true || { \
	  echo "postfix postfix/main_mailer_type select No configuration" | $(SUDO) debconf-set-selections && \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    dovecot-imapd dovecot-lmtpd postfix && \
	  for s in dovecot postfix; do $(SUDO) systemctl disable --now $$s 2>/dev/null || \
	    $(SUDO) service $$s stop 2>/dev/null || true; done; }

# The production topology (Synapse's workers behind nginx, tests/test_production.py) runs a private
# nginx (own config, pid and logs, a free loopback port) and, in the tests, a private Redis: only
# the programs are needed; their system services are stopped, unused.
SYNAPSE_PROGRAMS := /usr/sbin/nginx /usr/bin/redis-server

synapse-packages:
	@$(foreach f,$(SYNAPSE_PROGRAMS),test -x $(f) &&) true || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    nginx redis-server && \
	  for s in nginx redis-server; do $(SUDO) systemctl disable --now $$s 2>/dev/null || \
	    $(SUDO) service $$s stop 2>/dev/null || true; done; }

# The dashboard's browser test (tests/test_dashboard_browser.py) drives Debian's Chromium through
# Playwright with an explicit executable path: Playwright downloads no browser.
BROWSER_PROGRAMS := /usr/bin/chromium

browser-packages:
	@$(foreach f,$(BROWSER_PROGRAMS),test -x $(f) &&) true || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium; }

# Run a second time on the worker topology (PostgreSQL, Redis, nginx): the E2EE runtime, the bots'
# end-to-end scenarios and the production hardening. The one list of them.
WORKERS_TESTS := tests/test_production.py tests/test_e2ee_commands.py tests/test_careteam_rooms.py \
  tests/test_element_interop.py tests/test_discharge_room.py tests/test_followup_room.py \
  tests/test_bridge.py tests/test_adt_applier.py tests/test_adt_room.py tests/test_dashboard.py \
  tests/test_dashboard_indicators_e2e.py tests/test_dashboard_sso.py tests/test_active_active_e2e.py

run: $(STAMP)
	$(VENV)/bin/liaison up

test: $(STAMP) tests/js/node_modules/.installed mail-packages synapse-packages browser-packages
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q
	LIAISON_TEST_TOPOLOGY=workers $(PY) -m pytest -q $(WORKERS_TESTS)

# The pure tests and the in-process harness's (tests/harness.py), property tests on a tenth of
# their examples; `e2e` (a real server: tests/conftest.py marks them) left out. Bytecode is
# written even where the environment says not to (PYTHONDONTWRITEBYTECODE): compiling the bots
# and rewriting the test modules' asserts again at every run is 2 s of the 10 (__pycache__ is
# ignored by git).
test-fast: $(STAMP)
	$(VENV)/bin/ruff check .
	LIAISON_TEST_FAST=1 PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -m "not e2e"

# The peer (matrix-reminder-bot) gets a virtualenv of its own, made by bench/peer.py; the bridge's
# benchmark runs the real Dovecot and Postfix, as the tests do; the topology's, Synapse's workers
# behind nginx on this machine's PostgreSQL and Redis (about an hour).
bench: $(STAMP) mail-packages synapse-packages
	$(PY) -m bench.roundtrip --trace
	$(PY) -m bench.cost
	$(PY) -m bench.rooms
	$(PY) -m bench.discharge
	$(PY) -m bench.followup
	$(PY) -m bench.burst
	$(PY) -m bench.bridge
	$(PY) -m bench.adt
	$(PY) -m bench.topology

clean:
	rm -rf $(VENV) tests/js/node_modules
