#!/usr/bin/env python3
"""scenarios.py: the end-to-end scenarios in a QEMU guest, as TAP lines (run.sh runs it).

usage: scenarios.py RUN_DIR [--tap-start N] [--state FILE] [--seed S] [SCENARIO...]
  RUN_DIR holds what run.sh made: disks/v1-{uboot,syslinux,provisioned-syslinux}.img,
  bundles/*.ostick, ostick.conf, v1.commit, v2.commit. SCENARIO names (default: all, in this
  order):
    s1-uboot, s1-syslinux  hot-plugged FAT32 stick with the v1->v2 delta: installed through
                           udev and systemd, rebooted by policy, up on v2; the stick left in
                           at the next boot is a no-op;
    s2-refused             tampered, forged and wrong-compatible bundles refused, still v1,
                           the result file on each stick says why;
    s3-power-cut           a power cut (QMP quit) at a random moment of each stage of an
                           install (verify, apply, deploy), each followed by a cold boot: v1 or
                           v2, intact, the default deployment; then re-plugging completes the
                           update;
    s4-two-sticks          two sticks at once: one installs, the other waits and is a no-op;
    s5-provisioned         the disk `ostick-apply provision` laid out from the full v1 bundle
                           (disks/v1-provisioned-syslinux.img) boots v1 with the provisioned
                           /etc/ostick, then takes the delta from a stick as in s1;
    s6-pending             v2 installed by hand (ostick-apply install, no reboot), then the
                           stick: up to date with a reboot pending, rebooted by policy into v2.
  Every scenario runs on a throw-away qcow2 overlay of the pristine v1 disk, with fresh sticks;
  s1 saves its booted v1 guest (savevm), and the later scenarios start from it (-loadvm).
  --state FILE gets the next TAP number, the failure count and the phase timings (JSON).
"""

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import Guest  # noqa: E402

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
KEY = os.path.join(E2E_DIR, "..", "data", "keys", "test-ed25519.pub.pem")  # the guest's keyring
# s1 saves its booted v1 guest as an internal snapshot of its qcow2 disk; the other scenarios
# start from a copy of that disk with -loadvm (a boot under TCG takes about a minute).
SNAPSHOT = "v1-booted"
SNAPSHOTS = {}  # bootloader: s1's disk holding SNAPSHOT
BOOT_TIMEOUT = 420  # TCG on a loaded 2-core machine: a boot takes 20-60 s
INSTALL_TIMEOUT = 600
REBOOT_TIMEOUT = 240
REBOOT_DELAY = 2  # [policy] reboot-delay in the guest's ostick.conf (mktrees.sh)
# ostick-apply's lines in the journal (applier/cli.c log_outcome), by the unit's identifier.
OUTCOME_RX = (r"ostick-usb\[\d+\]: ostick-apply: (?P<dev>\w+): (?P<kind>installed|up to date|"
	r"failed|no update bundle)(?P<rest>[^\r\n]*)\r?\n")
UNIT_RX = r"ostick-usb@(?P<dev>\w+)\.service"
# The stages of an install as the journal shows them, for s3's power cuts: ostick starts to
# install (after mounting the stick, verifying the signature and checking the device; then it
# applies the delta), libostree's deploy is copying /etc (the new deployment is checked out; the
# boot configuration swap, the cleanup and the result file follow).
INSTALLING_RX = r"ostick-usb\[\d+\]: ostick-apply: installing "
DEPLOYING_RX = r"ostick-apply\[\d+\]: Copying /etc changes"


class Failed(Exception):
	"""A check that failed: the scenario cannot go on."""


class Tap:
	def __init__(self, start):
		self.n = start - 1
		self.failed = 0
		self.timings = []

	def ok(self, passed, desc, *diag):
		self.n += 1
		if not passed:
			self.failed += 1
		print(f"{'ok' if passed else 'not ok'} {self.n} - {desc}", flush=True)
		for d in diag:
			self.diag(d)
		return passed

	def diag(self, text):
		for line in str(text).rstrip("\n").split("\n"):
			print(f"# {line}".rstrip(), flush=True)


