# SPDX-License-Identifier: Apache-2.0
#
# The front door. `make demo` and `make check` are the README's two commands;
# each first makes sure the machine has what it needs.

MVN ?= ./mvnw -B -q
JAR := fuse-daemon/target/coco-secretfs.jar
# picocli's man page generator, put beside the jar by the build (it is not in the jar).
MAN_GENERATOR := fuse-daemon/target/man-generator/picocli-codegen.jar
MANOUT := target/man
DEPS := scripts/ensure-deps.sh
VERSION := $(shell sed -n 's:^  <version>\(.*\)</version>:\1:p' pom.xml | head -n 1)

PREFIX ?= /usr
DESTDIR ?=
SYSTEMDUNITDIR ?= /lib/systemd/system
MANDIR ?= $(PREFIX)/share/man
BASHCOMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
MODULESLOADDIR ?= /usr/lib/modules-load.d
SYSCONFDIR ?= /etc
SHAREDIR = $(PREFIX)/share/coco-secretfs
SHIM_SOURCES = kernel-shim/coco_secret_shim.c kernel-shim/Kbuild kernel-shim/Makefile kernel-shim/dkms.conf

.PHONY: all deps build demo check java-check unit-check vm-check man man-check bench install install-files deb \
	deb-upgrade deb-files clean

all: build

deps:
	@sh $(DEPS) build fuse

build: deps
	$(MVN) -DskipTests package

demo: build
	java -jar $(JAR) demo

# Unit tests, the fuzz test for its full minute, then the FUSE mount tests (*IT) against the built jar.
java-check: deps
	@sh $(DEPS) container fusedev abi
	./mvnw -B -ntp verify -Djazzer.fuzz=1

# The kernel shim and the daemon on it, in a QEMU guest (TCG).
vm-check: build deb deb-upgrade
	@sh $(DEPS) build fuse vm
	bash vm-test/run.sh

# The unit as installed: systemd-analyze verify must be clean.
unit-check: deb
	@sh $(DEPS) systemd
	sh systemd/verify.sh target/deb/root

# The man pages and the bash completion, generated from the picocli commands by picocli's own
# generators (AsciiDoc, then Debian's asciidoctor for roff); `make demo` does without them.
man: build
	@sh $(DEPS) man
	sh scripts/build-man.sh $(JAR) $(MAN_GENERATOR) $(VERSION) $(MANOUT)

# The pages as installed render with man, `man coco-secretfs` finds them (also after a real `make install`
# into a throwaway mount namespace), they name every command and option, the completion completes them,
# and the package holds them.
man-check: deb
	@sh $(DEPS) man
	sh scripts/check-man.sh $(JAR) target/deb/root target/coco-secretfs_$(VERSION)_amd64.deb

check: java-check unit-check man-check vm-check

bench: build
	@sh $(DEPS) bench
	bash bench/run.sh

# Installs the jar, its launcher, the man pages, the bash completion, the systemd unit and the shim's
# source for DKMS.
install: build man
	$(MAKE) --no-print-directory install-files

install-files:
	install -d $(DESTDIR)$(SHAREDIR) $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(MODULESLOADDIR) $(DESTDIR)$(PREFIX)/src/coco-secret-shim-$(VERSION) \
		$(DESTDIR)$(PREFIX)/share/doc/coco-secretfs $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPLETIONDIR)
	install -m 0644 $(JAR) $(DESTDIR)$(SHAREDIR)/coco-secretfs.jar
	install -m 0755 dist/coco-secretfs $(DESTDIR)$(PREFIX)/bin/coco-secretfs
	install -m 0755 dist/build-cds.sh $(DESTDIR)$(SHAREDIR)/build-cds.sh
	sed 's#/usr/bin/coco-secretfs#$(PREFIX)/bin/coco-secretfs#' systemd/coco-secretfs.service \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/coco-secretfs.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/coco-secretfs.service
	install -m 0644 systemd/modules-load.conf $(DESTDIR)$(MODULESLOADDIR)/coco-secretfs.conf
	install -d $(DESTDIR)$(SYSCONFDIR)/coco-secretfs
	install -m 0644 systemd/policy.example $(DESTDIR)$(SYSCONFDIR)/coco-secretfs/policy.example
	install -m 0644 $(SHIM_SOURCES) $(DESTDIR)$(PREFIX)/src/coco-secret-shim-$(VERSION)/
	sed -i 's/^PACKAGE_VERSION=.*/PACKAGE_VERSION="$(VERSION)"/' \
		$(DESTDIR)$(PREFIX)/src/coco-secret-shim-$(VERSION)/dkms.conf
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/coco-secretfs/README.md
	@# Compressed as Debian's policy wants them; man reads both.
	for page in $(MANOUT)/man1/*.1; do \
		gzip -9n < $$page > $(DESTDIR)$(MANDIR)/man1/$${page##*/}.gz && \
		chmod 0644 $(DESTDIR)$(MANDIR)/man1/$${page##*/}.gz || exit 1; done
	install -m 0644 $(MANOUT)/coco-secretfs.bash $(DESTDIR)$(BASHCOMPLETIONDIR)/coco-secretfs
	@# The class-data archive must be built where the jar will run from: here, or by the package's postinst.
	if [ -z "$(DESTDIR)" ]; then COCO_SECRETFS_LAUNCHER=$(PREFIX)/bin/coco-secretfs COCO_SECRETFS_JAR=$(SHAREDIR)/coco-secretfs.jar \
		sh $(SHAREDIR)/build-cds.sh $(SHAREDIR)/coco-secretfs.jar /var/cache/coco-secretfs --force; fi

# A Debian package of the same; installing it enables and starts the service.
deb: build man
	@sh $(DEPS) deb
	$(MAKE) --no-print-directory deb-files

# The same package at a higher version, in target/upgrade/: what vm-test upgrades to.
deb-upgrade: build man
	@sh $(DEPS) deb
	$(MAKE) --no-print-directory deb-files VERSION=$(VERSION)+1 DEBDIR=target/upgrade

DEBDIR ?= target
deb-files:
	rm -rf $(DEBDIR)/deb && mkdir -p $(DEBDIR)/deb/root/DEBIAN
	$(MAKE) --no-print-directory install-files DESTDIR=$(CURDIR)/$(DEBDIR)/deb/root PREFIX=/usr
	sed 's/@VERSION@/$(VERSION)/' packaging/debian/control > $(DEBDIR)/deb/root/DEBIAN/control
	for f in postinst prerm postrm; do \
		sed 's/@VERSION@/$(VERSION)/' packaging/debian/$$f > $(DEBDIR)/deb/root/DEBIAN/$$f; \
		chmod 0755 $(DEBDIR)/deb/root/DEBIAN/$$f; done
	install -m 0644 packaging/debian/triggers $(DEBDIR)/deb/root/DEBIAN/triggers
	install -m 0644 packaging/debian/conffiles $(DEBDIR)/deb/root/DEBIAN/conffiles
	dpkg-deb --root-owner-group --build $(DEBDIR)/deb/root $(DEBDIR)/coco-secretfs_$(VERSION)_amd64.deb

clean:
	$(MVN) clean
	rm -rf target
