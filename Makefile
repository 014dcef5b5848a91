# online-game - build, run, test.
#
#   make            build ./online-game, the route modules in cgi-bin/ and tools/
#   make run        build and serve www/ on http://localhost:8080
#   make test       build and run every unit and integration test
#   make test-asan  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-tsan  the same under ThreadSanitizer
#   make bench      benchmarks against peers (see bench/README.md)
#
# Objects go to build/<variant>/ so the sanitizer builds never mix with the
# normal one. Every .c in server/, router/, websocket/ and game/ is part of
# the server; every cgi-bin/*.c becomes cgi-bin/*.so.

VARIANT  ?= release
BUILD    := build/$(VARIANT)
CC       ?= cc
PKGS     := openssl jansson sqlite3

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g -pthread $(WARN) -MMD -MP \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS     := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -ldl

ifeq ($(VARIANT),release)
  OPT := -O2
  BIN := online-game
else ifeq ($(VARIANT),asan)
  OPT := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  BIN := $(BUILD)/online-game
else ifeq ($(VARIANT),tsan)
  OPT := -O1 -fsanitize=thread -fno-omit-frame-pointer
  BIN := $(BUILD)/online-game
else
  $(error VARIANT must be release, asan or tsan)
endif

CFLAGS   ?=
CFLAGS   += $(BASE_CFLAGS) $(OPT)
LDFLAGS  += $(OPT)

SERVER_SRC := $(filter-out server/main.c,$(wildcard server/*.c)) \
              $(wildcard router/*.c) $(wildcard websocket/*.c) $(wildcard game/*.c)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ   := $(BUILD)/server/main.o
UNIT_SRC   := $(wildcard test/unit/*.c)
UNIT_OBJ   := $(UNIT_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(BUILD)/unit-tests
MODULES    := $(patsubst %.c,%.so,$(wildcard cgi-bin/*.c))
TOOLS_SRC  := $(wildcard tools/*.c)
TOOLS      := $(TOOLS_SRC:%.c=%)

.PHONY: all deps run test unit integration test-asan test-tsan bench clean
all: deps $(BIN) $(MODULES) $(TOOLS)

# Installs missing build dependencies (Debian); a quick no-op otherwise.
deps:
	@sh tools/install-deps.sh

$(BIN): $(MAIN_OBJ) $(SERVER_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Route modules: one C file each, loaded with dlopen by router/module.c.
cgi-bin/%.so: cgi-bin/%.c router/route.h
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -fPIC -shared -o $@ $< \
	    $(shell pkg-config --cflags --libs jansson 2>/dev/null)

tools/%: tools/%.c
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -pthread $(WARN) -o $@ $< $(LIBS)

$(UNIT_BIN): $(UNIT_OBJ) $(SERVER_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcunit

run: all
	./$(BIN)

test: all $(UNIT_BIN)
	@echo "== unit tests ($(VARIANT)) =="
	$(UNIT_BIN)
	@echo "== integration tests ($(VARIANT)) =="
	ONLINE_GAME_BIN=$(abspath $(BIN)) sh test/run-integration.sh
	@echo "== fuzz regression inputs ($(VARIANT)) =="
	$(MAKE) --no-print-directory fuzz-regress

unit: all $(UNIT_BIN)
	$(UNIT_BIN)

integration: all
	ONLINE_GAME_BIN=$(abspath $(BIN)) sh test/run-integration.sh

# Sanitizer runs: sets the sanitizer options and fails on any report
# written by any process (the server under test included).
test-asan:
	sh test/sanitizers/run.sh asan

test-tsan:
	sh test/sanitizers/run.sh tsan

bench: all
	sh bench/run.sh

clean:
	rm -rf build online-game cgi-bin/*.so $(TOOLS)

-include $(SERVER_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)

# Fuzzing (make fuzz FUZZ_SECONDS=N), soak (make soak SOAK_SECONDS=N) and
# fault tests live beside their sources.
-include test/fuzz/fuzz.mk
-include test/soak/soak.mk
