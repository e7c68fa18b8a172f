# Thin wrapper over meson/ninja.  `make demo` and `make check` are the
# README's two quick-start commands; both bootstrap first.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
MESON      ?= meson

.PHONY: all bootstrap build build-asan build-fuzz check demo bench clean

all: build

bootstrap:
	@./scripts/bootstrap.sh

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD)

$(BUILD_ASAN)/build.ninja:
	$(MESON) setup $(BUILD_ASAN) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

$(BUILD_FUZZ)/build.ninja:
	CC=clang $(MESON) setup $(BUILD_FUZZ) -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: $(BUILD_ASAN)/build.ninja
	ninja -C $(BUILD_ASAN)

build-fuzz: $(BUILD_FUZZ)/build.ninja
	ninja -C $(BUILD_FUZZ)

check: bootstrap
	@$(MAKE) --no-print-directory build build-asan build-fuzz
	@./scripts/check.sh $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)

demo: bootstrap
	@$(MAKE) --no-print-directory build
	@./scripts/demo.sh $(BUILD)

# Not part of check: figures side by side with the reference tools, over
# plain http and over HTTPS (bench_https.py: nginx on port 443, so as root).
bench:
	@./scripts/bootstrap.sh --bench
	@$(MAKE) --no-print-directory build
	@/usr/bin/python3 bench/bench_import.py --vmie $(BUILD)/vmie
	@/usr/bin/python3 bench/bench_resume.py --vmie $(BUILD)/vmie
	@/usr/bin/python3 bench/bench_download.py --vmie $(BUILD)/vmie
	@/usr/bin/python3 bench/bench_https.py --vmie $(BUILD)/vmie
	@/usr/bin/python3 bench/bench_vmdk.py --vmie $(BUILD)/vmie
	@/usr/bin/python3 bench/bench_batch.py --vmie $(BUILD)/vmie

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
