# dbdump: one-way MySQL/MariaDB sync in two static binaries.
#   make demo    two throwaway MariaDB servers, a sample database, one sync
#   make test    unit tests and end-to-end tests against real MariaDB servers
#   make bench   speed and memory against mysqldump|mysql and LOAD DATA
#   make static  static x86-64 binaries (musl)
#   make arm     static aarch64 binaries (musl)
#   make deb     .deb packages of both binaries, amd64 and arm64, in target/deb
CARGO ?= cargo

.PHONY: all build release test lint fmt demo bench static arm deb clean

all: build

build:
	$(CARGO) build --bins

release:
	$(CARGO) build --release --bins

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -q -- -D warnings

test: build
	$(CARGO) test --workspace -q

fmt:
	$(CARGO) fmt --all

demo:
	scripts/demo

bench:
	scripts/bench

static:
	scripts/build-static x86_64

arm:
	scripts/build-static aarch64

deb:
	scripts/build-deb amd64 arm64

clean:
	$(CARGO) clean
