# Install keepalived-rs: `make install` (builds with `cargo build --release` first), or
# `make install BIN=path/to/keepalived` to install an existing binary without building.
# DESTDIR stages the tree (packaging); PREFIX is /usr like Debian's keepalived.
# `make uninstall` removes what `install` put there; configuration files are removed only
# while they are unchanged copies of ours.

DESTDIR ?=
PREFIX ?= /usr
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/keepalived-rs
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
DBUSDIR ?= $(PREFIX)/share/dbus-1
MIBDIR ?= $(PREFIX)/share/snmp/mibs
CARGO ?= cargo
INSTALL ?= install
GZIP ?= gzip

ifeq ($(strip $(BIN)),)
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
BIN_FILE := $(TARGET_DIR)/release/keepalived
BUILD := build
else
BIN_FILE := $(BIN)
BUILD :=
endif

MAN1 := man/genhash.1
MAN5 := man/keepalived.conf.5
MAN8 := man/keepalived.8
SAMPLES := $(wildcard etc/keepalived/samples/*.conf)
# enable_dbus: the system bus policy and the interface descriptions, where keepalived has them.
DBUS_POLICY := org.keepalived.Vrrp1.conf
DBUS_INTERFACES := org.keepalived.Vrrp1.Vrrp.xml org.keepalived.Vrrp1.Instance.xml
# enable_snmp_vrrp: the MIB module of the objects served, where keepalived installs it.
MIBS := KEEPALIVED-MIB.txt
# Configuration files: installed only when absent, removed only when unchanged.
CONFFILES := keepalived/keepalived.conf default/keepalived sysconfig/keepalived

.PHONY: all build install uninstall check-bin

all: $(BUILD)

build:
	$(CARGO) build --release --bin keepalived

check-bin: $(BUILD)
	@test -x "$(BIN_FILE)" || { echo "no executable $(BIN_FILE)" >&2; exit 1; }

install: check-bin
	$(INSTALL) -d -m 755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR)/samples $(DESTDIR)$(DOCDIR)/init.d \
		$(DESTDIR)$(SYSCONFDIR)/keepalived $(DESTDIR)$(SYSCONFDIR)/default \
		$(DESTDIR)$(SYSCONFDIR)/sysconfig \
		$(DESTDIR)$(SYSCONFDIR)/dbus-1/system.d $(DESTDIR)$(DBUSDIR)/interfaces \
		$(DESTDIR)$(MIBDIR)
	$(INSTALL) -m 755 "$(BIN_FILE)" $(DESTDIR)$(SBINDIR)/keepalived
	# genhash is keepalived under another name (keepalived(8), genhash(1)).
	ln -sf $(shell realpath -m --relative-to=$(BINDIR) $(SBINDIR)/keepalived) \
		$(DESTDIR)$(BINDIR)/genhash
	$(INSTALL) -m 644 contrib/systemd/keepalived.service $(DESTDIR)$(UNITDIR)/keepalived.service
	$(GZIP) -9nc $(MAN1) > $(DESTDIR)$(MANDIR)/man1/genhash.1.gz
	$(GZIP) -9nc $(MAN5) > $(DESTDIR)$(MANDIR)/man5/keepalived.conf.5.gz
	$(GZIP) -9nc $(MAN8) > $(DESTDIR)$(MANDIR)/man8/keepalived.8.gz
	chmod 644 $(DESTDIR)$(MANDIR)/man1/genhash.1.gz $(DESTDIR)$(MANDIR)/man5/keepalived.conf.5.gz \
		$(DESTDIR)$(MANDIR)/man8/keepalived.8.gz
	$(INSTALL) -m 644 $(SAMPLES) $(DESTDIR)$(DOCDIR)/samples/
	$(INSTALL) -m 644 etc/keepalived/keepalived.conf $(DESTDIR)$(DOCDIR)/keepalived.conf.sample
	$(INSTALL) -m 755 contrib/init.d/keepalived.lsb contrib/init.d/keepalived.redhat \
		$(DESTDIR)$(DOCDIR)/init.d/
	$(INSTALL) -m 644 README.md $(DESTDIR)$(DOCDIR)/README.md
	$(INSTALL) -m 644 contrib/dbus/$(DBUS_POLICY) $(DESTDIR)$(SYSCONFDIR)/dbus-1/system.d/
	$(INSTALL) -m 644 $(addprefix contrib/dbus/,$(DBUS_INTERFACES)) $(DESTDIR)$(DBUSDIR)/interfaces/
	$(INSTALL) -m 644 $(addprefix contrib/snmp/,$(MIBS)) $(DESTDIR)$(MIBDIR)/
	@for f in $(CONFFILES); do \
		if [ -e "$(DESTDIR)$(SYSCONFDIR)/$$f" ]; then \
			echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/$$f"; \
		else \
			echo "$(INSTALL) -m 644 etc/$$f $(DESTDIR)$(SYSCONFDIR)/$$f"; \
			$(INSTALL) -m 644 "etc/$$f" "$(DESTDIR)$(SYSCONFDIR)/$$f" || exit 1; \
		fi; \
	done

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/keepalived $(DESTDIR)$(BINDIR)/genhash \
		$(DESTDIR)$(UNITDIR)/keepalived.service \
		$(DESTDIR)$(MANDIR)/man1/genhash.1.gz $(DESTDIR)$(MANDIR)/man5/keepalived.conf.5.gz \
		$(DESTDIR)$(MANDIR)/man8/keepalived.8.gz \
		$(DESTDIR)$(SYSCONFDIR)/dbus-1/system.d/$(DBUS_POLICY) \
		$(addprefix $(DESTDIR)$(DBUSDIR)/interfaces/,$(DBUS_INTERFACES)) \
		$(addprefix $(DESTDIR)$(MIBDIR)/,$(MIBS))
	rm -rf $(DESTDIR)$(DOCDIR)
	@for f in $(CONFFILES); do \
		if cmp -s "etc/$$f" "$(DESTDIR)$(SYSCONFDIR)/$$f"; then \
			echo "rm -f $(DESTDIR)$(SYSCONFDIR)/$$f"; rm -f "$(DESTDIR)$(SYSCONFDIR)/$$f"; \
		elif [ -e "$(DESTDIR)$(SYSCONFDIR)/$$f" ]; then \
			echo "keeping modified $(DESTDIR)$(SYSCONFDIR)/$$f"; \
		fi; \
	done
	rmdir $(DESTDIR)$(SYSCONFDIR)/keepalived 2>/dev/null || true
