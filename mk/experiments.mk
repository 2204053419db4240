# mk/experiments.mk - the experiment: when does AttnRes help? (tools/experiment.py)
#
#   make experiments-quick   6 short runs (L = 8, 16 sublayers x standard, Block,
#                            Full AttnRes, seed 0) on the King James text: trying
#                            the kit, not conclusions (~4 min on 2 cores). Writes
#                            build/experiments/quick/{summary.json,table.md,*.png}
#   make experiments         the full sweep: L = 8, 16, 32 x 3 modes x 5 seeds, and
#                            4 ablations of Block AttnRes at L = 32 x 3 seeds (57
#                            runs, about 50 min on 2 cores); resumable (finished
#                            runs are kept in build/experiments/full/runs/ and
#                            skipped). Copy the results to docs/experiments/ with
#                            experiments-publish.
#   make experiments-long    L = 32 only, 3 modes, seed 0, with 4x the token budget
#                            (600 steps): does the ranking hold with more training?
#                            build/experiments/long/ (about 15 min)
#   make experiments-grammar the grid of the full sweep (3 seeds, no ablations) on the
#                            generated grammar text of models/ (tools/corpus.py):
#                            build/experiments/grammar/ (about 20 min)
#   make experiments-round2  round 2 (docs/experiments/round2/PLAN.md): the lr search,
#                            then 1,000-step comparisons and Full AttnRes ablations;
#                            many hours, resumable across sessions: each run's JSON
#                            goes to docs/experiments/round2/runs/ (commit them), logs
#                            to build/experiments/round2/logs/. Run it with OpenBLAS
#                            (TRAIN_BLAS=..., see mk/train.mk): 10x the netlib speed.
#   make experiments-publish the full sweep's summary.json, table.md, table.json,
#                            plots.json, sweep.json and PNGs into docs/experiments/
#                            (those of experiments-long and -grammar into long/, grammar/);
#                            its seed-0 standard and Block models at L = 32 into
#                            models/experiments/ with their C parity fixtures
#                            (PyTorch logits on the committed validation excerpt)
#   make test-ddp            the same run in 1 process and under torchrun with 2
#                            processes (gloo): the loss curves must agree within
#                            1e-3 nats, and a run with another batch must not
#   make kjv-corpus          build/corpus/kjv/{train,val}.txt from Debian's
#                            King James text (apt-get install bible-kjv)
#
# Needs python3-torch, python3-numpy, python3-matplotlib, and bible-kjv for the
# corpus. TRAIN_ENV (mk/train.mk) sets OMP_WAIT_POLICY=PASSIVE and TRAIN_BLAS.

EXP        = $(TRAIN_ENV) $(PYTHON) tools/experiment.py
TORCHRUN  ?= torchrun
KJV        = build/corpus/kjv/train.txt
EXP_MODELS = models/experiments
DDP_RUN    = run --corpus kjv --n-layers 2 --residual attnres --blocks 2 --steps 30 --evals 3

.PHONY: kjv-corpus experiments-quick experiments experiments-long experiments-grammar experiments-publish test-ddp
.PHONY: experiments-round2
kjv-corpus: $(KJV)
$(KJV): tools/text_corpus.py
	$(PYTHON) tools/text_corpus.py --out build/corpus/kjv

experiments-quick: $(KJV)
	$(EXP) sweep --plan quick --out build/experiments/quick

experiments: $(KJV)
	$(EXP) sweep --plan full --out build/experiments/full

experiments-long: $(KJV)
	$(EXP) sweep --plan long --out build/experiments/long

experiments-grammar:
	$(EXP) sweep --plan grammar --out build/experiments/grammar

experiments-round2: $(KJV)
	$(EXP) sweep --plan round2 --out build/experiments/round2 --runs docs/experiments/round2/runs

FULL = build/experiments/full
experiments-publish: $(KJV)
	@mkdir -p docs/experiments $(EXP_MODELS)
	cp $(FULL)/summary.json $(FULL)/table.md $(FULL)/table.json $(FULL)/plots.json $(FULL)/sweep.json \
	   $(FULL)/*.png docs/experiments/
	for d in long grammar; do if [ -f build/experiments/$$d/summary.json ]; then mkdir -p docs/experiments/$$d && \
	  cp build/experiments/$$d/summary.json build/experiments/$$d/table.md build/experiments/$$d/table.json \
	     build/experiments/$$d/plots.json build/experiments/$$d/sweep.json build/experiments/$$d/*.png \
	     docs/experiments/$$d/ || exit 1; fi; done
	$(PYTHON) tools/text_corpus.py --out build/corpus/kjv --excerpt $(EXP_MODELS)/kjv_val_excerpt.txt
	for m in standard block; do \
	  cp $(FULL)/models/L32_$${m}_s0.safetensors $(EXP_MODELS)/$${m}_L32.safetensors && \
	  $(EXP) expect $(EXP_MODELS)/$${m}_L32.safetensors $(EXP_MODELS)/kjv_val_excerpt.txt --tokens 64 \
	    --out $(EXP_MODELS)/$${m}_L32.expect.safetensors || exit 1; done

# torchrun: Debian's 1.13 launcher fails on Python 3.11 with its default
# --redirects/--tee of 0, so stdout is teed explicitly (--redirects 1 --tee 1).
test-ddp: $(KJV)
	@mkdir -p build/experiments/ddp
	$(EXP) $(DDP_RUN) --batch 16 --out build/experiments/ddp/one.json
	$(TRAIN_ENV) $(TORCHRUN) --standalone --nproc_per_node=2 --redirects 1 --tee 1 --log_dir build/experiments/ddp/logs \
	  tools/experiment.py $(DDP_RUN) --batch 16 --out build/experiments/ddp/two.json
	$(EXP) $(DDP_RUN) --batch 8 --out build/experiments/ddp/control.json
	$(EXP) compare build/experiments/ddp/one.json build/experiments/ddp/two.json build/experiments/ddp/control.json --tol 1e-3


# tools/experiment.py on the C trainer (run --engine c), checked with PyTorch
# hidden: tests/test_experiment_c.sh, copied next to the programs for tests/run.sh
all: $(BUILD)/test_experiment_c
TESTS += test_experiment_c
$(BUILD)/test_experiment_c: tests/test_experiment_c.sh $(BUILD)/attnres-train | $(BUILD)
	cp tests/test_experiment_c.sh $@
	chmod +x $@