class Scenario:
	def __init__(self, tap, run_dir, name, bootloader):
		self.tap = tap
		self.run = run_dir
		self.name = name
		self.bootloader = bootloader
		self.dir = os.path.join(run_dir, "scenarios", name)
		shutil.rmtree(self.dir, ignore_errors=True)
		os.makedirs(self.dir)
		self.v1 = read(os.path.join(run_dir, "v1.commit"))
		self.v2 = read(os.path.join(run_dir, "v2.commit"))
		self.disk = os.path.join(self.dir, "disk.qcow2")
		self.new_overlay()
		self.guest = Guest(self.dir, name, self.disk, bootloader)

	def new_overlay(self):
		"""A fresh copy-on-write disk over the pristine v1 image."""
		if os.path.exists(self.disk):
			os.unlink(self.disk)
		base = os.path.join(self.run, "disks", f"v1-{self.bootloader}.img")
		sh("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, self.disk)

	# ---- reporting
	def ok(self, passed, desc, *diag):
		return self.tap.ok(passed, f"{self.name}: {desc}", *diag)

	def must(self, passed, desc, *diag):
		if not self.ok(passed, desc, *diag):
			raise Failed(desc)

	def phase(self, what):
		return Phase(self, what)

	# ---- the guest
	def boot(self, sticks=(), what=None):
		with self.phase(what or f"boot {self.guest.boots + 1}"):
			self.guest.start(sticks)
			state = self.guest.wait_shell(BOOT_TIMEOUT)
		if state != "running":
			_, failed = self.guest.sh("systemctl --failed --no-legend --plain")
			self.tap.diag(f"system state after boot: {state}; failed units:\n{failed}")
		return state

	def boot_v1(self, what="boot v1"):
		"""The v1 device at its shell: s1's snapshot of its booted v1 guest (on this
		bootloader) restored on a copy of s1's disk when there is one, else a boot of a fresh
		overlay."""
		src = SNAPSHOTS.get(self.bootloader)
		if self.guest.running():
			self.guest.power_cut()
		if src is None:
			self.new_overlay()
			self.boot(what=what)
		else:
			with self.phase(f"{what} (s1's snapshot)"):
				shutil.copyfile(src, self.disk)
				self.guest.start(loadvm=SNAPSHOT)
				self.guest.sh("true", 120)
		self.check_on(self.v1, "1", what)

	def power_off(self):
		"""The end of a scenario: QMP quit (a clean shutdown is not under test, and costs
		time under TCG)."""
		with self.phase("power off (QMP quit)"):
			self.guest.power_cut()

	def deployments(self):
		"""[(booted, commit, note)] from `ostree admin status`, default first."""
		rc, out = self.guest.sh("ostree admin status")
		if rc != 0:
			raise Failed(f"ostree admin status failed ({rc}): {out}")
		rx = re.compile(r"^([* ]) (\S+) ([0-9a-f]{64})\.\d+(?: \((\w+)\))?", re.M)
		return [(m.group(1) == "*", m.group(3), m.group(4) or "") for m in rx.finditer(out)]

	def version_file(self):
		return self.guest.sh("cat /usr/lib/ostick-e2e/version")[1].strip()

	def name_of(self, commit):
		return {self.v1: "v1", self.v2: "v2"}.get(commit, commit[:12])

	def describe(self, deps):
		return ", ".join(f"{'*' if b else ''}{self.name_of(c)}{'(' + n + ')' if n else ''}"
			for b, c, n in deps)

	def check_on(self, commit, version, what):
		"""Booted @commit (the default), version file @version."""
		deps = self.deployments()
		ver = self.version_file()
		booted = [c for b, c, _ in deps if b]
		passed = bool(deps) and booted == [commit] and deps[0][1] == commit and ver == version
		self.ok(passed, f"{what}: booted {self.name_of(booted[0]) if booted else 'nothing'}"
			f" (ostree admin status: {self.describe(deps)}), version file {ver!r}")
		if not passed:
			raise Failed(what)
		return deps

	def wait_outcome(self, since, timeout=INSTALL_TIMEOUT):
		"""The next ostick-usb outcome line after journal position @since: (device, kind,
		line, end position)."""
		m = self.guest.journal.wait(OUTCOME_RX, timeout, since)
		return (m.group("dev").decode(), m.group("kind").decode(),
			m.group(0).decode(errors="replace").strip(), m.end())

	def unit_status(self, dev, timeout=60):
		"""The unit's ActiveState, Result and ExecMainStatus once it has ended (ostick logs
		its outcome line just before it exits)."""
		unit = f"ostick-usb@{dev}.service"
		_, out = self.guest.sh(f"for i in $(seq {timeout * 2}); do "
			f"case $(systemctl show -P ActiveState {unit}) in "
			f"activating|deactivating|active|reloading) sleep 0.5 ;; *) break ;; esac; done; "
			f"systemctl show -p ActiveState -p Result -p ExecMainStatus {unit}", timeout + 30)
		return dict(line.split("=", 1) for line in out.split() if "=" in line)

	def stick(self, name, kind, files):
		img = os.path.join(self.dir, f"{name}.img")
		sh(os.path.join(E2E_DIR, "mkstick.sh"), kind, img,
			*[f"{dest}={os.path.join(self.run, 'bundles', src)}" for dest, src in files])
		return img

	def finish(self):
		self.guest.kill()


class Phase:
	def __init__(self, scenario, what):
		self.s = scenario
		self.what = what

	def __enter__(self):
		self.t = time.monotonic()
		return self

	def __exit__(self, exc_type, exc, tb):
		dt = time.monotonic() - self.t
		self.s.tap.timings.append((self.s.name, self.what, round(dt, 1)))
		self.s.tap.diag(f"  [{self.s.name}] {self.what}: {dt:.1f} s"
			+ ("" if exc_type is None else " (failed)"))
		return False


def read(path):
	with open(path) as f:
		return f.read().strip()


def sh(*cmd):
	return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def stick_results(kind, img):
	"""{file name: text} of the ostick-result-*.txt files on a stick image (mtools/debugfs)."""
	results = {}
	if kind == "fat32":
		dev = f"{img}@@1M"
		for line in sh("mdir", "-b", "-i", dev, "::/").split():
			name = line.rsplit("/", 1)[-1]
			if name.startswith("ostick-result-"):
				results[name] = sh("mtype", "-i", dev, f"::/{name}")
	else:
		for line in sh("debugfs", "-R", "ls -p /", img).splitlines():
			fields = line.strip("/").split("/")
			if len(fields) > 4 and fields[4].startswith("ostick-result-"):
				results[fields[4]] = sh("debugfs", "-R", f"cat /{fields[4]}", img)
	return results


def parse_result(text):
	"""The result file's fields (the first of each key) and its notes."""
	fields, notes = {}, []
	for line in text.splitlines():
		key, _, value = line.partition(": ")
		if key == "note":
			notes.append(value)
		elif key and key not in fields:
			fields[key] = value
	fields["notes"] = notes
	return fields


def reboot_by_policy(s, g, since):
	"""The phase from ostick's policy-reboot line (journal, after @since) to QEMU's exit."""
	with s.phase("reboot by policy"):
		g.journal.wait(r"rebooting in \d+ s \(\[policy\] reboot=after-install\)", 30, since)
		g.wait_exit(REBOOT_TIMEOUT)


def one_result(s, kind, img, what):
	results = stick_results(kind, img)
	s.must(len(results) == 1, f"{what}: one ostick-result-*.txt on the stick "
		f"({', '.join(results) or 'none'})")
	text = next(iter(results.values()))
	return parse_result(text), text


# ---------------------------------------------------------------------------------------------
def s1_update(s, measure):
	"""Hot-plugged FAT32 stick with the v1->v2 delta; reboot by policy; up on v2."""
	g = s.guest
	s.boot(what="boot v1")
	s.check_on(s.v1, "1", "before")
	with s.phase("snapshot for the other scenarios"):
		g.savevm(SNAPSHOT)
	SNAPSHOTS[s.bootloader] = s.disk
	img = stick_update(s, measure)
	dev2, kind2, line2, _ = s.wait_outcome(0, 120)
	time.sleep(REBOOT_DELAY + 3)
	again = g.journal.text().count("reboot=after-install")
	s.ok(kind2 == "up to date" and g.running() and again == 0,
		"the stick left in at boot: up to date, no second install, no reboot", line2)
	with s.phase("unplug"):
		g.unplug("stick")
	res, text = one_result(s, "fat32", img, "after the boot with the stick in")
	s.ok(res.get("outcome") == "up-to-date", "result file now says up-to-date", text)
	s.power_off()


def stick_update(s, measure):
	"""The booted v1 guest takes a hot-plugged FAT32 stick with the delta: installed, rebooted
	by policy, the result file says so; booted again with the stick in: v2, v1 the rollback.
	Returns the stick's image."""
	g = s.guest
	img = s.stick("stick", "fat32", [("update.ostick", "delta.ostick")])
	since = g.journal.mark()
	with s.phase("hot-plug -> installed"):
		t_plug = time.monotonic()
		g.plug("stick", img)
		unit = g.journal.wait(UNIT_RX, 60, since)
		t_unit = time.monotonic() - t_plug
		g.journal.wait(INSTALLING_RX, INSTALL_TIMEOUT, since)
		t_installing = time.monotonic() - t_plug
		g.journal.wait(DEPLOYING_RX, INSTALL_TIMEOUT, since)
		t_deploying = time.monotonic() - t_plug
		dev, kind, line, _ = s.wait_outcome(since)
		t_done = time.monotonic() - t_plug
	s.must(kind == "installed" and " 2 " in line and "over 1" in line,
		f"udev started ostick-usb@{unit.group('dev').decode()}.service "
		f"({t_unit:.1f} s after the plug); it installed v2 over v1", line)
	s.tap.diag(f"after the plug: unit {t_unit:.1f} s, installing {t_installing:.1f} s, "
		f"deploying {t_deploying:.1f} s, installed {t_done:.1f} s")
	# The longest of the s1 runs: s3's cut windows must not end before the stage does.
	for key, value in (("unit", t_unit), ("installing", t_installing),
			("deploying", t_deploying), ("done", t_done)):
		measure[key] = max(measure.get(key, 0.0), value)
	reboot_by_policy(s, g, since)
	s.ok(True, "the guest rebooted by policy (reboot=after-install)")
	res, text = one_result(s, "fat32", img, "after the install")
	s.ok(res.get("outcome") == "installed" and res.get("from", "").startswith("1 ")
		and res.get("to", "").startswith("2 "),
		"result file on the stick: installed, from 1 to 2", text)
	s.boot([("stick", img)], what="boot v2 (stick still in)")
	deps = s.check_on(s.v2, "2", "after the reboot")
	s.ok([c for _, c, _ in deps] == [s.v2, s.v1], "v1 is kept as the rollback deployment",
		s.describe(deps))
	return img


def s2_refused(s, measure):
	"""Tampered (payload), forged (signed manifest) and wrong-compatible bundles: refused,
	still v1, the result file on each stick says why."""
	g = s.guest
	s.boot_v1()
	loader = {"uboot": "/boot/loader/uEnv.txt", "syslinux": "/boot/loader/syslinux.cfg"}
	# Also: no v2 commit and not one more object in the repo (a refused bundle writes nothing).
	probe = (f"ostree admin status; ostree refs; ls /ostree/deploy/debian/deploy; "
		f"readlink /boot/loader; sha256sum {loader[s.bootloader]}; "
		f"ostree show {s.v2} >/dev/null 2>&1 && echo v2 commit present || echo no v2 commit; "
		f"echo objects: $(find /ostree/repo/objects -type f | wc -l)")
	_, before = g.sh(probe)
	cases = [("tampered", "tampered.ostick", 4, r"'delta/0' does not match the signed manifest"),
		("forged", "forged.ostick", 4, r"signature does not verify"),
		("wrong-compatible", "wrong-compatible.ostick", 3,
			r"is for 'ostick-e2e-other-board', this device is 'ostick-e2e-qemu'")]
	for name, bundle, code, why in cases:
		img = s.stick(name, "fat32", [(bundle, bundle)])
		since = g.journal.mark()
		with s.phase(f"{name}: hot-plug -> refused"):
			g.plug(name, img)
			dev, kind, line, _ = s.wait_outcome(since)
			status = s.unit_status(dev)
		s.ok(kind == "failed" and status.get("ActiveState") == "failed"
			and status.get("ExecMainStatus") == str(code),
			f"{name} bundle refused: unit {status.get('ActiveState')} with exit "
			f"{status.get('ExecMainStatus')} (want failed, {code})", line)
		g.unplug(name)
		res, text = one_result(s, "fat32", img, name)
		s.ok(res.get("outcome") == "failed" and re.search(why, res.get("reason", "")),
			f"{name}: the result file says failed, and why", text)
	_, after = g.sh(probe)
	s.ok(after == before and "no v2 commit" in after and g.running(), "nothing changed: "
		"deployments, refs, boot configuration, repo objects (no v2 commit); no reboot",
		*([] if after == before else [before, after]))
	s.check_on(s.v1, "1", "still")
	s.power_off()


def s3_power_cut(s, measure, rng):
	"""A power cut at a random moment of each stage of an install, each followed by a cold
	boot: v1 or v2, intact, the default deployment. The cuts accumulate on one device (a cut that did not leave a plain v1
	restarts from v1); then re-plugging the stick completes the update."""
	g = s.guest
	# Each stage's window starts at a line in this guest's journal and lasts as long as the
	# stage took in s1 (measured from the plug; defaults for a run without s1).
	m = {"unit": 4.0, "installing": 10.0, "deploying": 30.0, "done": 36.0}
	m.update(measure)
	stages = [  # (what, from (journal line), its regex, window in s)
		("mount, verify, check", "the plug", None, m["unit"], m["installing"]),
		("apply the delta, check out", "'installing'", INSTALLING_RX, 0.0,
			m["deploying"] - m["installing"]),
		# Up to the policy reboot and a little into the shutdown.
		("deploy, boot config swap, cleanup, reboot", "'Copying /etc changes'", DEPLOYING_RX,
			0.0, m["done"] - m["deploying"] + REBOOT_DELAY + 1.0),
	]
	img = s.stick("stick", "fat32", [("update.ostick", "delta.ostick")])
	on = default = None
	want = {s.v1: "1", s.v2: "2"}
	for k, (stage, after, anchor, lo, hi) in enumerate(stages):
		tag = f"cut {k + 1}/{len(stages)}"
		at = rng.uniform(lo, max(lo, hi))
		where = f"{at:.1f} s after {after}"
		if on != s.v1 or default != s.v1:
			s.boot_v1(f"{tag}: v1" if on is None else f"{tag}: back to v1 (the last cut did not "
				"leave a plain v1)")
		since = g.journal.mark()
		with s.phase(f"{tag} ({stage}): plug, cut {where}"):
			g.plug("stick", img)
			t0 = time.monotonic()
			if anchor is not None:
				try:
					g.journal.wait(anchor, INSTALL_TIMEOUT, since)
				except Exception as e:
					s.must(False, f"{tag}: the journal shows the stage's start", str(e))
				t0 = time.monotonic()
			time.sleep(max(0.0, at - (time.monotonic() - t0)))
			lines = [ln for ln in g.journal.text(since).splitlines() if "ostick-apply" in ln]
			self_rebooted = not g.running()
			g.power_cut()
		doing = lines[-1].split(": ", 1)[-1] if lines else "(no ostick line yet)"
		s.tap.diag(f"{tag}: power cut {where}"
			+ (" (the guest was already rebooting by itself)" if self_rebooted else "")
			+ f"; the journal's last ostick line: {doing}")
		s.boot(what=f"{tag}: cold boot")
		deps = s.deployments()
		booted = [c for b, c, _ in deps if b]
		ver = s.version_file()
		rc, status = g.sh("ostick-apply status")
		on = booted[0] if len(booted) == 1 else None
		default = deps[0][1] if deps else None
		s.must(on in want and ver == want[on] and rc == 0 and all(c in want for _, c, _ in deps),
			f"{tag} ({stage}, {where}): boots {s.name_of(on) if on else 'nothing'}, "
			f"intact (ostree admin status: {s.describe(deps)}; version file {ver!r}; "
			f"ostick-apply status: exit {rc})", status)
		# The boot configuration the bootloader read must be the one Linux sees: else the
		# device runs the old version while libostree and ostick take the new one as done.
		s.ok(default == on, f"{tag}: the bootloader started the default deployment "
			f"({s.name_of(default) if default else 'none'})",
			*([] if default == on else [f"booted {s.name_of(on)}, but the default (the last "
				f"boot configuration libostree switched to) is {s.name_of(default)}: the "
				"bootloader read an older boot configuration than Linux sees"]))
	since = g.journal.mark()
	# Booted v1 with v2 the default (a cut after the swap but before the policy reboot, or a
	# bootloader that read an older configuration): installed but not booted, so the stick
	# is up to date and the policy reboots into v2 (applier/cli.c wants_reboot).
	pending = default == s.v2 and on != s.v2
	with s.phase("re-plug"):
		g.plug("stick", img)
		dev, kind, line, _ = s.wait_outcome(since)
		if kind == "installed" or pending:
			g.wait_exit(REBOOT_TIMEOUT)
		else:
			time.sleep(REBOOT_DELAY + 3)
	want_kind = "installed" if default == s.v1 else "up to date"
	s.ok(kind == want_kind and (not pending or "reboot pending" in line),
		f"re-plugged (booted {s.name_of(on)}, default {s.name_of(default)}): {kind}"
		+ (" (reboot pending: rebooted by policy)" if pending else ""), line)
	if not g.running():
		s.boot(what="boot after the re-plug")
	s.check_on(s.v2, "2", "re-plugging completed the update")
	s.power_off()


def s4_two_sticks(s, measure):
	"""Two sticks at once: one installs, the other waits for the lock and then finds the
	update installed (or is stopped, cleanly, by the policy reboot while it waits)."""
	g = s.guest
	s.boot_v1()
	a = s.stick("stick-a", "fat32", [("update.ostick", "delta.ostick")])
	b = s.stick("stick-b", "ext4", [("ostick/update.ostick", "delta.ostick")])
	with s.phase("two sticks -> reboot"):
		g.plug("stick-a", a)
		g.plug("stick-b", b)
		g.wait_exit(INSTALL_TIMEOUT)
	log = g.last_journal
	lines = [ln for ln in log.splitlines() if "ostick-apply" in ln]
	outcomes = [(m.group("dev"), m.group("kind"), m.group("rest"))
		for m in re.finditer(OUTCOME_RX, log)]
	installed = [d for d, k, _ in outcomes if k == "installed"]
	others = [(d, k, r) for d, k, r in outcomes if k != "installed"]
	waited = "another update is running: waiting" in log
	deploys = re.findall(r"Transaction complete; bootconfig swap: yes;[^\n]*", log)
	clean = all(k == "up to date" or re.search(r"(?i)cancel|interrupt", r)
		for _, k, r in others)
	s.ok(len(installed) == 1 and clean and len(deploys) == 1,
		f"one stick installed ({', '.join(installed) or 'none'}), one deployment written; "
		f"the other {'waited for the lock, then ' if waited else ''}"
		+ (", ".join(f"{d}: {k}{r}" for d, k, r in others) or "was still waiting at the reboot"),
		*lines)
	results = {}
	for kind, img in (("fat32", a), ("ext4", b)):
		res, text = one_result(s, kind, img, f"{kind} stick")
		results[kind] = res
		s.tap.diag(text)
	outcomes = sorted(r.get("outcome") for r in results.values())
	# A stick stopped by the reboot while it waited says so: cancelled, nothing else.
	stopped = all(re.search(r"(?i)cancel", r.get("reason", ""))
		for r in results.values() if r.get("outcome") == "failed")
	s.ok(outcomes in (["installed", "up-to-date"], ["failed", "installed"]) and stopped
		and clean, "the result files: " + ", ".join(
			f"{k} stick {r.get('outcome')}" + (f" ({r['reason']})" if "reason" in r else "")
			for k, r in results.items()))
	# (The boot into v2 with sticks left in is s1's: a boot costs a minute or two under TCG.)


def s5_provisioned(s, measure):
	"""The factory-provisioned disk (mkdisk.sh: `ostick-apply provision --bootloader syslinux`
	from the full v1 bundle, then extlinux): boots v1 with the /etc/ostick provision wrote; then
	takes the delta from a stick as s1's devices do."""
	g = s.guest
	s.boot(what="boot v1 (provisioned)")
	deps = s.check_on(s.v1, "1", "provisioned")
	s.ok(len(deps) == 1, "one deployment, as provisioned", s.describe(deps))
	# The device config: the one given to provision (--device-config), byte for byte.
	with open(os.path.join(s.run, "ostick.conf"), "rb") as f:
		want = hashlib.sha256(f.read()).hexdigest()
	_, got = g.sh("sha256sum /etc/ostick/ostick.conf")
	s.ok(got.split()[:1] == [want], "/etc/ostick/ostick.conf is the provisioned device config",
		got)
	# The keyring: the key that verified the full bundle, as <key id>.pem, which only provision
	# writes (the tree's /usr/etc has test-ed25519.pub.pem): /etc's own, not the tree's.
	der = subprocess.run(["openssl", "pkey", "-pubin", "-in", KEY, "-outform", "DER"],
		check=True, capture_output=True).stdout
	keyfile = f"{hashlib.sha256(der).hexdigest()}.pem"
	_, pem = g.sh(f"cat /etc/ostick/keyring.d/{keyfile}")
	same = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem.encode(),
		capture_output=True).stdout == der
	_, diff = g.sh("ls /etc/ostick/keyring.d; ostree admin config-diff | grep ostick")
	s.ok(same and re.search(rf"^A\s+ostick/keyring\.d/{keyfile}$", diff, re.M) is not None,
		f"/etc/ostick/keyring.d has the provisioned key {keyfile[:12]}... (the test key; "
		"added to /etc, per ostree admin config-diff)", diff)
	stick_update(s, {})  # (s3's stage windows stay s1's)
	s.power_off()


