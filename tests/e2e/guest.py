"""guest.py: drive one QEMU guest of the end-to-end harness.

A Guest is one QEMU process (TCG, no network) on a disk image, with:
  - ttyS0: the guest's console and an autologin root shell; Guest.sh() runs a command there;
  - ttyS1: the guest's journal, live (ostick-e2e-journal.service); Guest.journal.wait() waits
    for a line;
  - QMP: USB sticks are hot-plugged (blockdev-add + device_add usb-storage on a qemu-xhci bus)
    and pulled (device_del, blockdev-del); `quit` is the power cut.
QEMU runs with -no-reboot: a reboot in the guest ends the process, and the harness starts a new
one on the same disk (a cold boot; a warm reset under TCG is slow).

Reader threads drain both serial sockets all the time (an unread socket stalls the guest's UART)
into buffers and log files.
"""

import json
import os
import re
import socket
import subprocess
import threading
import time

UBOOT_ROM = "/usr/lib/u-boot/qemu-x86/u-boot.rom"


class Timeout(Exception):
	pass


class Stream:
	"""Bytes read from a unix socket by a thread, searchable by position."""

	def __init__(self, path, log_path, connect_timeout=30):
		self.buf = b""
		self.cond = threading.Condition()
		self.closed = False
		self.log = open(log_path, "ab")
		deadline = time.monotonic() + connect_timeout
		while True:
			try:
				self.sock = socket.socket(socket.AF_UNIX)
				self.sock.connect(path)
				break
			except OSError:
				self.sock.close()
				if time.monotonic() > deadline:
					raise
				time.sleep(0.1)
		self.thread = threading.Thread(target=self._pump, daemon=True)
		self.thread.start()

	def _pump(self):
		while True:
			try:
				data = self.sock.recv(65536)
			except OSError:
				data = b""
			with self.cond:
				if not data:
					self.closed = True
					self.cond.notify_all()
					break
				self.buf += data
				self.log.write(data)
				self.log.flush()
				self.cond.notify_all()
		self.log.close()

	def mark(self):
		"""The current end of the stream: wait(since=mark) sees only what comes later."""
		with self.cond:
			return len(self.buf)

	def wait(self, pattern, timeout, since=0):
		"""Waits for the regex (str or bytes) after position @since; returns the match."""
		rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
		deadline = time.monotonic() + timeout
		with self.cond:
			while True:
				m = rx.search(self.buf, since)
				if m:
					return m
				left = deadline - time.monotonic()
				if left <= 0 or self.closed:
					tail = self.buf[-1500:].decode(errors="replace")
					raise Timeout(f"no {rx.pattern!r} within {timeout} s "
						f"({'closed' if self.closed else 'open'}); tail:\n{tail}")
				self.cond.wait(min(left, 1.0))

	def text(self, since=0):
		with self.cond:
			return self.buf[since:].decode(errors="replace")

	def send(self, data):
		self.sock.sendall(data)

	def close(self):
		try:
			self.sock.shutdown(socket.SHUT_RDWR)
		except OSError:
			pass
		self.sock.close()
		self.thread.join(5)


class QMP:
	def __init__(self, path, log, connect_timeout=30):
		deadline = time.monotonic() + connect_timeout
		while True:
			try:
				self.sock = socket.socket(socket.AF_UNIX)
				self.sock.connect(path)
				break
			except OSError:
				self.sock.close()
				if time.monotonic() > deadline:
					raise
				time.sleep(0.1)
		self.file = self.sock.makefile("rw")
		self.events = []
		self.log = log
		json.loads(self.file.readline())
		self.cmd("qmp_capabilities")

	def _read(self):
		line = self.file.readline()
		if not line:
			raise EOFError("QMP connection closed")
		msg = json.loads(line)
		if "event" in msg:
			self.events.append(msg)
		return msg

	def cmd(self, name, check=True, **args):
		self.file.write(json.dumps({"execute": name, "arguments": args}) + "\n")
		self.file.flush()
		while True:
			msg = self._read()
			if "return" in msg or "error" in msg:
				self.log(f"qmp {name} {json.dumps(args)} -> {json.dumps(msg)}")
				if check and "error" in msg:
					raise RuntimeError(f"QMP {name}: {msg['error']}")
				return msg

	def wait_event(self, name, timeout, match=lambda e: True):
		deadline = time.monotonic() + timeout
		while True:
			for i, e in enumerate(self.events):
				if e["event"] == name and match(e):
					return self.events.pop(i)
			left = deadline - time.monotonic()
			if left <= 0:
				raise Timeout(f"no QMP event {name} within {timeout} s")
			self.sock.settimeout(left)
			try:
				self._read()
			finally:
				self.sock.settimeout(None)


