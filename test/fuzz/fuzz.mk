# test/fuzz/fuzz.mk - fuzzing with libFuzzer, included by the top Makefile.
#
#   make fuzz [FUZZ_SECONDS=20]  build every target with clang
#                                 -fsanitize=fuzzer,address,undefined and
#                                 run each for FUZZ_SECONDS (CI: 20)
#   make fuzz-<name>             run one target (e.g. make fuzz-path)
#   make fuzz-regress            replay the seed corpus and every saved
#                                 crash input once, built with gcc + ASan +
#                                 UBSan and driver.c (no libFuzzer needed);
#                                 part of `make test`
#
# Each target links only the parser sources it tests: they are I/O-free
# and compile directly into the fuzzer. New inputs libFuzzer finds go to
# build/fuzz/corpus/<name>/ (not the repository); a crash is written to
# build/fuzz/crashes/<name>-crash-<sha1>. To keep it as a regression
# input, copy it to test/fuzz/regress/<name>/ (see docs/reliability.md).

FUZZ_SECONDS ?= 20
FUZZ_CC      ?= clang
FUZZ_GCC     ?= gcc
FUZZ_DIR     := test/fuzz
FUZZ_OUT     := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 $(WARN) $(FUZZ_SAN)

# The targets and the sources each one needs.
FUZZ_TARGETS := http_parse http_chunked ws_parser ws_utf8 path cgi_parse
FUZZ_SRC_http_parse   := server/http_parse.c
FUZZ_SRC_http_chunked := server/http_chunked.c
FUZZ_SRC_ws_utf8      := websocket/ws_utf8.c
FUZZ_SRC_ws_parser    := websocket/ws_parser.c websocket/ws_frame.c \
                         websocket/ws_utf8.c websocket/ws_handshake.c
FUZZ_LIBS_ws_parser   := -lcrypto
FUZZ_SRC_path         := router/path.c
FUZZ_SRC_cgi_parse    := router/cgi_parse.c

# The typed-message dispatcher needs the WebSocket runtime (a socketless
# ws_conn whose replies land in its outbox), jansson and the server's
# config and log: it links every server object except main.c.
ifneq ($(wildcard websocket/ws_dispatch.c),)
FUZZ_TARGETS += ws_dispatch
FUZZ_SRC_ws_dispatch  := $(filter-out server/main.c,$(wildcard server/*.c)) \
                         $(wildcard router/*.c) $(wildcard websocket/*.c) \
                         $(wildcard game/*.c)
FUZZ_LIBS_ws_dispatch := $(LIBS)
FUZZ_CFLAGS_ws_dispatch := $(shell pkg-config --cflags jansson 2>/dev/null) -pthread
endif

FUZZ_HEADERS := $(FUZZ_DIR)/fuzz.h server/server.h router/router.h \
                websocket/websocket.h

.PHONY: fuzz fuzz-build fuzz-regress $(FUZZ_TARGETS:%=fuzz-%)

# ---- libFuzzer binaries: build/fuzz/bin/fuzz_<name> ----
define FUZZ_RULES
$(FUZZ_OUT)/bin/fuzz_$(1): $(FUZZ_DIR)/fuzz_$(1).c $(FUZZ_DIR)/stats.c \
        $$(FUZZ_SRC_$(1)) $(FUZZ_HEADERS)
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $$(FUZZ_CFLAGS_$(1)) -fsanitize=fuzzer \
	    -Wl,--wrap=LLVMFuzzerTestOneInput -o $$@ \
	    $(FUZZ_DIR)/fuzz_$(1).c $(FUZZ_DIR)/stats.c $$(FUZZ_SRC_$(1)) \
	    $$(FUZZ_LIBS_$(1))

$(FUZZ_OUT)/regress/fuzz_$(1): $(FUZZ_DIR)/fuzz_$(1).c $(FUZZ_DIR)/driver.c \
        $$(FUZZ_SRC_$(1)) $(FUZZ_HEADERS)
	@mkdir -p $$(dir $$@)
	$(FUZZ_GCC) $(FUZZ_CFLAGS) $$(FUZZ_CFLAGS_$(1)) -o $$@ \
	    $(FUZZ_DIR)/driver.c $(FUZZ_DIR)/fuzz_$(1).c $$(FUZZ_SRC_$(1)) \
	    $$(FUZZ_LIBS_$(1))

fuzz-$(1): $(FUZZ_OUT)/bin/fuzz_$(1)
	@sh $(FUZZ_DIR)/run-fuzzer.sh $(1) $(FUZZ_SECONDS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_RULES,$(t))))

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_OUT)/bin/fuzz_%)

# Runs every target in turn; stops at the first crash.
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	    sh $(FUZZ_DIR)/run-fuzzer.sh $$t $(FUZZ_SECONDS) || exit 1; \
	done

fuzz-regress: $(FUZZ_TARGETS:%=$(FUZZ_OUT)/regress/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	    $(FUZZ_OUT)/regress/fuzz_$$t $(FUZZ_DIR)/corpus/$$t \
	        $(FUZZ_DIR)/regress/$$t || exit 1; \
	done