def s6_pending(s, measure):
	"""v2 installed by hand on the console (`ostick-apply install`, no reboot): the default
	deployment, not the booted one. The stick then finds it up to date with a reboot pending,
	and the policy reboots the guest into v2; the stick left in at that boot is a no-op."""
	g = s.guest
	s.boot_v1()
	img = s.stick("stick", "fat32", [("update.ostick", "delta.ostick")])
	# This once, udev's rule must not start the handler: the template masked for this boot.
	rc, out = g.sh("systemctl mask --runtime ostick-usb@.service && "
		"systemctl show -P LoadState ostick-usb@sda1.service")
	s.must(rc == 0 and out.strip().splitlines()[-1:] == ["masked"],
		"ostick-usb@.service masked (--runtime)", out)
	with s.phase("install by hand (ostick-apply install on the console, no reboot)"):
		g.plug("stick", img)
		rc, out = g.sh("for i in $(seq 120); do [ -b /dev/disk/by-label/OSTICK ] && break; "
			"sleep 0.5; done; mkdir -p /mnt/stick && "
			"mount -o ro /dev/disk/by-label/OSTICK /mnt/stick && "
			"ostick-apply install --progress=none /mnt/stick/update.ostick; rc=$?; "
			"umount /mnt/stick; "
			"(exit $rc)", INSTALL_TIMEOUT)
		g.unplug("stick")
	s.must(rc == 0 and re.search(r"^installed \S+ 2 .* over 1", out, re.M) is not None,
		f"ostick-apply install from the console: exit {rc}, installed 2 over 1", out)
	deps = s.deployments()
	booted = [c for b, c, _ in deps if b]
	rc, status = g.sh("ostick-apply status")
	s.must(bool(deps) and deps[0][1] == s.v2 and booted == [s.v1]
		and "pending (reboot to use)" in status and g.running(),
		f"v2 is the default, v1 still booted ({s.describe(deps)}); status says pending; "
		"no reboot", status)
	rc, out = g.sh("systemctl unmask --runtime ostick-usb@.service")
	s.must(rc == 0, "ostick-usb@.service unmasked", out)
	since = g.journal.mark()
	with s.phase("hot-plug -> up to date, reboot pending"):
		g.plug("stick", img)
		dev, kind, line, _ = s.wait_outcome(since)
	s.must(kind == "up to date" and "reboot pending" in line,
		f"the stick on ostick-usb@{dev}: up to date, v2 installed but not booted (reboot "
		"pending)", line)
	reboot_by_policy(s, g, since)
	s.ok(True, "the guest rebooted by policy for the pending v2")
	res, text = one_result(s, "fat32", img, "after the pending reboot")
	s.ok(res.get("outcome") == "up-to-date" and res.get("reboot pending", "").startswith("yes")
		and res.get("to", "").startswith("2 "),
		"result file on the stick: up-to-date, to 2, reboot pending", text)
	s.boot([("stick", img)], what="boot v2 (stick still in)")
	s.check_on(s.v2, "2", "after the policy reboot")
	dev2, kind2, line2, _ = s.wait_outcome(0, 120)
	time.sleep(REBOOT_DELAY + 3)
	again = g.journal.text().count("reboot=after-install")
	s.ok(kind2 == "up to date" and "reboot pending" not in line2 and g.running()
		and again == 0, "the stick left in at boot: up to date, nothing pending, no reboot",
		line2)
	s.power_off()