class Guest:
	def __init__(self, workdir, name, disk, bootloader, mem=1024, smp=2):
		self.dir = workdir
		self.name = name
		self.disk = disk
		self.bootloader = bootloader
		self.mem = mem
		self.smp = smp
		self.proc = None
		self.boots = 0
		self.sticks = {}
		self._n = 0

	# ---- process
	def start(self, sticks=(), loadvm=None):
		"""Powers on (a cold boot); @sticks are (id, image) plugged in before power-on.
		With @loadvm, resumes the disk's internal snapshot of that name instead (see
		savevm): the guest goes on where it was, e.g. at its shell."""
		assert self.proc is None or self.proc.poll() is not None
		self.boots += 1
		tag = f"{self.name}-boot{self.boots}"
		qmp_path = os.path.join(self.dir, "qmp.sock")
		con_path = os.path.join(self.dir, "console.sock")
		jrn_path = os.path.join(self.dir, "journal.sock")
		for p in (qmp_path, con_path, jrn_path):
			if os.path.exists(p):
				os.unlink(p)
		cmd = ["qemu-system-x86_64", "-accel", os.environ.get("E2E_ACCEL", "tcg"),
			"-cpu", "max", "-smp", str(self.smp), "-m", str(self.mem),
			"-display", "none", "-vga", "none", "-monitor", "none", "-parallel", "none",
			"-nic", "none", "-no-reboot",
			"-drive", f"file={self.disk},format=qcow2,if=virtio",
			"-device", "qemu-xhci,id=xhci",
			"-qmp", f"unix:{qmp_path},server=on,wait=off",
			"-chardev", f"socket,id=con,path={con_path},server=on,wait=off",
			"-serial", "chardev:con",
			"-chardev", f"socket,id=jrn,path={jrn_path},server=on,wait=off",
			"-serial", "chardev:jrn"]
		if self.bootloader == "uboot":
			cmd += ["-bios", UBOOT_ROM]
		if loadvm:
			cmd += ["-loadvm", loadvm]
		self.sticks = {}
		for stick_id, image in sticks:
			cmd += ["-blockdev", f"driver=raw,node-name={stick_id},file.driver=file,"
				f"file.filename={image}",
				"-device", f"usb-storage,bus=xhci.0,drive={stick_id},"
				f"id={stick_id}-dev,removable=on"]
			self.sticks[stick_id] = image
		with open(os.path.join(self.dir, f"{tag}.cmdline"), "w") as f:
			f.write(" ".join(cmd) + "\n")
		self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
			stdout=open(os.path.join(self.dir, f"{tag}.qemu.log"), "w"),
			stderr=subprocess.STDOUT)
		self.t_start = time.monotonic()
		if os.environ.get("E2E_QEMU_PIDS"):
			with open(os.environ["E2E_QEMU_PIDS"], "a") as f:
				f.write(f"{self.proc.pid}\n")
		self.qmp = QMP(qmp_path, lambda m: self._log(m))
		self.console = Stream(con_path, os.path.join(self.dir, f"{tag}.console.log"))
		self.journal = Stream(jrn_path, os.path.join(self.dir, f"{tag}.journal.log"))
		self._log(f"qemu pid {self.proc.pid}: {' '.join(cmd)}")

	def _log(self, msg):
		with open(os.path.join(self.dir, "harness.log"), "a") as f:
			f.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")

	def running(self):
		return self.proc is not None and self.proc.poll() is None

	def wait_exit(self, timeout):
		"""Waits for QEMU to end (the guest rebooted or powered off: -no-reboot)."""
		try:
			self.proc.wait(timeout)
		except subprocess.TimeoutExpired:
			raise Timeout(f"the guest did not reboot within {timeout} s; console tail:\n"
				+ self.console.text()[-1500:])
		self._close_streams()
		return self.proc.returncode

	def power_cut(self):
		"""QMP quit: QEMU ends at once, as if the power went; nothing is flushed by the guest."""
		try:
			self.qmp.cmd("quit", check=False)
		except (EOFError, OSError):
			pass
		self.wait_exit(30)

	def kill(self):
		if self.proc is not None and self.proc.poll() is None:
			self.proc.terminate()
			try:
				self.proc.wait(10)
			except subprocess.TimeoutExpired:
				self.proc.kill()
				self.proc.wait()
		self._close_streams()

	def _close_streams(self):
		"""Closes the serial streams; their text stays in last_console and last_journal."""
		for s in ("console", "journal"):
			stream = getattr(self, s, None)
			if stream is not None:
				stream.close()
				setattr(self, f"last_{s}", stream.text())
				setattr(self, s, None)

	def savevm(self, tag):
		"""An internal snapshot of the running guest (RAM, devices, disk) in its qcow2 disk,
		for start(loadvm=@tag) on a copy of that disk. No stick may be plugged in."""
		assert not self.sticks
		out = self.qmp.cmd("human-monitor-command", **{"command-line": f"savevm {tag}"})
		if out.get("return"):
			raise RuntimeError(f"savevm {tag}: {out['return'].strip()}")

	# ---- the root shell on ttyS0
	def wait_shell(self, timeout):
		"""Waits for the autologin shell, then turns it into a quiet command channel."""
		self.console.wait(rb"root@[-\w]+:[^\n]*# ", timeout)
		# No line editing (readline echoes by itself) and no echo: output is only output. Wait
		# for this line to run before sending more: readline may read ahead, and what it
		# read is lost when it is switched off.
		since = self.console.mark()
		self.console.send(b"set +o emacs +o vi; stty -echo; PS1=; PS2=; "
			b"export SYSTEMD_PAGER= SYSTEMD_COLORS=0; printf '\\036%s\\036\\n' READY\r")
		self.console.wait(rb"\x1eREADY\x1e", 30, since)
		rc, out = self.sh("systemctl is-system-running --wait", timeout)
		self._log(f"boot {self.boots}: system {out.strip()} after "
			f"{time.monotonic() - self.t_start:.1f} s")
		return out.strip()

	def sh(self, command, timeout=60):
		"""Runs @command in the guest's shell; returns (exit status, output)."""
		self._n += 1
		n = self._n
		since = self.console.mark()
		line = (f"printf '\\036B{n}\\036\\n'; {{ {command} ; }} </dev/null 2>&1; "
			f"printf '\\036E{n}:%d\\036\\n' $?\r")
		if len(line) > 3500:
			raise ValueError("command too long for the tty")
		self.console.send(line.encode())
		m = self.console.wait(rb"(?s)\x1eB%d\x1e\r?\n(.*?)\x1eE%d:(\d+)\x1e" % (n, n), timeout,
			since)
		out = m.group(1).decode(errors="replace").replace("\r\n", "\n")
		self._log(f"sh[{n}] {command!r} -> {m.group(2).decode()}\n{out}")
		return int(m.group(2)), out

	# ---- USB sticks
	def plug(self, stick_id, image):
		self.qmp.cmd("blockdev-add", driver="raw", **{"node-name": stick_id},
			file={"driver": "file", "filename": image})
		self.qmp.cmd("device_add", driver="usb-storage", bus="xhci.0", drive=stick_id,
			id=f"{stick_id}-dev", removable=True)
		self.sticks[stick_id] = image

	def unplug(self, stick_id, timeout=30):
		self.qmp.cmd("device_del", id=f"{stick_id}-dev")
		self.qmp.wait_event("DEVICE_DELETED", timeout,
			lambda e: e.get("data", {}).get("device") == f"{stick_id}-dev")
		self.qmp.cmd("blockdev-del", **{"node-name": stick_id})
		del self.sticks[stick_id]
