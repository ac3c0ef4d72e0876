# ostick: signed, self-contained OSTree update bundles.
# Plain make. `make help` lists the targets; V=1 shows the commands.

PKG_CONFIG ?= pkg-config
CC ?= cc
AR ?= ar
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
SYSCONFDIR ?= /etc
DESTDIR ?=
BUILDDIR ?= build
WERROR ?=
SANITIZE ?=
PROVE ?= prove
# Integration tests to run (a glob); `make check T=tests/integration/t0100*` narrows it.
T ?= tests/integration/t*.sh

COMMON_PKGS := glib-2.0 gio-2.0 gio-unix-2.0 ostree-1 libarchive libcrypto libzstd liblzma \
	json-glib-1.0
BUNDLER_PKGS := $(COMMON_PKGS)
APPLIER_PKGS := $(COMMON_PKGS) libudev
ALL_PKGS := $(sort $(BUNDLER_PKGS) $(APPLIER_PKGS))

# Fail early, naming the missing module, unless only asking for help, cleaning or formatting.
# (Goals that install their packages first, check demo asan e2e bench fuzz, check again in the
# make they run after that.)
NO_BUILD_GOALS := help clean format format-check deps-build deps-check deps-demo deps-e2e deps-fuzz
ifneq ($(if $(MAKECMDGOALS),$(filter-out $(NO_BUILD_GOALS),$(MAKECMDGOALS)),all),)
MISSING_PKGS := $(strip $(foreach p,$(ALL_PKGS),$(if $(shell $(PKG_CONFIG) --exists $(p) && \
	echo y),,$(p))))
endif
ifneq ($(MISSING_PKGS),)
ifeq ($(filter check demo asan e2e bench fuzz,$(MAKECMDGOALS)),)
$(error pkg-config cannot find: $(MISSING_PKGS). Run `scripts/deps.sh build` (as root it installs them))
endif
endif

UDEVDIR ?= $(shell $(PKG_CONFIG) --variable=udevdir udev 2>/dev/null || echo /lib/udev)
UNITDIR ?= $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)

OSTICK_VERSION := 0.1.0
WARNINGS := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wmissing-declarations -Wpointer-arith -Wundef -Wvla -Wwrite-strings -Wcast-align \
	-Wno-unused-parameter -Wno-missing-field-initializers \
	-Werror=implicit-function-declaration -Werror=return-type -Werror=format-security
DEFINES := -D_GNU_SOURCE -DGLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74 \
	-DGLIB_VERSION_MAX_ALLOWED=GLIB_VERSION_2_74 -DOPENSSL_API_COMPAT=30000 \
	-DOPENSSL_NO_DEPRECATED -DOSTICK_SYSCONFDIR='"$(SYSCONFDIR)"' \
	-DOSTICK_VERSION='"$(OSTICK_VERSION)"'

OPTFLAGS ?= -O2 -g
ifeq ($(SANITIZE),fuzz)
OPTFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all
SAN_LDFLAGS := -fsanitize=fuzzer,address,undefined
else ifneq ($(SANITIZE),)
OPTFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
SAN_LDFLAGS := -fsanitize=address,undefined
endif
ifneq ($(WERROR),)
WARNINGS += -Werror
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(ALL_PKGS) 2>/dev/null)
BUNDLER_LIBS := $(shell $(PKG_CONFIG) --libs $(BUNDLER_PKGS) 2>/dev/null)
APPLIER_LIBS := $(shell $(PKG_CONFIG) --libs $(APPLIER_PKGS) 2>/dev/null)
ALL_LIBS := $(shell $(PKG_CONFIG) --libs $(ALL_PKGS) 2>/dev/null)