SCENARIOS = {
	"s1-uboot": ("uboot", s1_update),
	"s1-syslinux": ("syslinux", s1_update),
	"s2-refused": ("uboot", s2_refused),
	"s3-power-cut": ("syslinux", s3_power_cut),
	"s4-two-sticks": ("uboot", s4_two_sticks),
	"s5-provisioned": ("provisioned-syslinux", s5_provisioned),
	"s6-pending": ("syslinux", s6_pending),
}


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("run_dir")
	ap.add_argument("--tap-start", type=int, default=1)
	ap.add_argument("--state")
	ap.add_argument("--seed", type=int, default=int(os.environ.get("E2E_SEED", "0")) or None)
	ap.add_argument("scenarios", nargs="*")
	a = ap.parse_intermixed_args()
	# Stopped (make interrupted, CI timeout): unwind, so that every QEMU is killed.
	signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
	a.run_dir = os.path.abspath(a.run_dir)
	names = a.scenarios or list(SCENARIOS)
	seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1, 1 << 30)
	rng = random.Random(seed)
	tap = Tap(a.tap_start)
	tap.diag(f"scenarios: {' '.join(names)}; power-cut seed {seed} (E2E_SEED={seed} repeats it)")
	measure = {}
	for name in names:
		bootloader, func = SCENARIOS[name]
		s = Scenario(tap, a.run_dir, name, bootloader)
		args = (s, measure, rng) if func is s3_power_cut else (s, measure)
		try:
			with s.phase("total"):
				func(*args)
		except Failed:
			tap.diag(f"{name}: stopped after a failed check")
		except Exception as e:  # a harness or guest error: one failing line, then go on
			tap.ok(False, f"{name}: ran to the end", f"{type(e).__name__}: {e}",
				traceback.format_exc(limit=3))
		finally:
			s.finish()
	if a.state:
		with open(a.state, "w") as f:
			json.dump({"next": tap.n + 1, "failed": tap.failed, "timings": tap.timings}, f)
	return 1 if tap.failed else 0


if __name__ == "__main__":
	sys.exit(main())
