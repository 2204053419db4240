# mk/web.mk - the lab in a browser: attnres.h compiled to WebAssembly (docs/web.md).
#   make web         emcc compiles web/attnres_web.c (which includes attnres.h,
#                    scalar path, no kernel file) into build/web/attnres.js +
#                    attnres.wasm, and web/attnres_train_web.c (the Train
#                    view's trainer) into attnres_train.js + .wasm, and copies
#                    the page (web/index.html, app.js, style.css, train.js,
#                    trainer.js, train_worker.js), the three shipped models and the
#                    shipped corpus (corpus.txt) next to them
#   make web-serve   serves build/web on http://127.0.0.1:$(WEB_PORT)/ (node)
#   make test-web    the wasm module under node against the native build of the
#                    same glue (logits and alpha bit for bit), then the page in
#                    headless Chromium (tests/test_web.sh); without emcc, node,
#                    Chromium or playwright-core those checks say SKIP and why
# Needs (Debian, as root): apt-get install emscripten chromium; playwright-core
# comes from npm into web/node_modules (test-web runs `npm ci` there unless
# WEB_NPM=no). Debian's emscripten ships its system libraries prebuilt, so
# the first build takes seconds, not minutes.
EMCC      ?= emcc
NODE      ?= node
WEB_BUILD ?= build/web
WEB_PORT  ?= 8000
WEB_NPM   ?= auto
CHROMIUM  ?= /usr/bin/chromium
# The same strict IEEE arithmetic as the native build (-ffp-contract=off,
# never -ffast-math): the page computes the same bits as the C programs.
EMFLAGS   ?= -std=c99 -O2 -Wall -Wextra -pedantic -Werror -ffp-contract=off
EMLINK     = -sMODULARIZE=1 -sEXPORT_NAME=createAttnres -sENVIRONMENT=web,node \
             -sALLOW_MEMORY_GROWTH=1 -sFORCE_FILESYSTEM=1 -sEXPORTED_RUNTIME_METHODS=FS,ccall
# Debian's emscripten runs its JS tools with node and needs Debian's acorn
# (node-acorn, in /usr/share/nodejs); a node from elsewhere does not look there.
EMCC_ENV   = NODE_PATH=/usr/share/nodejs$(if $(NODE_PATH),:$(NODE_PATH))
WEB_PAGE   = $(addprefix $(WEB_BUILD)/,index.html app.js style.css train.js trainer.js train_worker.js)
WEB_MODELS = $(addprefix $(WEB_BUILD)/models/,standard.safetensors block.safetensors full.safetensors)
# the trainer's module runs in a Web Worker (and under node for the parity test)
EMLINK_TRAIN = -sMODULARIZE=1 -sEXPORT_NAME=createAttnresTrain -sENVIRONMENT=web,worker,node \
             -sALLOW_MEMORY_GROWTH=1 -sEXPORTED_RUNTIME_METHODS=ccall

.PHONY: web web-serve test-web check-warnings-web
web: $(WEB_BUILD)/attnres.js $(WEB_BUILD)/attnres_train.js $(WEB_PAGE) $(WEB_MODELS) $(WEB_BUILD)/corpus.txt
	@echo "built $(WEB_BUILD)/: make web-serve, then open http://127.0.0.1:$(WEB_PORT)/"

$(WEB_BUILD) $(WEB_BUILD)/models:
	@mkdir -p $@

# attnres.wasm is written by the same command, next to attnres.js
$(WEB_BUILD)/attnres.js: web/attnres_web.c attnres.h | $(WEB_BUILD)
	@command -v $(EMCC) >/dev/null || { echo "make web: $(EMCC) not found (Debian, as root: apt-get install emscripten)"; exit 1; }
	$(EMCC_ENV) $(EMCC) $(EMFLAGS) $(EMLINK) -o $@ web/attnres_web.c

# attnres_train.wasm likewise
$(WEB_BUILD)/attnres_train.js: web/attnres_train_web.c tools/train_shared.h attnres.h | $(WEB_BUILD)
	@command -v $(EMCC) >/dev/null || { echo "make web: $(EMCC) not found (Debian, as root: apt-get install emscripten)"; exit 1; }
	$(EMCC_ENV) $(EMCC) $(EMFLAGS) $(EMLINK_TRAIN) -o $@ web/attnres_train_web.c

$(WEB_PAGE): $(WEB_BUILD)/%: web/% | $(WEB_BUILD)
	cp $< $@

# the Train view's default text: the shipped models' training corpus
$(WEB_BUILD)/corpus.txt: models/corpus_train.txt | $(WEB_BUILD)
	cp $< $@

$(WEB_MODELS): $(WEB_BUILD)/models/%: models/% | $(WEB_BUILD)/models
	cp $< $@

web-serve: web
	$(NODE) web/serve.mjs $(WEB_BUILD) $(WEB_PORT)

# the native twin of the page's module: the same glue, this build's CC and CFLAGS
$(BUILD)/web_parity: web/attnres_web.c attnres.h | $(BUILD)
	$(CC) $(CFLAGS) -DWEB_PARITY_MAIN $(LDFLAGS) -o $@ web/attnres_web.c $(LDLIBS)
$(BUILD)/web_train_parity: web/attnres_train_web.c tools/train_shared.h attnres.h | $(BUILD)
	$(CC) $(CFLAGS) -DWEB_TRAIN_MAIN $(LDFLAGS) -o $@ web/attnres_train_web.c $(LDLIBS)

# The wasm build is made first where emcc exists (a failed build fails the
# target); tests/test_web.sh reports what it could not run as SKIP.
# attnres-run (mk/run.mk) is there to compare the generated text with.
test-web: $(BUILD)/web_parity $(BUILD)/web_train_parity $(BUILD)/attnres-run $(BUILD)/attnres-train
	@if command -v $(EMCC) >/dev/null; then $(MAKE) --no-print-directory web; fi
	@EMCC='$(EMCC)' NODE='$(NODE)' CHROMIUM='$(CHROMIUM)' WEB_NPM='$(WEB_NPM)' \
	  sh tests/test_web.sh $(BUILD) $(WEB_BUILD)

# the glue, warning-free as native C under gcc and clang (emcc is clang too)
check-warnings: check-warnings-web
check-warnings-web:
	@for cc in gcc clang; do \
	  if command -v $$cc >/dev/null; then \
	    $$cc $(STRICT) web/attnres_web.c && $$cc $(STRICT) -DWEB_PARITY_MAIN web/attnres_web.c || exit 1; \
	    $$cc $(STRICT) web/attnres_train_web.c && $$cc $(STRICT) -DWEB_TRAIN_MAIN web/attnres_train_web.c || exit 1; \
	    echo "warnings: none from $$cc in web/attnres_web.c and web/attnres_train_web.c"; \
	  fi; \
	done
