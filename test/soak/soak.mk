# test/soak/soak.mk - the soak test, included by the top Makefile.
#
#   make soak [SOAK_SECONDS=60]   1000 held WebSocket connections and 150
#                                 clients churning through every kind of
#                                 traffic (see test/soak/soak.mjs)
#   make soak-short               the CI version: 30 s, 500 held, 100 churning
#
# Both run against $(BIN), so `make VARIANT=asan soak` soaks the
# AddressSanitizer build.

SOAK_SECONDS ?= 60
SOAK_ENV = ONLINE_GAME_BIN=$(abspath $(BIN))

.PHONY: soak soak-short soak-deps
soak-deps:
	@cd test && { [ -d node_modules/ws ] || npm ci --no-audit --no-fund --loglevel=error; }

soak: all soak-deps
	$(SOAK_ENV) SOAK_SECONDS=$(SOAK_SECONDS) node test/soak/soak.mjs

soak-short: all soak-deps
	$(SOAK_ENV) SOAK_SECONDS=30 SOAK_HOLD=500 SOAK_CLIENTS=100 node test/soak/soak.mjs
