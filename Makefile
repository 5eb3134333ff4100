# SPDX-License-Identifier: Apache-2.0
#
# The front door. `make demo` and `make check` are the README's two commands;
# each first makes sure the machine has what it needs.

MVN ?= ./mvnw -B -q
JAR := fuse-daemon/target/coco-secretfs.jar
DEPS := scripts/ensure-deps.sh

.PHONY: all build demo check java-check deps clean

all: build

deps:
	@sh $(DEPS) build fuse

build: deps
	$(MVN) -DskipTests package

demo: build
	java -jar $(JAR) demo

# Unit tests, then the FUSE mount tests (*IT) against the built jar.
java-check: deps
	$(MVN) verify

check: java-check

clean:
	$(MVN) clean