# -fPIC: the same objects make libostick.so. Library objects hide everything but the API.
ALL_CFLAGS := -std=gnu11 -fPIC $(OPTFLAGS) $(WARNINGS) $(DEFINES) -Ilibostick/include -Icommon \
	-Ilibostick $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(SAN_LDFLAGS) $(LDFLAGS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

# GLib's GChecksum over OpenSSL: linked into the two executables only, never into libostick.
GLIB_CHECKSUM_SRC := common/ostick-glib-checksum.c
COMMON_SRCS := $(filter-out $(GLIB_CHECKSUM_SRC),$(sort $(wildcard common/*.c)))
LIBOSTICK_SRCS := $(sort $(wildcard libostick/*.c))
BUNDLER_SRCS := $(sort $(wildcard bundler/*.c))
APPLIER_SRCS := $(sort $(wildcard applier/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test-*.c))
TESTLIB_OBJ := $(BUILDDIR)/tests/unit/testlib.o
HELPER_SRCS := $(sort $(wildcard tests/helpers/*.c))

obj = $(patsubst %.c,$(BUILDDIR)/%.o,$(1))
COMMON_OBJS := $(call obj,$(COMMON_SRCS))
LIBOSTICK_OBJS := $(call obj,$(LIBOSTICK_SRCS))
BUNDLER_OBJS := $(call obj,$(filter-out bundler/main.c,$(BUNDLER_SRCS)))
APPLIER_OBJS := $(call obj,$(filter-out applier/main.c,$(APPLIER_SRCS)))

# libostick.a: the format code (common/) and the device engine (libostick/); the tools and the
# unit tests link it statically, integrators link libostick.so through pkg-config.
LIBOSTICK_A := $(BUILDDIR)/libostick.a
GLIB_CHECKSUM_OBJ := $(call obj,$(GLIB_CHECKSUM_SRC))
# Exported, so that libostree's g_checksum_*() calls bind to it (ostick-glib-checksum.c).
GLIB_CHECKSUM_EXPORT := '-Wl,--export-dynamic-symbol=g_checksum_*'
LIBOSTICK_SONAME := libostick.so.0
LIBOSTICK_SO := $(BUILDDIR)/$(LIBOSTICK_SONAME)
LIB_PKGS := $(COMMON_PKGS)
PC_DIR := $(BUILDDIR)/pkgconfig
PC_FILES := $(PC_DIR)/ostick.pc $(PC_DIR)/ostick-uninstalled.pc
LIB_LIBS := $(shell $(PKG_CONFIG) --libs $(LIB_PKGS) 2>/dev/null)
LIBBUNDLER := $(BUILDDIR)/libbundler.a
LIBAPPLIER := $(BUILDDIR)/libapplier.a
BUNDLER_BIN := $(BUILDDIR)/ostick-bundle
APPLIER_BIN := $(BUILDDIR)/ostick-apply
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILDDIR)/tests/%,$(UNIT_SRCS))
HELPER_BINS := $(patsubst tests/helpers/%.c,$(BUILDDIR)/tests/helpers/%,$(HELPER_SRCS))
UNIT_DEPS := $(wildcard tests/unit/*.h)

.PHONY: all tests check check-unit check-integration asan demo e2e install install-lib uninstall \
	clean help \
	format format-check deps-build deps-check deps-demo deps-e2e deps-fuzz fuzz fuzz-bins
.DEFAULT_GOAL := all

## all: build ostick-bundle, ostick-apply and libostick (default)
all: $(BUNDLER_BIN) $(APPLIER_BIN) $(LIBOSTICK_SO) $(PC_FILES)

# Rebuild everything when the compiler flags change (as git does with GIT-CFLAGS).
FLAGS_STAMP := $(BUILDDIR)/.flags
FLAGS_NOW := $(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS)
$(FLAGS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' > $@
.PHONY: FORCE
FORCE:

$(BUILDDIR)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILDDIR)/common/%.o $(BUILDDIR)/libostick/%.o: private ALL_CFLAGS += -fvisibility=hidden \
	-DOSTICK_COMPILATION
$(LIBOSTICK_A): $(COMMON_OBJS) $(LIBOSTICK_OBJS)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
# Sanitized builds leave the runtime to the executable: no -z defs there.
$(LIBOSTICK_SO): $(COMMON_OBJS) $(LIBOSTICK_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -shared -Wl,-soname,$(LIBOSTICK_SONAME) \
		$(if $(SANITIZE),,-Wl,-z,defs) -o $@ $^ $(LIB_LIBS)
	$(Q)ln -sf $(LIBOSTICK_SONAME) $(BUILDDIR)/libostick.so
$(LIBBUNDLER): $(BUNDLER_OBJS)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(LIBAPPLIER): $(APPLIER_OBJS)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUNDLER_BIN): $(BUILDDIR)/bundler/main.o $(GLIB_CHECKSUM_OBJ) $(LIBBUNDLER) $(LIBOSTICK_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -Wl,--export-dynamic-symbol=lzma_easy_encoder \
		$(GLIB_CHECKSUM_EXPORT) -o $@ $^ $(BUNDLER_LIBS)
$(APPLIER_BIN): $(BUILDDIR)/applier/main.o $(GLIB_CHECKSUM_OBJ) $(LIBAPPLIER) $(LIBOSTICK_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) $(GLIB_CHECKSUM_EXPORT) -o $@ $^ $(APPLIER_LIBS)

# Unit tests may use any non-main object; static archives pull in only what a test needs.
$(BUILDDIR)/tests/test-%: $(BUILDDIR)/tests/unit/test-%.o $(TESTLIB_OBJ) $(LIBAPPLIER) $(LIBBUNDLER) \
		$(LIBOSTICK_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LIBS)
# The GChecksum test links the replacement as the executables do.
$(BUILDDIR)/tests/test-glib-checksum: $(GLIB_CHECKSUM_OBJ)
$(BUILDDIR)/tests/test-glib-checksum: private ALL_LDFLAGS += $(GLIB_CHECKSUM_EXPORT)
$(BUILDDIR)/tests/unit/%.o: private ALL_CFLAGS += -Itests/unit -DOSTICK_TEST_SRCDIR='"$(CURDIR)"'
$(BUILDDIR)/tests/helpers/%: $(BUILDDIR)/tests/helpers/%.o $(LIBAPPLIER) $(LIBBUNDLER) $(LIBOSTICK_A)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LIBS)

# pkg-config files: ostick.pc for `make install`, ostick-uninstalled.pc for this build tree
# (pkg-config prefers it when PKG_CONFIG_PATH names $(BUILDDIR)/pkgconfig).
# Regenerated when the install paths change (`make install PREFIX=/usr` after a plain `make`).
PATHS_STAMP := $(BUILDDIR)/.paths
PATHS_NOW := $(LIBDIR) $(INCLUDEDIR)
$(PATHS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(PATHS_NOW)' | cmp -s - $@ || echo '$(PATHS_NOW)' > $@
$(PC_DIR)/ostick.pc: libostick/ostick.pc.in Makefile $(PATHS_STAMP)
	@mkdir -p $(@D)
	$(Q)sed -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(OSTICK_VERSION)|' -e 's|@REQUIRES_PRIVATE@|$(LIB_PKGS)|' $< > $@
$(PC_DIR)/ostick-uninstalled.pc: libostick/ostick.pc.in Makefile
	@mkdir -p $(@D)
	$(Q)sed -e 's|@LIBDIR@|$(abspath $(BUILDDIR))|' -e 's|@INCLUDEDIR@|$(CURDIR)/libostick/include|' \
		-e 's|@VERSION@|$(OSTICK_VERSION)|' -e 's|@REQUIRES_PRIVATE@|$(LIB_PKGS)|' $< > $@

# The sample integrator, built as an integrator would: <ostick.h> and pkg-config only.
SAMPLE_BIN := $(BUILDDIR)/samples/ostick-receive
$(SAMPLE_BIN): samples/ostick-receive.c libostick/include/ostick.h $(LIBOSTICK_SO) $(PC_FILES)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) -std=gnu11 $(OPTFLAGS) $(WARNINGS) $(CFLAGS) -o $@ $< $(ALL_LDFLAGS) \
		$$(PKG_CONFIG_PATH=$(PC_DIR) $(PKG_CONFIG) --cflags --libs ostick) \
		-Wl,-rpath,$(abspath $(BUILDDIR))

## tests: build the unit-test and helper binaries, and the sample integrator
tests: all $(UNIT_BINS) $(HELPER_BINS) $(SAMPLE_BIN)

FUZZ_TARGETS := manifest sigblock superblock reader zstd
FUZZ_BINS := $(patsubst %,$(BUILDDIR)/fuzz/fuzz-%,$(FUZZ_TARGETS))
FUZZ_SECONDS ?= 60
$(BUILDDIR)/fuzz/fuzz-%: $(BUILDDIR)/tests/fuzz/fuzz-%.o $(LIBOSTICK_A)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LIBS)
$(BUILDDIR)/tests/fuzz/%.o: private ALL_CFLAGS += -Itests/fuzz
fuzz-bins: $(FUZZ_BINS)

## fuzz: libFuzzer targets (clang, ASan+UBSan, build-fuzz/), each run FUZZ_SECONDS (default 60)
fuzz: deps-fuzz
	$(Q)$(MAKE) --no-print-directory BUILDDIR=build-fuzz CC=clang SANITIZE=fuzz fuzz-bins
	$(Q)OSTICK_SRCDIR=$(CURDIR) tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

deps-build deps-check deps-demo deps-e2e deps-fuzz:
	@scripts/deps.sh $(patsubst deps-%,%,$@)

## check: build with -Werror and run every test under prove (installs missing packages as root)
check: deps-check
	$(Q)$(MAKE) --no-print-directory WERROR=1 tests
	$(Q)OSTICK_BUILDDIR=$(abspath $(BUILDDIR)) OSTICK_SRCDIR=$(CURDIR) \
		$(PROVE) --exec tests/run-test.sh --timer $(UNIT_BINS) $(sort $(wildcard $(T)))

## check-unit: run the unit tests only
check-unit: tests
	$(Q)OSTICK_BUILDDIR=$(abspath $(BUILDDIR)) OSTICK_SRCDIR=$(CURDIR) \
		$(PROVE) --exec tests/run-test.sh $(UNIT_BINS)

## asan: build in build-asan/ with ASan+UBSan and run the whole suite
asan: deps-check
	$(Q)OSTICK_SANITIZED=1 $(MAKE) --no-print-directory BUILDDIR=build-asan SANITIZE=1 check

## demo: make keys, two sample bundles, and install them into a scratch sysroot
demo: deps-demo
	$(Q)$(MAKE) --no-print-directory all
	$(Q)OSTICK_BUILDDIR=$(abspath $(BUILDDIR)) samples/demo.sh $(CURDIR)/demo-work

## e2e: boot a QEMU guest from an OSTree deployment and update it from USB sticks (root; tests/e2e)
e2e: deps-e2e
	$(Q)$(MAKE) --no-print-directory all
	$(Q)OSTICK_BUILDDIR=$(abspath $(BUILDDIR)) tests/e2e/run.sh

## bench: ostick against stock ostree on Debian 12 root filesystems (root; BENCH_REPS=3)
.PHONY: bench
bench:
	@scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)OSTICK_BUILDDIR=$(abspath $(BUILDDIR)) python3 bench/bench.py

## install-lib: install libostick (shared and static), ostick.h and ostick.pc (DESTDIR, LIBDIR)
install-lib: all $(PC_FILES)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(LIBOSTICK_SO) $(DESTDIR)$(LIBDIR)/$(LIBOSTICK_SONAME)
	ln -sf $(LIBOSTICK_SONAME) $(DESTDIR)$(LIBDIR)/libostick.so
	install -m 0644 $(LIBOSTICK_A) $(DESTDIR)$(LIBDIR)/
	install -m 0644 libostick/include/ostick.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 0644 $(PC_DIR)/ostick.pc $(DESTDIR)$(PKGCONFIGDIR)/

## install: install the tools, the library, the udev rule and unit (DESTDIR, PREFIX, BINDIR)
install: all install-lib
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UDEVDIR)/rules.d $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BUNDLER_BIN) $(APPLIER_BIN) $(DESTDIR)$(BINDIR)/
	for f in $(wildcard udev-rules/*.rules.in); do \
		sed 's|@BINDIR@|$(BINDIR)|g' $$f > $(DESTDIR)$(UDEVDIR)/rules.d/$$(basename $$f .in); \
	done
	for f in $(wildcard udev-rules/*.service.in); do \
		sed 's|@BINDIR@|$(BINDIR)|g' $$f > $(DESTDIR)$(UNITDIR)/$$(basename $$f .in); \
	done
	install -d $(DESTDIR)$(SYSCONFDIR)/ostick/keyring.d
	test -e $(DESTDIR)$(SYSCONFDIR)/ostick/ostick.conf || \
		install -m 0644 samples/ostick.conf $(DESTDIR)$(SYSCONFDIR)/ostick/ostick.conf

## uninstall: remove what install put in place (the config stays)
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ostick-bundle $(DESTDIR)$(BINDIR)/ostick-apply
	rm -f $(DESTDIR)$(LIBDIR)/$(LIBOSTICK_SONAME) $(DESTDIR)$(LIBDIR)/libostick.so \
		$(DESTDIR)$(LIBDIR)/libostick.a $(DESTDIR)$(INCLUDEDIR)/ostick.h \
		$(DESTDIR)$(PKGCONFIGDIR)/ostick.pc
	for f in $(wildcard udev-rules/*.rules.in); do \
		rm -f $(DESTDIR)$(UDEVDIR)/rules.d/$$(basename $$f .in); done
	for f in $(wildcard udev-rules/*.service.in); do rm -f $(DESTDIR)$(UNITDIR)/$$(basename $$f .in); done

FORMAT_SRCS = $(wildcard common/*.[ch] libostick/*.[ch] libostick/include/*.h bundler/*.[ch] \
	applier/*.[ch] samples/*.c tests/unit/*.[ch] tests/helpers/*.[ch] tests/fuzz/*.[ch])
## format: reformat the C sources with clang-format
format:
	clang-format -i $(FORMAT_SRCS)
## format-check: fail if any C source is not clang-formatted
format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRCS)

## clean: remove build directories and demo output
clean:
	rm -rf build build-asan build-fuzz demo-work

## help: list the targets
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

-include $(shell find $(BUILDDIR) -name '*.d' 2>/dev/null)

# Keep intermediate objects (fuzz and test objects are built through pattern chains).
.SECONDARY:
