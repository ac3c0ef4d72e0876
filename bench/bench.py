#!/usr/bin/env python3
"""bench.py: `make bench` -- ostick against stock ostree, same machine, same run.

Builds (or reuses) a pair of Debian 12 root filesystems committed into an archive repo
(mkroots.sh), then measures, BENCH_REPS times each, interleaved:
  create:  ostick-bundle create (each part encoding it offers) against
           ostree static-delta generate with the same delta parameters;
  install: ostick-apply install (verify + apply + deploy) against
           ostree static-delta apply-offline + ostree refs + ostree admin deploy,
           each on a fresh copy of the same sysroot image (its own loop filesystem);
for a delta from scratch (empty -> A) and A -> B. Prints a table of ratios ostick/stock with the
targets of issue 8, and writes every figure to work/results.json.

Python 3 standard library only. Runs as root (loop devices, mounts, debootstrap). Every loop
device and mount it makes is undone on exit, whatever happens. See bench/README.md.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.path.dirname(BENCH_DIR)
REF = "bench/debian"
OS_NAME = "debian"  # the ID in Debian's os-release: ostick's --os default, the stateroot
COMPATIBLE = "ostick-bench-board"
MIB = 1024 * 1024

# Issue 8's targets: (metric key, kind, limit). "ratio": ostick/stock median at most limit;
# "abs": ostick's median at most limit (in the metric's unit); "part": at most one part.
TARGETS = {
    "create_time_s": ("ratio", 1.5),
    "bundle_bytes": ("ratio", 1.05),
    "install_time_s": ("ratio", 0.6),
    "install_rss_kib": ("abs", 64 * 1024),
    "install_extra_disk_bytes": ("part", None),
}


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --- resources: every loop device, mount and child is undone on exit ---------------------------

class Resources:
    def __init__(self):
        self.mounts = []
        self.loops = []
        self.children = set()

    def cleanup(self):
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        self.children.clear()
        while self.mounts:
            unmount(self.mounts.pop())
        while self.loops:
            detach(self.loops.pop())


RES = Resources()


def sh(argv, check=True, capture=False, env=None, quiet=False):
    """Run an unmeasured helper command."""
    r = subprocess.run(argv, env=env, text=True,
                       stdout=subprocess.PIPE if capture or quiet else None,
                       stderr=subprocess.PIPE if quiet else None)
    if check and r.returncode != 0:
        detail = (r.stderr or "").strip() if quiet else ""
        raise BenchError("command failed (exit %d): %s%s" % (
            r.returncode, " ".join(argv), ("\n" + detail) if detail else ""))
    return r.stdout if capture else r.returncode


def unmount(mnt):
    # A deploy killed while the filesystem was frozen would leave it frozen: thaw first.
    subprocess.run(["fsfreeze", "--unfreeze", mnt], stderr=subprocess.DEVNULL)
    if subprocess.run(["umount", mnt], stderr=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["umount", "-l", mnt], stderr=subprocess.DEVNULL)


def detach(dev):
    subprocess.run(["losetup", "-d", dev], stderr=subprocess.DEVNULL)


def clean_stale(work):
    """Mounts and loop devices a killed earlier run left below WORK (ours only)."""
    work = os.path.realpath(work)
    with open("/proc/self/mountinfo") as f:
        mnts = [line.split()[4] for line in f]
    for m in sorted((m for m in mnts if m == work or m.startswith(work + "/")), reverse=True):
        log("stale mount from an earlier run: %s" % m)
        unmount(m)
    out = subprocess.run(["losetup", "-l", "-n", "-O", "NAME,BACK-FILE"], text=True,
                         stdout=subprocess.PIPE).stdout
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[1].strip().startswith(work + "/"):
            log("stale loop device from an earlier run: %s" % parts[0])
            detach(parts[0])


def attach_and_mount(img, mnt):
    dev = sh(["losetup", "--find", "--show", img], capture=True).strip()
    RES.loops.append(dev)
    os.makedirs(mnt, exist_ok=True)
    sh(["mount", dev, mnt])
    RES.mounts.append(mnt)
    return dev


def unmount_and_detach(mnt, dev):
    sh(["umount", mnt])
    RES.mounts.remove(mnt)
    detach(dev)
    RES.loops.remove(dev)


# --- measurement ------------------------------------------------------------------------------

class DiskPoller(threading.Thread):
    """Samples the used bytes of the filesystem at MNT (statvfs) every ~10 ms."""

    def __init__(self, mnt):
        super().__init__(daemon=True)
        self.mnt = mnt
        self.stop = threading.Event()
        self.peak = self.baseline = used_bytes(mnt)
        self.samples = 0

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, used_bytes(self.mnt))
                self.samples += 1
            except OSError:
                pass
            self.stop.wait(0.01)

    def finish(self):
        self.stop.set()
        self.join()
        self.peak = max(self.peak, used_bytes(self.mnt))


def used_bytes(mnt):
    st = os.statvfs(mnt)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


class StagingPoller(threading.Thread):
    """Unlinked files PID holds open on the device DEV, each file counted once (as t0230 does),
    sampled every ~10 ms, in two kinds by access mode: read-write ones are transient staging
    (ostick's staged part, libostree's decoded xz part: ot_map_anonymous_tmpfile_from_content),
    write-only ones are objects libostree is writing (glnx_open_tmpfile_linkable_at), which stay."""

    def __init__(self, pid, dev):
        super().__init__(daemon=True)
        self.pid, self.dev = pid, dev
        self.stop = threading.Event()
        self.peak = self.peak_objects = 0
        self.samples = 0

    def run(self):
        fd_dir = "/proc/%d/fd" % self.pid
        while not self.stop.is_set():
            try:
                fds = os.listdir(fd_dir)
            except OSError:
                return
            staging, objects = {}, {}
            for fd in fds:
                p = fd_dir + "/" + fd
                try:
                    if not os.readlink(p).endswith(" (deleted)"):
                        continue
                    st = os.stat(p)
                    if st.st_dev != self.dev:
                        continue
                    with open("/proc/%d/fdinfo/%s" % (self.pid, fd)) as f:
                        flags = next(int(l.split()[1], 8) for l in f if l.startswith("flags:"))
                except (OSError, StopIteration, ValueError):
                    continue
                kind = staging if flags & os.O_ACCMODE == os.O_RDWR else objects
                kind[(st.st_dev, st.st_ino)] = st.st_blocks * 512
            self.peak = max(self.peak, sum(staging.values()))
            self.peak_objects = max(self.peak_objects, sum(objects.values()))
            self.samples += 1
            self.stop.wait(0.01)

    def finish(self):
        self.stop.set()
        self.join()


def run_measured(argv, logbase, env=None, staging_dev=None, timeout=3600):
    """Run ARGV; return wall time, CPU time and peak RSS (wait4's rusage of this child, which
    covers the descendants it waited for), exit code, and peak staging when STAGING_DEV is set."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    with open(logbase + ".out", "w") as out, open(logbase + ".err", "w") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=out, stderr=err, env=full_env)
        RES.children.add(p.pid)
        poller = None
        if staging_dev is not None:
            poller = StagingPoller(p.pid, staging_dev)
            poller.start()
        # A blocking wait: the driver takes no CPU from the command while it runs.
        killer = threading.Timer(timeout, os.kill, (p.pid, signal.SIGKILL))
        killer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            killer.cancel()
        t1 = time.monotonic()
        RES.children.discard(p.pid)
        p.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
    if poller:
        poller.finish()
    return {
        "argv": argv,
        "exit": p.returncode,
        "time_s": t1 - t0,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "rss_kib": ru.ru_maxrss,
        "staging_bytes": poller.peak if poller else None,
        "objects_in_flight_bytes": poller.peak_objects if poller else None,
        "staging_samples": poller.samples if poller else None,
        "log": logbase,
    }


def tail(path, n=8):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:]).rstrip()
    except OSError:
        return ""


def warm(paths):
    """Read every file under PATHS once: the inputs of the next run are in the page cache, the
    same way for ostick and for stock."""
    for top in paths:
        for root, _, files in os.walk(top) if os.path.isdir(top) else [("", [], [top])]:
            for name in files:
                try:
                    with open(os.path.join(root, name), "rb") as f:
                        while f.read(1 << 20):
                            pass
                except OSError:
                    pass


def settle(drop_caches):
    os.sync()
    if drop_caches:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def rotated(items, i):
    """Rep i runs the variants in another order (ABC, BCA, CAB...): drift and warm-up effects
    fall on each of them alike."""
    k = i % len(items)
    return items[k:] + items[:k]


# --- setup ------------------------------------------------------------------------------------

def roots_key():
    h = hashlib.sha256()
    for name in ("packages", "mkroots.sh"):
        with open(os.path.join(BENCH_DIR, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def ensure_roots(work):
    key = roots_key()
    roots_dir = os.path.join(work, "roots")
    out = os.path.join(roots_dir, key)
    if os.path.exists(os.path.join(out, "complete")):
        log("root filesystems: cached (%s)" % out)
        return out, False
    os.makedirs(roots_dir, exist_ok=True)
    clean_stale(roots_dir)
    for old in os.listdir(roots_dir):  # other keys: stale package lists or scripts
        if old != key:
            log("removing the stale root filesystem cache %s" % old)
            sh(["rm", "-rf", "--one-file-system", os.path.join(roots_dir, old)])
    log("root filesystems: building A and B from Debian packages (a few minutes)")
    t0 = time.monotonic()
    sh([os.path.join(BENCH_DIR, "mkroots.sh"), out, os.path.join(work, "debs")])
    log("root filesystems: built in %.0f s" % (time.monotonic() - t0))
    return out, True


def read_kv(path):
    kv = dict.fromkeys(("a_bytes", "b_bytes", "a_files", "b_files", "packages_upgraded",
                        "packages_added", "packages_removed", "files_modified", "files_added",
                        "files_removed"), 0)
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition(" ")
            kv[k] = int(v) if v.isdigit() else v
    return kv


def snapshot_binaries(builddir, work):
    """Copy the tools: other people may rebuild build/ while the bench runs."""
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir, exist_ok=True)
    info = {}
    for tool in ("ostick-bundle", "ostick-apply"):
        src = os.path.join(builddir, tool)
        if not os.access(src, os.X_OK):
            raise BenchError("%s not built (run make first)" % src)
        dst = os.path.join(bindir, tool)
        shutil.copy2(src, dst)
        with open(dst, "rb") as f:
            info[tool] = hashlib.sha256(f.read()).hexdigest()[:16]
    return os.path.join(bindir, "ostick-bundle"), os.path.join(bindir, "ostick-apply"), info


def detect_encodings(bundle, zstd_levels):
    """[(label, extra create args, encoding)]: every part encoding `create` offers."""
    help_text = subprocess.run([bundle, "create", "--help"], text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT).stdout
    if "part-encoding" not in help_text:
        return [("ostick", [], "ostree-xz")], None, help_text
    line = next((l for l in help_text.splitlines() if "part-encoding" in l), "")
    # "zstd (default: ...) or ostree-xz", or "zstd or ostree-xz (default zstd)"
    m = re.search(r"\(default:? (zstd|ostree-xz)\b", line) or \
        re.search(r"(zstd|ostree-xz) \(default", line)
    variants = [("ostick/ostree-xz", ["--part-encoding=ostree-xz"], "ostree-xz"),
                ("ostick/zstd", ["--part-encoding=zstd"], "zstd")]
    if "zstd-level" in help_text:
        for lvl in zstd_levels:
            variants.append(("ostick/zstd-%s" % lvl,
                             ["--part-encoding=zstd", "--zstd-level=%s" % lvl], "zstd"))
    return variants, (m.group(1) if m else None), help_text


def ensure_keys(bundle, work):
    kdir = os.path.join(work, "keys")
    key = os.path.join(kdir, "bench.key.pem")
    if not os.path.exists(key):
        shutil.rmtree(kdir, ignore_errors=True)
        os.makedirs(os.path.join(kdir, "keyring"))
        sh([bundle, "keygen", "-o", os.path.join(kdir, "bench")], quiet=True)
        shutil.copy(os.path.join(kdir, "bench.pub.pem"), os.path.join(kdir, "keyring"))
    conf = os.path.join(work, "device.conf")
    with open(conf, "w") as f:
        f.write("[device]\ncompatible=%s\nos=%s\nkeyring=%s\n[policy]\nallow-downgrade=false\n"
                % (COMPATIBLE, OS_NAME, os.path.join(kdir, "keyring")))
    return key, conf


# --- create -----------------------------------------------------------------------------------

def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(path, n)) for n in os.listdir(path))


def bundle_parts(bundle, path):
    """(number of parts, largest part as stored, largest part decoded) from inspect --json."""
    r = subprocess.run([bundle, "inspect", "--json", path], text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    try:
        members = json.loads(r.stdout)["members"]
    except (ValueError, KeyError):
        return None
    parts = [m for m in members if m.get("name", "").startswith("delta/")
             and m["name"] != "delta/superblock"]
    if not parts:
        return None
    return {"parts": len(parts),
            "largest_part_bytes": max(m["size"] for m in parts),
            "largest_part_decoded_bytes": max(m.get("decoded_size", m["size"]) for m in parts)}


def create_cmd(ctx, case, variant, out):
    if variant == "stock":
        argv = ["ostree", "--repo=" + ctx["repo"], "static-delta", "generate",
                "--to=" + case["to"], "--min-fallback-size=0",
                "--max-chunk-size=%d" % ctx["part_mb"],
                "--filename=" + os.path.join(out, "superblock")]
        argv.insert(4, "--from=" + case["from"] if case["from"] else "--empty")
        return argv
    args = ctx["variant_args"][variant]
    argv = [ctx["bundle"], "create", "--repo", ctx["repo"], "--ref", REF, "--to", case["to"],
            "--compatible", COMPATIBLE, "--key", ctx["key"], "--version", case["version"],
            "--os", OS_NAME, "--max-part-size", str(ctx["part_mb"]), "-o", out, "--force"]
    if case["from"]:
        argv += ["--from", case["from"]]
    return argv + args


def create_output(ctx, case_name, variant):
    safe = variant.replace("/", "-")
    base = os.path.join(ctx["work"], "out", case_name)
    return os.path.join(base, "stock-delta") if variant == "stock" else \
        os.path.join(base, "bundle-" + safe + ".ostick")


def run_create(ctx, case_name, case, variant, rep):
    out = create_output(ctx, case_name, variant)
    if os.path.isdir(out):
        shutil.rmtree(out)
    elif os.path.exists(out):
        os.unlink(out)
    if variant == "stock":
        os.makedirs(out)
    settle(ctx["drop_caches"])
    warm([os.path.join(ctx["repo"], "objects")])
    load = os.getloadavg()
    logbase = os.path.join(ctx["logs"], "create-%s-%s-%d" % (case_name,
                                                             variant.replace("/", "-"), rep))
    r = run_measured(create_cmd(ctx, case, variant, out), logbase)
    r["loadavg"] = load
    if r["exit"] != 0:
        r["error"] = tail(logbase + ".err")
        log("create %s %s rep %d FAILED (exit %d): %s" % (case_name, variant, rep, r["exit"],
                                                          r["error"]))
        return r
    r["size_bytes"] = dir_bytes(out) if variant == "stock" else os.path.getsize(out)
    if variant != "stock":
        r.update(bundle_parts(ctx["bundle"], out) or {})
    log("create %-8s %-18s rep %d: %6.1f s, %4.0f MiB RSS, %.1f MB" % (
        case_name, variant, rep, r["time_s"], r["rss_kib"] / 1024, r["size_bytes"] / 1e6))
    return r


# --- install ----------------------------------------------------------------------------------

def make_empty_template(ctx, img):
    """A fresh sysroot: init-fs, os-init, U-Boot bootloader (with the boot/loader/uEnv.txt its
    first deploy needs, made here for both tools alike), on its own ext4 loop filesystem."""
    if os.path.exists(img):
        os.unlink(img)
    with open(img, "wb") as f:
        f.truncate(ctx["image_mb"] * MIB)
    dev = sh(["losetup", "--find", "--show", img], capture=True).strip()
    RES.loops.append(dev)
    # Inode tables and journal zeroed now: no lazy-init writes in the background of a run.
    sh(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", dev])
    mnt = os.path.join(ctx["work"], "mnt", "template")
    os.makedirs(mnt, exist_ok=True)
    sh(["mount", dev, mnt])
    RES.mounts.append(mnt)
    sh(["ostree", "admin", "init-fs", mnt], quiet=True)
    sh(["ostree", "admin", "--sysroot=" + mnt, "os-init", OS_NAME], quiet=True)
    sh(["ostree", "--repo=" + mnt + "/ostree/repo", "config", "set", "sysroot.bootloader",
        "uboot"])
    os.makedirs(mnt + "/boot/loader.0")
    os.symlink("loader.0", mnt + "/boot/loader")
    open(mnt + "/boot/loader/uEnv.txt", "w").close()
    unmount_and_detach(mnt, dev)


def stock_install_cmds(mnt, delta_dir, target):
    repo = mnt + "/ostree/repo"
    return [
        ("apply", ["ostree", "--repo=" + repo, "static-delta", "apply-offline", delta_dir]),
        ("ref", ["ostree", "--repo=" + repo, "refs", "--force", "--create=" + REF, target]),
        ("deploy", ["ostree", "admin", "deploy", "--sysroot=" + mnt, "--os=" + OS_NAME, REF]),
    ]


def make_base_template(ctx, empty_img, img, scratch_delta, base):
    """The empty sysroot with A deployed, the stock way (the same starting point for both)."""
    shutil.copyfile(empty_img, img)
    mnt = os.path.join(ctx["work"], "mnt", "template")
    dev = attach_and_mount(img, mnt)
    env = dict(os.environ, TMPDIR=mnt + "/ostree/repo/tmp")
    for _, argv in stock_install_cmds(mnt, scratch_delta, base):
        sh(argv, env=env, quiet=True)
    unmount_and_detach(mnt, dev)


def deployed_commit(mnt):
    out = sh(["ostree", "admin", "--sysroot=" + mnt, "status"], capture=True, check=False)
    m = re.search(r"^\*?\s*%s\s+([0-9a-f]{64})\.\d+" % re.escape(OS_NAME), out or "", re.M)
    return m.group(1) if m else None


# What only the instrumented run of a repetition measures (the pollers').
DISK_KEYS = ("staging_bytes", "objects_in_flight_bytes", "disk_baseline_bytes",
             "disk_peak_bytes", "disk_final_bytes", "above_final_bytes", "disk_samples")


def install_once(ctx, case_name, case, variant, rep, instrumented):
    template = ctx["templates"][case_name]
    img = os.path.join(ctx["work"], "img", "run.img")
    sh(["cp", "--sparse=always", template, img])
    mnt = os.path.join(ctx["work"], "mnt", "run")
    dev = attach_and_mount(img, mnt)
    try:
        return measure_install(ctx, case_name, case, variant, rep, mnt, instrumented)
    finally:
        unmount_and_detach(mnt, dev)
        os.unlink(img)


def run_install(ctx, case_name, case, variant, rep):
    """A repetition is two installs on fresh copies of the template: a timed one that nothing
    samples (time, CPU, peak RSS), then an instrumented one whose pollers sample the disk
    (extra disk, df peak): their Python threads, every 10 ms, take CPU from the install on a
    small machine, more from the one that uses both cores."""
    res = install_once(ctx, case_name, case, variant, rep, instrumented=False)
    if res["exit"] != 0:
        return res
    probe = install_once(ctx, case_name, case, variant, rep, instrumented=True)
    for key in DISK_KEYS:
        res[key] = probe.get(key)
    res["instrumented"] = {k: probe.get(k) for k in ("exit", "time_s", "cpu_s", "rss_kib")}
    if probe["exit"] != 0:
        res["exit"], res["error"] = probe["exit"], probe.get("error")
    return res


def measure_install(ctx, case_name, case, variant, rep, mnt, instrumented):
    repo_tmp = mnt + "/ostree/repo/tmp"
    # libostree decodes xz parts into $TMPDIR: on the device's filesystem, for both (ostick-apply
    # points it at the repo's tmp itself).
    env = {"TMPDIR": repo_tmp}
    dev = os.stat(mnt).st_dev
    label = variant.replace("/", "-") + ("-probe" if instrumented else "")
    if variant == "stock":
        delta = create_output(ctx, case_name, "stock")
        cmds = stock_install_cmds(mnt, delta, case["to"])
        inputs = [delta]
    else:
        bundle = create_output(ctx, case_name, variant)
        cmds = [("install", [ctx["apply"], "install", "--config", ctx["conf"], "--sysroot", mnt,
                             "--progress=json", bundle])]
        inputs = [bundle]
    settle(ctx["drop_caches"])
    warm(inputs)
    load = os.getloadavg()
    disk = DiskPoller(mnt) if instrumented else None
    if disk:
        disk.start()
    steps = []
    for step, argv in cmds:
        logbase = os.path.join(ctx["logs"], "install-%s-%s-%d-%s" % (case_name, label, rep, step))
        r = run_measured(argv, logbase, env=env, staging_dev=dev if instrumented else None)
        r["step"] = step
        steps.append(r)
        if r["exit"] != 0:
            break
    res = {
        "loadavg": load,
        "steps": steps,
        "exit": max(s["exit"] for s in steps),
        "time_s": sum(s["time_s"] for s in steps),
        "cpu_s": sum(s["cpu_s"] for s in steps),
        "rss_kib": max(s["rss_kib"] for s in steps),
    }
    if disk:
        disk.finish()
        os.sync()
        final = used_bytes(mnt)
        res.update({
            "staging_bytes": max(s["staging_bytes"] or 0 for s in steps),
            "objects_in_flight_bytes": max(s["objects_in_flight_bytes"] or 0 for s in steps),
            "disk_baseline_bytes": disk.baseline,
            "disk_peak_bytes": disk.peak,
            "disk_final_bytes": final,
            # Used at the peak and not kept at the end: a lower bound of the transient use
            # (what is written after the peak moment but kept hides some of it); staging_bytes
            # measures it.
            "above_final_bytes": max(0, disk.peak - final),
            "disk_samples": disk.samples,
        })
    if res["exit"] != 0:
        res["error"] = tail(steps[-1]["log"] + ".err")
        log("install %s %s rep %d FAILED (exit %d): %s" % (case_name, variant, rep, res["exit"],
                                                           res["error"]))
        return res
    got = deployed_commit(mnt)
    if got != case["to"]:
        res["exit"] = -1
        res["error"] = "the default deployment is %s, not the target %s" % (got, case["to"])
        log("install %s %s rep %d: %s" % (case_name, variant, rep, res["error"]))
        return res
    if variant != "stock":
        events = ostick_events(steps[0]["log"] + ".out")
        res["self_reported"] = ostick_result_line(events)
        res["stages_ms"] = ostick_stages_ms(events)
    else:
        res["stages_ms"] = {s["step"]: 1000 * s["time_s"] for s in steps}
    if instrumented:
        log("install %-8s %-18s rep %d (instrumented): %6.2f s, %.1f MiB peak staging" % (
            case_name, variant, rep, res["time_s"], res["staging_bytes"] / MIB))
    else:
        log("install %-8s %-18s rep %d: %6.2f s, %4.0f MiB RSS" % (
            case_name, variant, rep, res["time_s"], res["rss_kib"] / 1024))
    return res


def ostick_events(path):
    """The JSON events of an ostick-apply --progress=json output, in order."""
    events = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    events.append(event)
    except OSError:
        pass
    return events


def ostick_result_line(events):
    results = [e for e in events if e.get("event") == "result"]
    if not results:
        return None
    last = results[-1]
    return {k: last.get(k) for k in ("outcome", "peak_rss_kib", "peak_staging_bytes",
                                     "duration_ms", "bytes_read")}


def ostick_stages_ms(events):
    """How long each stage of an ostick install took, from its progress events: a stage lasts
    from its first event to the next stage's first; "open" is from the start of
    ostick_install() (opening the sysroot and the bundle) to the first; "done" ends the last."""
    starts = {}
    for ev in events:
        if ev.get("event") == "progress" and ev.get("stage") not in starts:
            starts[ev["stage"]] = ev.get("elapsed_ms", 0)
    if not starts:
        return None
    order = [("open", 0)] + sorted(starts.items(), key=lambda kv: kv[1])
    return {stage: nxt - t for (stage, t), (_, nxt) in zip(order, order[1:])}


# --- report -----------------------------------------------------------------------------------

METRICS = [
    # (phase, key in a run, row label, unit divisor, unit)
    ("create", "time_s", "create_time_s", "create time", 1, "s"),
    ("create", "cpu_s", "create_cpu_s", "create CPU (user+sys)", 1, "s"),
    ("create", "rss_kib", "create_rss_kib", "create peak RSS", 1024, "MiB"),
    ("create", "size_bytes", "bundle_bytes", "bundle / delta size", 1e6, "MB"),
    ("install", "time_s", "install_time_s", "install time", 1, "s"),
    ("install", "cpu_s", "install_cpu_s", "install CPU (user+sys)", 1, "s"),
    ("install", "rss_kib", "install_rss_kib", "install peak RSS", 1024, "MiB"),
    ("install", "staging_bytes", "install_extra_disk_bytes", "install extra disk (staging)", MIB,
     "MiB"),
    ("install", "above_final_bytes", "install_above_final_bytes", "install df peak above final",
     MIB, "MiB"),
]


def summarize(results, cases, variants):
    out = {}
    for phase, key, name, _, _, _ in METRICS:
        for case in cases:
            for v in ["stock"] + variants:
                runs = results.get(phase, {}).get(case, {}).get(v, [])
                ok = [r for r in runs if r.get("exit") == 0]
                out.setdefault(case, {}).setdefault(v, {})[name] = summary(
                    [r.get(key) for r in ok])
    return out


def one_part_bytes(results, case, variant):
    runs = [r for r in results.get("create", {}).get(case, {}).get(variant, [])
            if r.get("exit") == 0 and "largest_part_decoded_bytes" in r]
    return runs[-1]["largest_part_decoded_bytes"] if runs else None


def evaluate(summ, results, cases, variants):
    rows = []
    for case in cases:
        for v in variants:
            for phase, key, name, div, unit_name in [(m[0], m[1], m[2], m[4], m[5])
                                                      for m in METRICS]:
                s = summ[case]["stock"][name]
                o = summ[case][v][name]
                ratio = o["median"] / s["median"] if s and o and s["median"] else None
                row = {"case": case, "variant": v, "metric": name, "stock": s, "ostick": o,
                       "ratio": ratio, "unit": unit_name, "div": div}
                kind, limit = TARGETS.get(name, (None, None))
                if kind == "ratio":
                    row["target"] = "ratio <= %g" % limit
                    row["met"] = None if ratio is None else ratio <= limit
                elif kind == "abs":
                    row["target"] = "ostick <= %g %s" % (limit / div, unit_name)
                    row["met"] = None if o is None else o["median"] <= limit
                elif kind == "part":
                    part = one_part_bytes(results, case, v)
                    if part is not None:
                        row["target"] = "ostick <= 1 part (%.1f %s)" % (part / div, unit_name)
                        row["one_part_bytes"] = part
                        row["met"] = None if o is None else o["max"] <= part
                    else:
                        row["target"] = "ostick <= 1 part (size unknown)"
                        row["met"] = None
                rows.append(row)
    return rows


def fmt_stat(s, div):
    if s is None:
        return "failed"
    med, lo, hi = s["median"] / div, s["min"] / div, s["max"] / div
    digits = 2 if hi < 10 else 1 if hi < 1000 else 0
    return "%.*f [%.*f-%.*f]" % (digits, med, digits, lo, digits, hi)


def print_table(rows, meta, file=sys.stdout):
    p = lambda s="": print(s, file=file)
    p()
    reps = "%d repetitions each" % meta["reps"] if meta["reps"] == meta["create_reps"] else \
        "%d repetitions each (creation: %d)" % (meta["reps"], meta["create_reps"])
    p("ostick bench: %s, median [min-max]; %s" % (reps, meta["cache_policy"]))
    p("machine: %s, %d CPUs; load average (1/5/15 min) at start %s, at end %s" % (
        meta["host"], meta["cpus"], "/".join("%.2f" % x for x in meta["loadavg_start"]),
        "/".join("%.2f" % x for x in meta["loadavg_end"])))
    for case, c in meta["cases"].items():
        p("case %-8s %s" % (case + ":", c["description"]))
    p("ostick-bundle part encodings: %s (default %s%s)" % (
        ", ".join(meta["variants"]), meta["default_part_encoding"],
        ", zstd level %s" % meta["default_zstd_level"] if meta.get("default_zstd_level") else ""))
    line = "%-8s %-17s %-36s %-22s %-22s %6s  %-28s %s"
    hdr = line % ("case", "ostick variant", "metric", "stock", "ostick", "ratio", "target", "met")
    p()
    p(hdr)
    p("-" * len(hdr))
    for r in rows:
        met = {True: "yes", False: "NO", None: "?"}[r.get("met")] if "target" in r else ""
        p(line % (r["case"], r["variant"], label_of(r["metric"]) + " (%s)" % r["unit"],
                  fmt_stat(r["stock"], r["div"]), fmt_stat(r["ostick"], r["div"]),
                  "%.3f" % r["ratio"] if r["ratio"] is not None else "-",
                  r.get("target", ""), met))
    p()


def print_stages(results, cases, variants, file=sys.stdout):
    """Where the install time goes: stock's three commands and ostick's stages, medians of the
    timed runs (ms). The stages are ostick's own clock, without process start and exit."""
    print("where the install time goes (medians of the timed runs, ms):", file=file)
    for case in cases:
        for v in ["stock"] + variants:
            runs = [r for r in results.get("install", {}).get(case, {}).get(v, [])
                    if r.get("exit") == 0 and r.get("stages_ms")]
            if not runs:
                continue
            names = list(runs[0]["stages_ms"])
            parts = []
            for name in names:
                s = summary([r["stages_ms"].get(name) for r in runs])
                parts.append("%s %.0f" % (name, s["median"]))
            print("  %-8s %-17s %s" % (case, v, ", ".join(parts)), file=file)
    print(file=file)


def label_of(name):
    return next(m[3] for m in METRICS if m[2] == name)


# --- main -------------------------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=int(os.environ.get("BENCH_REPS", "3")),
                    help="repetitions of every measurement (BENCH_REPS, default 3)")
    ap.add_argument("--create-reps", type=int,
                    default=int(os.environ.get("BENCH_CREATE_REPS", "0")) or None,
                    help="repetitions of the creation runs (BENCH_CREATE_REPS, default --reps): "
                         "creation from scratch is the slow part, libostree's xz at ~1.5 MB/s")
    ap.add_argument("--cases", default=os.environ.get("BENCH_CASES", "scratch,delta"),
                    help="comma-separated: scratch (empty -> A), delta (A -> B)")
    ap.add_argument("--phases", default=os.environ.get("BENCH_PHASES", "create,install"),
                    help="create,install (install alone reuses the last run's outputs)")
    ap.add_argument("--work", default=os.environ.get("BENCH_WORK",
                                                     os.path.join(BENCH_DIR, "work")))
    ap.add_argument("--builddir", default=os.environ.get("OSTICK_BUILDDIR",
                                                         os.path.join(SRC_DIR, "build")))
    ap.add_argument("--part-mb", type=int, default=int(os.environ.get("BENCH_PART_MB", "16")),
                    help="max part size (ostick --max-part-size = ostree --max-chunk-size)")
    ap.add_argument("--zstd-levels", default=os.environ.get("BENCH_ZSTD_LEVELS", ""),
                    help="extra zstd levels to bench besides the default, e.g. '3 19'")
    ap.add_argument("--roots", default=os.environ.get("BENCH_ROOTS"),
                    help="use this directory (as mkroots.sh makes it) instead of the cached pair")
    ap.add_argument("--drop-caches", action="store_true",
                    default=os.environ.get("BENCH_DROP_CACHES", "") not in ("", "0"),
                    help="drop the page cache before every run (machine-wide; default: warm "
                         "the inputs instead)")
    return ap.parse_args()


def check_environment(args):
    if os.geteuid() != 0:
        raise BenchError("needs root (debootstrap, loop devices, mounts): sudo make bench")
    for tool in ("ostree", "debootstrap", "losetup", "mkfs.ext4", "fsfreeze"):
        if shutil.which(tool) is None:
            raise BenchError("%s missing (scripts/deps.sh bench installs it)" % tool)
    args.create_reps = args.create_reps or args.reps
    if args.reps < 1 or args.create_reps < 1:
        raise BenchError("--reps and --create-reps must be at least 1")


def machine_meta(args):
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
        "mem_total_kib": mem_total_kib(), "reps": args.reps, "create_reps": args.create_reps,
        "uptime_start": uptime(), "loadavg_start": os.getloadavg(),
        "ostree_version": ostree_version(), "git_head": git_head(),
        "drop_caches": args.drop_caches, "part_mb": args.part_mb,
        "cache_policy": ("page cache dropped before every run" if args.drop_caches else
                         "page cache warm: every run's inputs read once just before it, the same "
                         "way for both"),
    }


def load_roots(args, work, meta):
    """The pair's directory, with what it is in META."""
    if args.roots:  # someone else's pair (repo, a.commit, b.commit, summary): no build
        roots, built = os.path.abspath(args.roots), False
    else:
        roots, built = ensure_roots(work)
    meta["roots_built_this_run"] = built
    meta["roots"] = read_kv(os.path.join(roots, "summary"))
    try:
        with open(os.path.join(roots, "upgraded.packages")) as f:
            meta["packages_upgraded"] = f.read().splitlines()
    except OSError:
        meta["packages_upgraded"] = []
    return roots


def all_cases(roots, meta):
    with open(os.path.join(roots, "a.commit")) as f:
        a = f.read().strip()
    with open(os.path.join(roots, "b.commit")) as f:
        b = f.read().strip()
    r = meta["roots"]
    return {
        "scratch": {"from": None, "to": a, "version": "1.0",
                    "description": "empty -> A 1.0 (%.0f MB tree, %d files)" % (
                        r["a_bytes"] / 1e6, r["a_files"])},
        "delta": {"from": a, "to": b, "version": "1.1",
                  "description": "A 1.0 -> B 1.1 (%d packages upgraded, %d added, %d removed; "
                  "%d files modified, %d added, %d removed)" % (
                      r["packages_upgraded"], r["packages_added"], r["packages_removed"],
                      r["files_modified"], r["files_added"], r["files_removed"])},
    }


def create_phase(ctx, cases, labels, reps, results):
    for case_name, case in cases.items():
        for rep in range(reps):
            for v in rotated(["stock"] + labels, rep):
                results.setdefault(case_name, {}).setdefault(v, []).append(
                    run_create(ctx, case_name, case, v, rep))


def install_phase(ctx, cases, known_cases, labels, reps, results):
    img_dir = os.path.join(ctx["work"], "img")
    shutil.rmtree(img_dir, ignore_errors=True)
    os.makedirs(img_dir)
    for case_name in cases:
        for v in ["stock"] + labels:
            if not os.path.exists(create_output(ctx, case_name, v)):
                raise BenchError("no %s output for %s: run the create phase" % (v, case_name))
    empty = os.path.join(img_dir, "template-empty.img")
    log("install: sysroot templates (%d MB sparse images)" % ctx["image_mb"])
    make_empty_template(ctx, empty)
    ctx["templates"] = {"scratch": empty}
    if "delta" in cases:
        based = os.path.join(img_dir, "template-a.img")
        scratch = known_cases["scratch"]
        scratch_delta = create_output(ctx, "scratch", "stock")
        if not os.path.exists(os.path.join(scratch_delta, "superblock")):
            os.makedirs(scratch_delta, exist_ok=True)
            sh(create_cmd(ctx, scratch, "stock", scratch_delta), quiet=True)
        make_base_template(ctx, empty, based, scratch_delta, scratch["to"])
        ctx["templates"]["delta"] = based
    for case_name, case in cases.items():
        for rep in range(reps):
            for v in rotated(["stock"] + labels, rep):
                results.setdefault(case_name, {}).setdefault(v, []).append(
                    run_install(ctx, case_name, case, v, rep))
    shutil.rmtree(img_dir)  # the templates are made again by every run


def write_results(path, meta, summ, rows, results):
    doc = {"meta": meta, "targets": {k: {"kind": v[0], "limit": v[1]} for k, v in TARGETS.items()},
           "summary": summ, "rows": [{k: v for k, v in r.items() if k != "div"} for r in rows],
           "create": results["create"], "install": results["install"]}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def main():
    args = parse_args()
    check_environment(args)
    cases_wanted = [c for c in args.cases.split(",") if c]
    phases = set(p for p in args.phases.split(",") if p)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    clean_stale(work)
    t_start = time.monotonic()
    meta = machine_meta(args)
    roots = load_roots(args, work, meta)
    bundle, apply, meta["binaries_sha256"] = snapshot_binaries(args.builddir, work)
    variants, default_enc, help_text = detect_encodings(bundle, args.zstd_levels.split())
    meta["part_encoding_option"] = len(variants) > 1
    meta["default_part_encoding"] = default_enc if len(variants) > 1 else "ostree-xz"
    lvl = re.search(r"zstd-level\S*\s.*\(default:? (\d+)\)", help_text)
    meta["default_zstd_level"] = int(lvl.group(1)) if lvl else None
    meta["variants"] = {label: {"create_args": extra, "encoding": enc}
                        for label, extra, enc in variants}
    labels = [label for label, _, _ in variants]
    known = all_cases(roots, meta)
    cases = {k: v for k, v in known.items() if k in cases_wanted}
    if not cases:
        raise BenchError("no known case in --cases %s" % args.cases)
    meta["cases"] = {k: {x: v[x] for x in ("from", "to", "description")}
                     for k, v in cases.items()}
    key, conf = ensure_keys(bundle, work)
    tree_max = max(meta["roots"]["a_bytes"], meta["roots"]["b_bytes"])
    ctx = {
        "work": work, "repo": os.path.join(roots, "repo"), "bundle": bundle, "apply": apply,
        "key": key, "conf": conf, "part_mb": args.part_mb, "drop_caches": args.drop_caches,
        "variant_args": {label: extra for label, extra, _ in variants},
        "logs": os.path.join(work, "logs"),
        # Room for A deployed plus B's objects, and slack: a sparse file, only used blocks count.
        "image_mb": max(1024, int(3 * tree_max / MIB) + 512),
    }
    meta["image_mb"] = ctx["image_mb"]
    shutil.rmtree(ctx["logs"], ignore_errors=True)
    os.makedirs(ctx["logs"])
    log("variants: stock + %s; %d repetitions (creation %d); cases %s" % (
        ", ".join(labels), args.reps, args.create_reps, ", ".join(cases)))
    results_path = os.path.join(work, "results.json")
    # Installing alone: the bundles are the last run's, and so are their creation figures.
    prev = load_previous(results_path) if "create" not in phases else {}
    results = {"create": prev.get("create", {}), "install": {}}
    if "create" in phases:
        create_phase(ctx, cases, labels, args.create_reps, results["create"])
    if "install" in phases:
        install_phase(ctx, cases, known, labels, args.reps, results["install"])

    meta["loadavg_end"] = os.getloadavg()
    meta["uptime_end"] = uptime()
    meta["bench_seconds"] = time.monotonic() - t_start
    summ = summarize(results, list(cases), labels)
    rows = evaluate(summ, results, list(cases), labels)
    print_table(rows, meta)
    print_stages(results, list(cases), labels)
    write_results(results_path, meta, summ, rows, results)
    print("results: %s (bench took %.0f s; uptime at end: %s)" % (
        results_path, meta["bench_seconds"], meta["uptime_end"]))
    failed = [r for r in rows if r["ostick"] is None or r["stock"] is None]
    return 1 if failed else 0


def load_previous(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def mem_total_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return None


def uptime():
    return subprocess.run(["uptime"], text=True, stdout=subprocess.PIPE).stdout.strip()


def ostree_version():
    out = subprocess.run(["ostree", "--version"], text=True, stdout=subprocess.PIPE).stdout
    m = re.search(r"Version: '([^']+)'", out)
    return m.group(1) if m else None


def git_head():
    r = subprocess.run(["git", "-C", SRC_DIR, "rev-parse", "--short", "HEAD"], text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return r.stdout.strip() or None


def on_signal(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        sys.exit(main())
    except BenchError as e:
        log("error: %s" % e)
        sys.exit(1)
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
    finally:
        RES.cleanup()
