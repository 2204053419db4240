# mk/train.mk - the trained models (tools/corpus.py, tools/train.py) and the
# golden greedy generations of the C parity test (tools/make_generate_golden.py).
#
#   make train            regenerate the corpus, retrain all three models
#                         (~10 min on 2 cores with OpenBLAS)
#   make generate-golden  rewrite golden/generate/<mode>.{safetensors,txt}
#   make train-blas       fetch Debian's OpenBLAS into build/openblas without
#                         installing it (for TRAIN_BLAS, see below)
#
# BLAS. Debian's torch calls whatever libblas.so.3 the system provides; the
# default (netlib, package libblas3) is several times slower. The shipped
# checkpoints were trained with Debian's OpenBLAS 0.3.21, OpenMP build:
#   apt-get install libopenblas0-openmp     (recommended, as root, once)
# It becomes the system libblas.so.3 (update-alternatives). This does not
# change the golden test fixtures: tools/make_golden.py writes byte-identical
# golden/*.safetensors with OpenBLAS and with netlib.
# Without root: `make train-blas` downloads the same package with apt-get
# download and unpacks it into build/openblas; then
#   make train TRAIN_BLAS=build/openblas/usr/lib/x86_64-linux-gnu/openblas-openmp
# puts it on LD_LIBRARY_PATH for the training process only. Either way the
# float32 training run is deterministic for a given BLAS and thread count;
# with netlib it still works, but the float32 bits, so the checkpoints, may
# differ from the shipped ones.
TRAIN_BLAS ?=
TRAIN_ENV   = OMP_WAIT_POLICY=PASSIVE $(if $(TRAIN_BLAS),LD_LIBRARY_PATH=$(TRAIN_BLAS))

.PHONY: corpus train generate-golden train-blas
corpus:
	$(PYTHON) tools/corpus.py --out models

train: corpus
	$(TRAIN_ENV) $(PYTHON) tools/train.py --all --out models --corpus models

generate-golden:
	$(PYTHON) tools/make_generate_golden.py --models models --out golden/generate

train-blas:
	rm -rf build/openblas && mkdir -p build/openblas
	cd build/openblas && apt-get download libopenblas0-openmp
	dpkg-deb -x build/openblas/libopenblas0-openmp_*.deb build/openblas
	@echo "now: make train TRAIN_BLAS=build/openblas/usr/lib/x86_64-linux-gnu/openblas-openmp"
