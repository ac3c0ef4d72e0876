#!/usr/bin/env python3
"""gen-hostile.py: hostile bundles for tests/integration/t0400-adversarial.sh.

usage: gen-hostile.py [--seed N] SAMPLES KEYDIR OUTDIR

  SAMPLES  what lib.sh's sample_bundles made: v1.ostick (full 1.0), v2.ostick (delta 1.0 -> 2.0),
           v2-full.ostick (full 2.0), all with zstd parts (the default); optionally
           v2-multi.ostick (full 2.0 in several parts) and v2-xz.ostick (the 2.0 delta with
           libostree's own ostree-xz parts), for the cases that need them
  KEYDIR   tests/data/keys: test-ed25519.key.pem is the key the device trusts; every
           signed-but-malicious bundle is signed with it
  OUTDIR   receives NAME.ostick for the cases built from scratch, and MANIFEST, one line per
           case (COUNTS: how many per class):

    NAME <TAB> CLASS <TAB> PHASE <TAB> INSTALL <TAB> VERIFY <TAB> REGEX <TAB> WHAT <TAB> SOURCE

  PHASE    the device the case runs against: v1 (1.0 installed, nothing else), v2 (2.0
           installed over 1.0, which is the rollback), v2-dg (the same, with --allow-downgrade,
           so that a 1.0 bundle reaches its payload)
  INSTALL  the exit code `ostick-apply install` must give, or `-` when the bundle is valid and
           would change the device (then only verify runs)
  VERIFY   the exit code `ostick-apply verify` must give
  REGEX    an extended regular expression (grep -E) one line of the output must match: the
           `ostick-apply: ...` error line on failure, the result line on success
  WHAT     a description (for the TAP line)
  SOURCE   NAME.ostick (in OUTDIR), or a recipe @SAMPLE:LENGTH:OFFSET=HEX,OFFSET=HEX...: the
           sample bundle SAMPLE cut to LENGTH bytes, then the bytes HEX written at each OFFSET
           (truncations and bit flips of the samples: no copy of a 2 MB bundle per case)

Stdlib and the openssl command line only. Tar surgery and signing come from
format-spec/vectors.py; zstd frames are written by hand (raw and RLE blocks) and xz streams with
the lzma module. Everything is derived from the sample bundles, so the output depends on them,
the keys and the seed (random offsets) only.
"""
import argparse
import hashlib
import lzma
import os
import random
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib

sys.dont_write_bytecode = True  # no __pycache__ beside format-spec/vectors.py
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "format-spec"))
import vectors  # noqa: E402  (format-spec/vectors.py: tar helpers, openssl signing)

BLOCK = 512
FORMAT, CORRUPT, SIGNATURE, VERSION = 4, 4, 4, 3
NOT_FOR_DEVICE, NO_SPACE = 3, 5
VALID = "-"

# Messages, as extended regular expressions.
RE_TRUNC = r"[Tt]runcated"
RE_NOT_BUNDLE = r"not a bundle|[Tt]runcated|no member"
RE_DAMAGED = r"Damaged tar archive|[Tt]runcated|not a bundle|checksum"
RE_MISMATCH = r"does not match the signed manifest"
RE_SIZE_DIFFERS = r"the signed manifest says"
RE_UNTRUSTED = r"does not trust"
RE_BADSIG = r"signature does not verify"
RE_NOT_REGULAR = r"is not a regular file"
RE_INSTALLED = r"^already installed|OK: already installed"
RE_WOULD = r"OK: would install"
RE_NO_SPACE = r"not enough space"


def member_re(name):
    return name.replace(".", r"\.")


# ---- tar building blocks, byte for byte ------------------------------------------------------

def octal(value, width):
    """An ustar numeric field: width-1 octal digits and a NUL."""
    return b"%0*o\0" % (width - 1, value)


def base256(value, width=12):
    """GNU base-256 numeric field (first byte 0x80), for values ustar octal cannot hold."""
    return bytes([0x80]) + (value % (1 << (8 * (width - 1)))).to_bytes(width - 1, "big")


def fix_checksum(header):
    h = bytearray(header)
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def ustar_header(name, size, typeflag=b"0", linkname=b"", prefix=b"", magic=b"ustar\0",
                 version=b"00", size_field=None, devmajor=0, devminor=0, gnu=False):
    if isinstance(name, str):
        name = name.encode()
    h = bytearray(BLOCK)
    h[0:len(name[:100])] = name[:100]
    h[100:108] = octal(0o644, 8)
    h[108:116] = octal(0, 8)
    h[116:124] = octal(0, 8)
    h[124:136] = size_field if size_field is not None else octal(size, 12)
    h[136:148] = octal(vectors.MTIME, 12)
    h[156:157] = typeflag
    h[157:157 + len(linkname)] = linkname
    if gnu:
        h[257:265] = b"ustar  \0"
    else:
        h[257:263] = magic
        h[263:265] = version
    h[329:337] = octal(devmajor, 8)
    h[337:345] = octal(devminor, 8)
    h[345:345 + len(prefix)] = prefix
    return fix_checksum(h)


def pad(data):
    return data + b"\0" * (-len(data) % BLOCK)


def entry(name, data, **kw):
    """One ustar member: header, data, padding."""
    return ustar_header(name, len(data), **kw) + pad(data)


def pax_records(records):
    out = []
    for key, value in records:
        if isinstance(key, str):
            key = key.encode()
        if isinstance(value, str):
            value = value.encode()
        body = b" " + key + b"=" + value + b"\n"
        n = len(body) + 1
        while len(b"%d" % n) + len(body) != n:
            n += 1
        out.append(b"%d" % n + body)
    return b"".join(out)


def pax_entry(records, typeflag=b"x", name="PaxHeader/x", claimed_size=None):
    data = pax_records(records)
    size = len(data) if claimed_size is None else claimed_size
    field = octal(size, 12) if size < 8 ** 11 else base256(size)
    return ustar_header(name, size, typeflag=typeflag, size_field=field) + pad(data)


def gnu_long(kind, value, claimed_size=None):
    """A GNU ././@LongLink member (kind L: name, K: link name)."""
    data = value + b"\0"
    size = len(data) if claimed_size is None else claimed_size
    field = octal(size, 12) if size < 8 ** 11 else base256(size)
    return ustar_header("././@LongLink", size, typeflag=kind, size_field=field,
                        gnu=True) + pad(data)


EOA = b"\0" * (2 * BLOCK)


def tar_bytes(*chunks, end=True):
    return b"".join(chunks) + (EOA if end else b"")


def plain(members):
    """(name, data) list -> ustar entries."""
    return [entry(n, d) for n, d in members]


# ---- signing ----------------------------------------------------------------------------------

def der_to_raw(der):
    """ECDSA DER (SEQUENCE of two INTEGERs) -> r || s, 32 bytes each."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += der[i + 2:i + 2 + n].lstrip(b"\0").rjust(32, b"\0")
        i += 2 + n
    return out


def p256_sign(keyfile, message):
    with tempfile.NamedTemporaryFile() as msg:
        msg.write(hashlib.sha256(message).digest())
        msg.flush()
        der = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", keyfile, "-in", msg.name],
                             check=True, capture_output=True).stdout
    return der_to_raw(der)


# ---- superblock surgery (GVariant layout: LIBOSTREE-NOTES.md, common/ostick-superblock.c) ----

def offset_width(size):
    """GVariant framing offset width for a container of @size bytes (GLib's rule)."""
    if size > 0xFFFFFFFF:
        return 8
    if size > 0xFFFF:
        return 4
    if size > 0xFF:
        return 2
    return 1 if size > 0 else 0


def read_offset(buf, pos, width):
    return int.from_bytes(buf[pos:pos + width], "little")


def align8(n):
    return (n + 7) & ~7


class SuperblockLayout:
    """Where the members of a superblock (a{sv}tayay(commit)aya(uayttay)a(yaytt)) are: the tuple
    ends with the end offsets of members 0, 2, 3, 4, 5, 6 (last member's first)."""

    def __init__(self, sb):
        w = offset_width(len(sb))
        ends = [read_offset(sb, len(sb) - w * (k + 1), w) for k in range(6)]
        m0, m2, m3, m4, m5, m6 = ends
        self.timestamp = align8(m0)
        self.from_ = (self.timestamp + 8, m2)
        self.to = (m2, m3)
        self.commit = (align8(m3), m4)
        start = align8(m5)
        arr = sb[start:m6]
        aw = offset_width(len(arr))
        last = read_offset(arr, len(arr) - aw, aw)
        n = (len(arr) - last) // aw
        self.headers = []  # (start, end) of each part header, absolute
        prev = 0
        for i in range(n):
            end = read_offset(arr, last + aw * i, aw)
            self.headers.append((start + align8(prev), start + end))
            prev = end

    def objects(self, index):
        """(start, end) of part header @index's object list: after u32, ay[32], pad, t, t; before
        the header's one framing offset (the end of the checksum)."""
        s, e = self.headers[index]
        return s + 56, e - offset_width(e - s)


def patch_part_header(superblock, index=0, new_part=None, size=None, usize=None, csum=None,
                      version=None):
    h = SuperblockLayout(superblock).headers[index][0]
    sb = bytearray(superblock)
    if new_part is not None:
        csum, size = hashlib.sha256(new_part).digest(), len(new_part)
    if version is not None:
        sb[h:h + 4] = struct.pack("<I", version)
    if csum is not None:
        sb[h + 4:h + 36] = csum
    if size is not None:
        sb[h + 40:h + 48] = struct.pack("<Q", size)
    if usize is not None:
        sb[h + 48:h + 56] = struct.pack("<Q", usize)
    return bytes(sb)


def header_values(superblock, index=0):
    """(size, uncompressed size) of part header @index (little-endian, as generated here)."""
    h = SuperblockLayout(superblock).headers[index][0]
    return struct.unpack("<QQ", superblock[h + 40:h + 56])


def replace_range(data, span, new):
    assert span[1] - span[0] == len(new)
    return data[:span[0]] + new + data[span[1]:]


# ---- xz -----------------------------------------------------------------------------------------

def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def read_varint(data, i):
    n = shift = 0
    while True:
        b = data[i]
        n |= (b & 0x7F) << shift
        i += 1
        shift += 7
        if not b & 0x80:
            return n, i


def xz_repeat(block_data, copies):
    """One xz stream of @copies identical blocks, each the compression of @block_data: a stream
    that decodes to copies * len(block_data) bytes without compressing them all."""
    one = lzma.compress(block_data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=0)
    header, footer = one[:12], one[-12:]
    backward = (struct.unpack("<I", footer[4:8])[0] + 1) * 4
    index = one[-12 - backward:-12]
    block = one[12:-12 - backward]
    assert index[0] == 0
    n, i = read_varint(index, 1)
    assert n == 1
    unpadded, i = read_varint(index, i)
    uncompressed, i = read_varint(index, i)
    records = (varint(unpadded) + varint(uncompressed)) * copies
    body = b"\0" + varint(copies) + records
    body += b"\0" * (-len(body) % 4)
    new_index = body + struct.pack("<I", zlib.crc32(body))
    flags = header[6:8]
    tail = struct.pack("<I", len(new_index) // 4 - 1) + flags
    new_footer = struct.pack("<I", zlib.crc32(tail)) + tail + b"YZ"
    return header + block * copies + new_index + new_footer


# ---- zstd (RFC 8878), by hand: raw and RLE blocks need no compressor --------------------------

ZSTD_MAGIC = struct.pack("<I", 0xFD2FB528)


def zstd_frame(blocks, window_log=17):
    """A frame with no content size, no checksum, and a window of 2^@window_log bytes."""
    return ZSTD_MAGIC + bytes([0, (window_log - 10) << 3]) + blocks


def zstd_block(kind, size, body, last):
    return ((size << 3) | (kind << 1) | int(last)).to_bytes(3, "little") + body


def zstd_raw_blocks(data, last=True, block=1 << 17):
    chunks = [data[i:i + block] for i in range(0, len(data), block)] or [b""]
    return b"".join(zstd_block(0, len(c), c, last and i == len(chunks) - 1)
                    for i, c in enumerate(chunks))


def zstd_rle_blocks(byte, total, last=True, block=1 << 17):
    n, rest = divmod(total, block)
    sizes = [block] * n + ([rest] if rest else [])
    one = zstd_block(1, block, bytes([byte]), False)
    out = one * (len(sizes) - 1) if rest == 0 else one * n
    return out + zstd_block(1, sizes[-1], bytes([byte]), last)


def zstd_skippable(data):
    return struct.pack("<II", 0x184D2A50, len(data)) + data


# ---- the generator ------------------------------------------------------------------------------

class Recipe:
    """A sample bundle cut to a length and patched: written into MANIFEST as
    @FILE:LENGTH:OFFSET=HEX,OFFSET=HEX... instead of being copied (t0400 applies it)."""

    def __init__(self, bundle, length=None):
        self.bundle = bundle
        self.length = len(bundle.data) if length is None else length
        self.patches = {}

    def byte(self, off):
        return self.patches.get(off, self.bundle.data[off])

    def flip(self, off, mask):
        self.patches[off] = self.byte(off) ^ mask
        return self

    def fix_header(self, h):
        block = bytes(self.byte(i) for i in range(h, h + BLOCK))
        fixed = fix_checksum(block)
        for i in range(148, 156):
            self.patches[h + i] = fixed[i]
        return self

    def __str__(self):
        runs, cur = [], None
        for off in sorted(self.patches):
            if cur and cur[0] + len(cur[1]) == off:
                cur[1].append(self.patches[off])
            else:
                cur = [off, [self.patches[off]]]
                runs.append(cur)
        return f"@{self.bundle.file}:{self.length}:" + ",".join(
            f"{off}={bytes(b).hex()}" for off, b in runs)


class Bundle:
    """A sample bundle: its bytes, members and where each member sits in the file."""

    def __init__(self, path, tag):
        self.path, self.tag = path, tag
        self.file = os.path.basename(path)
        self.data = open(path, "rb").read()
        self.members = vectors.members(path)
        self.by_name = dict(self.members)
        self.layout = []  # (name, header offset, data offset, size, padded end)
        with tarfile.open(path, "r:") as tar:
            for m in tar.getmembers():
                self.layout.append((m.name, m.offset, m.offset_data, m.size,
                                    m.offset_data + m.size + (-m.size % BLOCK)))
        self.eoa = self.layout[-1][4]
        self.manifest = self.by_name["ostick.manifest"]
        self.text = self.manifest.decode()

    def value(self, key):
        for line in self.text.split("\n"):
            if line.startswith(key + "="):
                return line.split("=", 1)[1]
        raise KeyError(key)

    def parts(self):
        return [n for n, _ in self.members if n.startswith("delta/") and n != "delta/superblock"]

    def part_value(self, index, key):
        group = None
        for line in self.text.split("\n"):
            if line.startswith("["):
                group = line.strip("[]")
            elif group == f"part.{index}" and line.startswith(key + "="):
                return line.split("=", 1)[1]
        raise KeyError(key)

    def encoding(self, index):
        group = None
        for line in self.text.split("\n"):
            if line.startswith("["):
                group = line.strip("[]")
            elif group == f"part.{index}" and line.startswith("encoding="):
                return line.split("=", 1)[1]
        raise KeyError(index)


class Generator:
    def __init__(self, samples, keydir, outdir, seed):
        self.outdir = outdir
        self.rng = random.Random(seed)
        self.key = os.path.join(keydir, "test-ed25519.key.pem")
        self.key2 = os.path.join(keydir, "test-ed25519-2.key.pem")
        self.p256 = os.path.join(keydir, "test-p256.key.pem")
        self.v1 = Bundle(os.path.join(samples, "v1.ostick"), "v1")
        self.v2 = Bundle(os.path.join(samples, "v2.ostick"), "v2")
        self.v2f = Bundle(os.path.join(samples, "v2-full.ostick"), "v2full")
        multi = os.path.join(samples, "v2-multi.ostick")
        self.multi = Bundle(multi, "v2multi") if os.path.exists(multi) else None
        xz = os.path.join(samples, "v2-xz.ostick")
        self.v2xz = Bundle(xz, "v2xz") if os.path.exists(xz) else None
        self.lines = []
        self.names = set()
        self.counts = {}

    # phase in which a bundle's payload is read: 2.0 bundles on the 1.0 device; the 1.0 bundle on
    # the 2.0 device, allowed to downgrade.
    @staticmethod
    def reach(bundle):
        return "v2-dg" if bundle.tag == "v1" else "v1"

    def add(self, name, cls, phase, install, verify, regex, what, data):
        """@data: the bundle's bytes, or a Recipe (a sample bundle cut and patched)."""
        assert name not in self.names, name
        assert "\t" not in regex and "\n" not in regex and "\t" not in what
        self.names.add(name)
        if isinstance(data, Recipe):
            source = str(data)
        else:
            source = name + ".ostick"
            with open(os.path.join(self.outdir, source), "wb") as f:
                f.write(data)
        self.lines.append("\t".join([name, cls, phase, str(install), str(verify), regex, what,
                                     source]))
        self.counts[cls] = self.counts.get(cls, 0) + 1

    def write_manifest(self):
        with open(os.path.join(self.outdir, "MANIFEST"), "w") as f:
            f.write("# NAME\tCLASS\tPHASE\tINSTALL\tVERIFY\tREGEX\tWHAT\tSOURCE "
                    "(tests/adversarial/gen-hostile.py)\n")
            for line in self.lines:
                f.write(line + "\n")
        with open(os.path.join(self.outdir, "COUNTS"), "w") as f:
            for cls in sorted(self.counts):
                f.write(f"{cls}\t{self.counts[cls]}\n")

    # -- re-signed bundles (signed with the trusted key: malicious but authentic) --

    def signed_bundle(self, manifest_text, payload, key=None, sig=None):
        """ostick.manifest + a signature by the trusted key + payload [(name, data)]."""
        manifest = manifest_text.encode("utf-8", "surrogateescape")
        if sig is None:
            sig = vectors.signed(key or self.key, manifest)
        path = os.path.join(self.outdir, ".tmp.ostick")
        vectors.write_tar(path, [("ostick.manifest", manifest), ("ostick.sig", sig)] + payload)
        data = open(path, "rb").read()
        os.unlink(path)
        return data

    @staticmethod
    def set_member(text, group, data):
        text = vectors.manifest_set(text, group, "size", str(len(data)))
        return vectors.manifest_set(text, group, "sha256", hashlib.sha256(data).hexdigest())

    def payload(self, bundle):
        return [(n, d) for n, d in bundle.members if n.startswith("delta/")]

    def forge(self, bundle, superblock=None, parts=None, edit=None):
        """A bundle whose payload is @superblock and @parts (defaults: the bundle's own), with the
        manifest's sizes and hashes made to match and signed again by the trusted key."""
        sb = superblock if superblock is not None else bundle.by_name["delta/superblock"]
        parts = parts if parts is not None else [bundle.by_name[n] for n in bundle.parts()]
        text = self.set_member(bundle.text, "superblock", sb)
        for i, p in enumerate(parts):
            text = self.set_member(text, f"part.{i}", p)
        if edit is not None:
            text = edit(text)
        return self.signed_bundle(text, [("delta/superblock", sb)] +
                                  [(f"delta/{i}", p) for i, p in enumerate(parts)])

    # ---------------------------------------------------------------------------------------
    # Truncation: at every member boundary, and at random offsets.

    def cut_expect(self, b, c):
        """(install, verify, regex) for bundle @b cut to @c bytes, read where its payload is
        reached."""
        if c == 0:
            return FORMAT, FORMAT, RE_NOT_BUNDLE
        for i, (name, h, d, s, e) in enumerate(b.layout):
            nxt = b.layout[i + 1][0] if i + 1 < len(b.layout) else "end of bundle"
            if c < d:
                return FORMAT, FORMAT, f"{member_re(name)}|{RE_NOT_BUNDLE}"
            if c < d + s:
                return FORMAT, FORMAT, f"{member_re(name)}.*{RE_TRUNC}|{RE_TRUNC}.*{member_re(name)}"
            if c < e:
                return FORMAT, FORMAT, f"{member_re(nxt)}.*{RE_TRUNC}|{RE_TRUNC}.*{member_re(nxt)}"
        if c == b.eoa or c >= b.eoa + BLOCK:
            return VALID, 0, RE_WOULD
        return FORMAT, FORMAT, f"end of bundle.*{RE_TRUNC}"

    def truncations(self):
        for b in [self.v1, self.v2, self.v2f]:
            cuts = {0}
            for name, h, d, s, e in b.layout:
                cuts |= {h, h + 1, d - 1, d, d + 1, d + s - 1, d + s}
                if e > d + s:
                    cuts |= {e - 1}
            cuts |= {b.eoa, b.eoa + 1, b.eoa + BLOCK - 1, b.eoa + BLOCK, b.eoa + BLOCK + 1,
                     len(b.data) - 1}
            for c in sorted(cuts):
                if c >= len(b.data):
                    continue
                install, verify, regex = self.cut_expect(b, c)
                self.add(f"trunc-{b.tag}-at-{c}", "truncated", self.reach(b), install, verify,
                         regex, f"{b.tag} cut to {c} of {len(b.data)} bytes (boundary)",
                         Recipe(b, c))
            for _ in range(8):
                c = self.rng.randrange(1, len(b.data))
                while f"trunc-{b.tag}-at-{c}" in self.names:
                    c = self.rng.randrange(1, len(b.data))
                install, verify, regex = self.cut_expect(b, c)
                self.add(f"trunc-{b.tag}-at-{c}", "truncated", self.reach(b), install, verify,
                         regex, f"{b.tag} cut to {c} of {len(b.data)} bytes (random)",
                         Recipe(b, c))
        # The installed bundle, cut in its payload: the device stops at "already installed"
        # before it reads a payload byte.
        b = self.v1
        name, h, d, s, e = b.layout[3]
        self.add("trunc-v1-replay-in-part", "truncated", "v1", 0, 0, RE_INSTALLED,
                 "the installed 1.0 cut in its part: already installed, payload never read",
                 Recipe(b, d + s // 2))

    # ---------------------------------------------------------------------------------------
    # Single bit flips, in every member's header and data.

    # header fields: (name, offset, flip mask); the checksum is left stale (raw) or fixed.
    HEADER_FIELDS = [("name", 0, 0x01), ("mode", 102, 0x01), ("uid", 110, 0x01),
                     ("size", 134, 0x01), ("mtime", 140, 0x01), ("chksum", 150, 0x01),
                     ("typeflag", 156, 0x01), ("linkname", 157, 0x01), ("magic", 257, 0x01),
                     ("version", 263, 0x01), ("uname", 265, 0x01), ("devmajor", 331, 0x01),
                     ("prefix", 345, 0x01), ("pad", 505, 0x01)]

    def fixed_header_expect(self, b, index, field):
        """A bit flipped in a header field, with the checksum fixed: what the field means."""
        name = b.layout[index][0]
        if field in ("mode", "uid", "mtime", "uname", "devmajor", "pad", "linkname",
                     "magic", "version"):
            # ignored by §2.3 (magic/version: libarchive then reads it as a v7/GNU header)
            return VALID, 0, RE_WOULD
        if field in ("name", "prefix"):
            return FORMAT, FORMAT, f"expected member '{member_re(name)}'"
        if field == "typeflag":  # '0' ^ 1 = '1', a hard link (with an empty link name)
            return FORMAT, FORMAT, f"member '{member_re(name)}' is not a regular file"
        if field == "size":
            if name == "ostick.manifest":
                return SIGNATURE, SIGNATURE, f"{RE_BADSIG}|ostick\\.sig|{RE_TRUNC}"
            if name == "ostick.sig":
                return FORMAT, FORMAT, "signature block|delta/superblock|ostick\\.sig"
            return CORRUPT, CORRUPT, f"'{member_re(name)}' is [0-9]+ bytes, {RE_SIZE_DIFFERS}"
        raise AssertionError(field)

    def data_flip_expect(self, b, name, off):
        if name == "ostick.manifest":
            return SIGNATURE, SIGNATURE, RE_BADSIG
        if name == "ostick.sig":
            if off < 8:
                return FORMAT, FORMAT, "bad magic"
            if off < 12:
                return VERSION, VERSION, "signature block version"
            if off < 16:
                return FORMAT, FORMAT, "signatures"
            rec = (off - 16) % 100
            if rec < 2:
                return (FORMAT, FORMAT, "algorithm 0") if off == 16 else \
                    (SIGNATURE, SIGNATURE, RE_UNTRUSTED)
            if rec < 4:
                return FORMAT, FORMAT, "reserved field is not zero"
            if rec < 36:
                return SIGNATURE, SIGNATURE, RE_UNTRUSTED
            return SIGNATURE, SIGNATURE, RE_BADSIG
        return CORRUPT, CORRUPT, f"'{member_re(name)}' {RE_MISMATCH}"

    # on the two big bundles, only the fields whose change means something
    BIG_RAW = ("name", "size", "typeflag")
    BIG_FIXED = ("name", "size", "typeflag", "prefix", "magic", "mode")
    # a stale checksum is refused whatever the field: on the small bundle, a few more of them
    SMALL_RAW = ("chksum", "magic", "mtime", "linkname")

    def bit_flips(self):
        for b in [self.v1, self.v2, self.v2f]:
            phase = self.reach(b)
            small = b is self.v2
            for index, (name, h, d, s, e) in enumerate(b.layout):
                short = name.replace("/", "-").replace("ostick.", "")
                for field, off, mask in self.HEADER_FIELDS:
                    if not small and field not in self.BIG_RAW + self.BIG_FIXED:
                        continue
                    if field in self.BIG_RAW or (small and field in self.SMALL_RAW):
                        self.add(
                            f"flip-{b.tag}-{short}-hdr-{field}-raw", "bitflip-header", phase,
                            FORMAT, FORMAT, RE_DAMAGED,
                            f"{b.tag}: {name} header, {field} bit flipped (stale checksum)",
                            Recipe(b).flip(h + off, mask))
                    # (fixing the checksum field's own flip undoes it)
                    if field == "chksum" or not (small or field in self.BIG_FIXED):
                        continue
                    install, verify, regex = self.fixed_header_expect(b, index, field)
                    self.add(f"flip-{b.tag}-{short}-hdr-{field}-fixed", "bitflip-header", phase,
                             install, verify, regex,
                             f"{b.tag}: {name} header, {field} bit flipped, checksum fixed",
                             Recipe(b).flip(h + off, mask).fix_header(h))
                offsets = {0, s // 2, s - 1}
                if name == "ostick.sig":
                    offsets |= {8, 12, 13, 16, 17, 18, 20, 51, 52, 83, 115}
                for off in sorted(offsets):
                    for bit in ([0x01, 0x80] if off in (0, s - 1) else [0x01]):
                        install, verify, regex = self.data_flip_expect(b, name, off)
                        if name == "ostick.sig" and off == 16 and bit == 0x80:
                            install, verify, regex = SIGNATURE, SIGNATURE, RE_UNTRUSTED
                        self.add(f"flip-{b.tag}-{short}-data-{off}-{bit:02x}", "bitflip-data",
                                 phase, install, verify, regex,
                                 f"{b.tag}: {name} byte {off} ^ 0x{bit:02x}",
                                 Recipe(b).flip(d + off, bit))
            # the end-of-archive blocks: the first is read (a damaged header), the second not
            for off, bit in [(0, 0x01), (511, 0x80), (512, 0x01), (1023, 0x80)]:
                if off < BLOCK:
                    install, verify, regex = FORMAT, FORMAT, "end of bundle"
                else:
                    install, verify, regex = VALID, 0, RE_WOULD
                self.add(f"flip-{b.tag}-eoa-{off}-{bit:02x}", "bitflip-data", phase, install,
                         verify, regex, f"{b.tag}: end-of-archive byte {off} ^ 0x{bit:02x}",
                         Recipe(b).flip(b.eoa + off, bit))

    # ---------------------------------------------------------------------------------------
    # Signatures: unsigned, unknown keys, signatures that do not cover what they claim.

    def signatures(self):
        b = self.v2
        man = b.manifest
        pay = self.payload(b)
        sig = b.by_name["ostick.sig"]
        kid = vectors.key_id(self.key)
        kid2 = vectors.key_id(self.key2)
        kidp = vectors.key_id(self.p256)
        ed2 = vectors.ed25519_sign(self.key2, man)
        good = vectors.ed25519_sign(self.key, man)

        def raw(name, members, install, regex, what, verify=None):
            self.add(name, "signature", "v1", install, install if verify is None else verify,
                     regex, what, tar_bytes(*plain(members)))

        raw("unsigned-no-sig-member", [("ostick.manifest", man)] + pay, FORMAT,
            "expected member 'ostick\\.sig'", "no ostick.sig member")
        raw("unsigned-manifest-only", [("ostick.manifest", man)], FORMAT,
            "no member 'ostick\\.sig'|ostick\\.sig", "nothing but the manifest")
        raw("unsigned-empty-sig", [("ostick.manifest", man), ("ostick.sig", b"")] + pay, FORMAT,
            "signature block truncated", "an empty ostick.sig")
        raw("unsigned-zero-records", [("ostick.manifest", man),
                                      ("ostick.sig", vectors.sigblock([]))] + pay, FORMAT,
            "0 signatures", "a signature block with no record")
        raw("unsigned-header-only-count-1", [("ostick.manifest", man),
                                             ("ostick.sig", sig[:16])] + pay, FORMAT,
            "signatures need", "a block that says 1 signature and holds none")
        raw("unsigned-garbage-sig", [("ostick.manifest", man),
                                     ("ostick.sig", self.rng.randbytes(116))] + pay, FORMAT,
            "bad magic", "116 random bytes as ostick.sig")
        raw("unsigned-sig-too-big", [("ostick.manifest", man),
                                     ("ostick.sig", sig + b"\0" * 1600)] + pay, FORMAT,
            "ostick\\.sig.*at most", "an ostick.sig over 1616 bytes")
        raw("unknown-key-ed25519", [("ostick.manifest", man),
                                    ("ostick.sig", vectors.signed(self.key2, man))] + pay,
            SIGNATURE, RE_UNTRUSTED, "signed by an Ed25519 key the device does not trust")
        raw("unknown-key-p256", [("ostick.manifest", man), ("ostick.sig", vectors.sigblock(
            [(2, kidp, p256_sign(self.p256, man))]))] + pay, SIGNATURE, RE_UNTRUSTED,
            "signed by a P-256 key the device does not trust")
        raw("unknown-key-both", [("ostick.manifest", man), ("ostick.sig", vectors.sigblock(
            [(1, kid2, ed2), (2, kidp, p256_sign(self.p256, man))]))] + pay, SIGNATURE,
            RE_UNTRUSTED, "two valid signatures, neither by a trusted key")
        raw("spoofed-key-id", [("ostick.manifest", man), ("ostick.sig", vectors.sigblock(
            [(1, kid, ed2)]))] + pay, SIGNATURE, RE_BADSIG,
            "the trusted key's ID on a signature made by another key")
        raw("trusted-key-wrong-algorithm", [("ostick.manifest", man), ("ostick.sig",
            vectors.sigblock([(2, kid, good)]))] + pay, SIGNATURE, "does not match",
            "the trusted Ed25519 key's ID with algorithm 2 (ECDSA)")
        raw("trusted-bad-beside-untrusted-good", [("ostick.manifest", man), ("ostick.sig",
            vectors.sigblock([(1, kid2, ed2), (1, kid, ed2)]))] + pay, SIGNATURE, RE_BADSIG,
            "a valid untrusted signature and a bad trusted one")
        raw("trusted-good-after-bad", [("ostick.manifest", man), ("ostick.sig",
            vectors.sigblock([(1, kid, bytes(64)), (1, kid2, ed2)]))] + pay, SIGNATURE,
            RE_BADSIG, "a zero signature by the trusted key ID beside a valid untrusted one")
        raw("unknown-algorithm-only", [("ostick.manifest", man), ("ostick.sig",
            vectors.sigblock([(7, kid, good)]))] + pay, SIGNATURE, RE_UNTRUSTED,
            "the trusted key's valid signature under an unknown algorithm number")
        raw("same-key-twice", [("ostick.manifest", man), ("ostick.sig",
            vectors.sigblock([(1, kid, good), (1, kid, good)]))] + pay, FORMAT, "same key",
            "the same trusted key twice")
        raw("signature-of-other-manifest", [("ostick.manifest", man), ("ostick.sig",
            self.v2f.by_name["ostick.sig"])] + pay, SIGNATURE, RE_BADSIG,
            "the trusted signature of another bundle's manifest (replayed)")
        raw("valid-sig-plus-unknown-key", [("ostick.manifest", man), ("ostick.sig",
            vectors.sigblock([(1, kid2, bytes(64)), (1, kid, good)]))] + pay, VALID, RE_WOULD,
            "a trusted signature beside a junk record of an unknown key (key rotation)",
            verify=0)
        raw("manifest-with-trailing-newline", [("ostick.manifest", man + b"\n"),
                                               ("ostick.sig", sig)] + pay, SIGNATURE,
            RE_BADSIG, "one byte appended to the signed manifest")
        raw("manifest-without-last-byte", [("ostick.manifest", man[:-1]),
                                           ("ostick.sig", sig)] + pay, SIGNATURE, RE_BADSIG,
            "the signed manifest's last byte dropped")

        # A valid signature over a manifest whose hashes do not match the payload.
        other = self.v2f
        raw("genuine-manifest-other-payload", [("ostick.manifest", man), ("ostick.sig", sig)] +
            self.payload(other), CORRUPT, "delta/superblock",
            "2.0 delta's signed manifest with the full 2.0 bundle's payload")
        raw("genuine-manifest-other-part", [("ostick.manifest", man), ("ostick.sig", sig),
                                            ("delta/superblock", b.by_name["delta/superblock"]),
                                            ("delta/0", other.by_name["delta/0"])], CORRUPT,
            f"'delta/0' is [0-9]+ bytes, {RE_SIZE_DIFFERS}",
            "2.0 delta's signed manifest and superblock, another bundle's part")
        txt = b.text
        self.add("resigned-superblock-hash-wrong", "signature", "v1", CORRUPT, CORRUPT,
                 f"'delta/superblock' {RE_MISMATCH}",
                 "signed manifest with a wrong [superblock] sha256",
                 self.signed_bundle(vectors.manifest_set(txt, "superblock", "sha256",
                                                         hashlib.sha256(b"x").hexdigest()), pay))
        self.add("resigned-superblock-size-minus-1", "signature", "v1", CORRUPT, CORRUPT,
                 RE_SIZE_DIFFERS, "signed manifest: [superblock] size one byte less",
                 self.signed_bundle(vectors.manifest_set(
                     txt, "superblock", "size", str(len(b.by_name["delta/superblock"]) - 1)),
                     pay))
        for bundle in [self.v2, self.v2xz] if self.v2xz else [self.v2]:
            self.resigned_parts(bundle)

    def resigned_parts(self, b):
        """Signed manifests whose [part.0] size or hash lies. An ostree-xz part is named by the
        superblock's part header too (checked first: FORMAT); a zstd part only by the manifest
        (the member's own check: CORRUPT)."""
        txt, pay, tag = b.text, self.payload(b), b.tag
        part = b.by_name["delta/0"]
        xz = b.encoding(0) == "ostree-xz"
        self.add(f"resigned-part-hash-wrong-{tag}", "signature", "v1", 4, 4,
                 "part 0: superblock SHA-256 [0-9a-f]+… disagrees with the manifest's" if xz
                 else f"'delta/0' {RE_MISMATCH}",
                 f"{tag}: signed manifest with a wrong [part.0] sha256",
                 self.signed_bundle(vectors.manifest_set(txt, "part.0", "sha256",
                                                         hashlib.sha256(b"y").hexdigest()), pay))
        self.add(f"resigned-part-size-plus-1-{tag}", "signature", "v1", 4, 4,
                 f"part 0: superblock size {len(part)} disagrees with the manifest's "
                 f"{len(part) + 1}" if xz else
                 f"'delta/0' is {len(part)} bytes, {RE_SIZE_DIFFERS} {len(part) + 1}",
                 f"{tag}: signed manifest: [part.0] size one byte more",
                 self.signed_bundle(vectors.manifest_set(txt, "part.0", "size",
                                                         str(len(part) + 1)), pay))
        # the part extended by one byte, the manifest's size and hash following it
        self.add(f"resigned-part-appended-{tag}", "signature", "v1", 4, 4,
                 "superblock size [0-9]+ disagrees" if xz else "zstd part.*(trailing|after|followed)",
                 f"{tag}: a byte appended to the part, manifest re-hashed and re-signed",
                 self.forge(b, parts=[part + b"\0"]))

    # ---------------------------------------------------------------------------------------
    # Members reordered, duplicated, extra, missing.

    def members(self):
        for b in [self.v2, self.multi] if self.multi else [self.v2]:
            m = b.members
            tag = b.tag

            def add(name, members, install, regex, what, verify=None, data=None):
                self.add(f"{name}-{tag}", "members", "v1", install,
                         install if verify is None else verify, regex, f"{tag}: {what}",
                         data if data is not None else tar_bytes(*plain(members)))

            man, sig, sb = m[0], m[1], m[2]
            parts = m[3:]
            add("reorder-sig-first", [sig, man] + m[2:], FORMAT,
                "expected member 'ostick\\.manifest', found 'ostick\\.sig'",
                "signature before the manifest")
            add("reorder-part-before-superblock", [man, sig] + parts + [sb], FORMAT,
                "expected member 'delta/superblock', found 'delta/0'",
                "part 0 before the superblock")
            add("reorder-superblock-last", [man, sig, parts[0], sb] + parts[1:], FORMAT,
                "expected member 'delta/superblock'", "superblock after part 0")
            add("duplicate-manifest", [man, man] + m[1:], FORMAT,
                "expected member 'ostick\\.sig', found 'ostick\\.manifest'", "manifest twice")
            add("duplicate-sig", [man, sig, sig] + m[2:], FORMAT,
                "expected member 'delta/superblock', found 'ostick\\.sig'", "signature twice")
            add("duplicate-superblock", [man, sig, sb, sb] + parts, FORMAT,
                "expected member 'delta/0', found 'delta/superblock'", "superblock twice")
            add("duplicate-last-part", m + [parts[-1]], FORMAT,
                f"unexpected member '{member_re(parts[-1][0])}' after the last part",
                "the last part twice")
            add("extra-first", [("README", b"hello\n")] + m, FORMAT,
                "expected member 'ostick\\.manifest', found 'README'",
                "an extra member before the manifest")
            add("extra-after-sig", [man, sig, ("delta/evil", b"x")] + m[2:], FORMAT,
                "expected member 'delta/superblock', found 'delta/evil'",
                "an extra member after the signature")
            add("extra-after-superblock", [man, sig, sb, ("delta/superblock.1", b"x")] + parts,
                FORMAT, "expected member 'delta/0', found 'delta/superblock\\.1'",
                "an extra member after the superblock")
            add("extra-next-part", m + [(f"delta/{len(parts)}", parts[0][1])], FORMAT,
                f"unexpected member 'delta/{len(parts)}' after the last part",
                "one part more than the manifest says")
            add("extra-manifest-at-end", m + [man], FORMAT,
                "unexpected member 'ostick\\.manifest' after the last part",
                "a second manifest after the last part")
            add("missing-manifest", m[1:], FORMAT,
                "expected member 'ostick\\.manifest', found 'ostick\\.sig'", "no manifest")
            add("missing-superblock", [man, sig] + parts, FORMAT,
                "expected member 'delta/superblock', found 'delta/0'", "no superblock")
            add("missing-last-part", m[:-1], FORMAT,
                f"no member '{member_re(parts[-1][0])}'", "the last part left out")
            add("only-header-members", [man, sig], FORMAT, "no member 'delta/superblock'",
                "manifest and signature, no payload")
            if len(parts) >= 3:
                add("reorder-parts-swapped", [man, sig, sb, parts[1], parts[0]] + parts[2:],
                    FORMAT, "expected member 'delta/0', found 'delta/1'", "parts 0 and 1 swapped")
                add("reorder-last-part-first", [man, sig, sb, parts[-1]] + parts[:-1], FORMAT,
                    f"expected member 'delta/0', found '{member_re(parts[-1][0])}'",
                    "the last part first")
                add("missing-middle-part", [man, sig, sb, parts[0]] + parts[2:], FORMAT,
                    "expected member 'delta/1', found 'delta/2'", "part 1 left out")
                add("duplicate-first-part", [man, sig, sb, parts[0], parts[0]] + parts[1:],
                    FORMAT, "expected member 'delta/1', found 'delta/0'", "part 0 twice")
            # the whole bundle twice: the archive ends at the first zero block
            add("concatenated-twice", None, VALID, RE_WOULD,
                "the bundle twice, one after the other (the second copy is never read)",
                verify=0, data=tar_bytes(*plain(m)) * 2)
            add("directory-before-superblock", None, FORMAT,
                "expected member 'delta/superblock', found 'delta/?'",
                "a directory 'delta/' before the superblock",
                data=tar_bytes(*plain([man, sig]), ustar_header("delta/", 0, typeflag=b"5"),
                               *plain(m[2:])))

    # ---------------------------------------------------------------------------------------
    # Tar tricks: names, link and special types, pax and GNU headers, sparse files, bombs.

    def tar_tricks(self):
        b = self.v2
        m = b.members
        man, sig, sb, part = m[0], m[1], m[2], m[3]
        ents = plain(m)
        cls = "tar-tricks"

        def add(name, install, regex, what, *chunks, verify=None, end=True):
            self.add(name, cls, "v1", install, install if verify is None else verify, regex,
                     what, tar_bytes(*chunks, end=end))

        # names
        for i, (mname, data) in enumerate(m):
            short = mname.replace("/", "-").replace("ostick.", "")
            for label, bad in [("absolute", "/" + mname), ("dotdot", "../" + mname),
                               ("dot-slash", "./" + mname), ("trailing-slash", mname + "/"),
                               ("dotdot-inside", mname.replace("/", "/../delta/", 1)
                                if "/" in mname else "x/../" + mname),
                               ("double-slash", mname.replace("/", "//", 1)
                                if "/" in mname else "//" + mname),
                               ("trailing-space", mname + " "), ("uppercase", mname.upper())]:
                chunks = ents[:i] + [entry(bad, data)] + ents[i + 1:]
                add(f"name-{label}-{short}", FORMAT, f"expected member '{member_re(mname)}'",
                    f"{mname} named {bad!r}", *chunks)
        # a legitimate ustar split (prefix + name) is the same name; a bad prefix is not
        split = ents[:3] + [ustar_header("0", len(part[1]), prefix=b"delta") + pad(part[1])]
        add("name-ustar-prefix-split", VALID, RE_WOULD, "delta/0 as prefix 'delta' + name '0'",
            *split, verify=0)
        bad = ents[:3] + [ustar_header("0", len(part[1]), prefix=b"/delta") + pad(part[1])]
        add("name-ustar-prefix-absolute", FORMAT, "expected member 'delta/0'",
            "delta/0 as prefix '/delta' + name '0'", *bad)
        bad = ents[:3] + [ustar_header("delta/0", len(part[1]), prefix=b"..") + pad(part[1])]
        add("name-ustar-prefix-dotdot", FORMAT, "expected member 'delta/0'",
            "delta/0 under prefix '..'", *bad)
        add("name-nul-then-junk", VALID, RE_WOULD,
            "delta/0 named 'delta/0\\0junk' (a C string ends at the NUL)",
            *ents[:3], entry(b"delta/0\0junk", part[1]), verify=0)
        add("part-name-leading-zero", FORMAT, "expected member 'delta/0', found 'delta/00'",
            "part 0 named delta/00", *ents[:3], entry("delta/00", part[1]))
        add("part-name-plus", FORMAT, "expected member 'delta/0', found 'delta/\\+0'",
            "part 0 named delta/+0", *ents[:3], entry("delta/+0", part[1]))

        # pax path records: applied before the name is checked
        for label, path, install, regex in [
                ("dotdot", "../../etc/shadow", FORMAT, "expected member 'ostick\\.manifest'"),
                ("absolute", "/ostick.manifest", FORMAT, "expected member 'ostick\\.manifest'"),
                ("empty", "", VALID, RE_WOULD),  # POSIX: an empty value deletes the record
                ("renames-to-right-name", "ostick.manifest", VALID, RE_WOULD)]:
            ustar_name = "evil" if label == "renames-to-right-name" else "ostick.manifest"
            add(f"pax-path-{label}", install, regex, f"manifest with pax path={path!r}",
                pax_entry([("path", path)]), entry(ustar_name, man[1]), *ents[1:],
                verify=0 if install == VALID else None)
        add("pax-global-header-first", VALID, RE_WOULD, "a pax global header before the manifest",
            pax_entry([("comment", "hello")], typeflag=b"g", name="pax_global_header"), *ents,
            verify=0)
        add("pax-path-invalid-utf8", FORMAT, "ostick\\.manifest: Pathname can't be converted",
            "manifest with a pax path that is not UTF-8",
            pax_entry([("path", b"ostick.manifest\xff")]), entry("ostick.manifest", man[1]),
            *ents[1:])
        add("pax-path-then-nothing", FORMAT, "ostick\\.manifest|[Tt]runcated|no member",
            "a pax header and then the end of the archive", pax_entry([("path", "x")]))

        # link and special member types, in every position
        types = [("symlink", b"2", b"/etc/shadow"), ("hardlink", b"1", b"ostick.manifest"),
                 ("chardev", b"3", b""), ("blockdev", b"4", b""), ("fifo", b"6", b""),
                 ("directory", b"5", b"")]
        for i, (mname, data) in enumerate(m):
            short = mname.replace("/", "-").replace("ostick.", "")
            for label, flag, link in types:
                hdr = ustar_header(mname, 0, typeflag=flag, linkname=link,
                                   devmajor=1 if flag in (b"3", b"4") else 0,
                                   devminor=3 if flag in (b"3", b"4") else 0)
                add(f"type-{label}-{short}", FORMAT,
                    f"'{member_re(mname)}' is not a regular file|expected member "
                    f"'{member_re(mname)}'", f"{mname} as a {label}", *ents[:i], hdr,
                    *ents[i + 1:])
        # a hard link that carries data (pax allows it): still a link
        hdr = ustar_header("delta/0", len(part[1]), typeflag=b"1", linkname=b"delta/superblock")
        add("type-hardlink-with-data-part", FORMAT, RE_NOT_REGULAR,
            "delta/0 as a hard link that carries the part's bytes", *ents[:3], hdr + pad(part[1]))
        hdr = ustar_header("delta/0", len(part[1]), typeflag=b"2", linkname=b"/etc/shadow")
        add("type-symlink-with-data-part", FORMAT, RE_NOT_REGULAR,
            "delta/0 as a symlink whose size field covers the part's bytes", *ents[:3],
            hdr + pad(part[1]))
        # a symlink named like a directory of the payload, before it
        add("symlink-delta-dir", FORMAT, "expected member 'delta/superblock', found 'delta'",
            "a symlink 'delta' -> /etc before the payload", *ents[:2],
            ustar_header("delta", 0, typeflag=b"2", linkname=b"/etc"), *ents[2:])
        # regular-file type flags the spec allows, and ones it does not name
        for label, flag, install in [("nul", b"\0", VALID), ("contiguous", b"7", VALID),
                                     ("unknown-8", b"8", FORMAT), ("unknown-Z", b"Z", FORMAT)]:
            hdr = ustar_header("delta/0", len(part[1]), typeflag=flag)
            add(f"type-{label}-part", install,
                RE_WOULD if install == VALID else f"{RE_NOT_REGULAR}|type|delta/0",
                f"delta/0 with type flag {flag!r}", *ents[:3], hdr + pad(part[1]),
                verify=0 if install == VALID else None)
        for label, flag in [("gnu-volume-V", b"V"), ("gnu-multivolume-M", b"M"),
                            ("gnu-dumpdir-D", b"D"), ("solaris-acl-A", b"A"),
                            ("solaris-xattr-X", b"X"), ("old-gnu-longname-N", b"N")]:
            hdr = ustar_header("delta/0", len(part[1]), typeflag=flag)
            add(f"type-{label}-part", FORMAT, f"{RE_NOT_REGULAR}|delta/0|[Dd]amaged|support",
                f"delta/0 with type flag {flag!r}", *ents[:3], hdr + pad(part[1]))

        # pax size records: huge, overflowing, wrapping, negative
        for i in (0, 2, 3):
            mname, data = m[i]
            short = mname.replace("/", "-").replace("ostick.", "")
            for label, size in [("2p32", str(2 ** 32)), ("2p32-plus-real", str(2 ** 32 + len(data))),
                                ("2p63-1", str(2 ** 63 - 1)), ("2p63", str(2 ** 63)),
                                ("2p64-2", str(2 ** 64 - 2)),
                                ("2p64-plus-real", str(2 ** 64 + len(data))),
                                ("huge-digits", "9" * 40), ("negative", "-1"),
                                ("zero", "0"), ("hex", hex(len(data)))]:
                add(f"pax-size-{label}-{short}", FORMAT if i == 0 else 4,
                    f"{member_re(mname)}|overflow|size|[Tt]runcated|[Dd]amaged",
                    f"{mname} with pax size={size}", *ents[:i],
                    pax_entry([("size", size)]), entry(mname, data), *ents[i + 1:])
        # the pax header itself claims a huge size
        for label, claimed in [("1g", 1 << 30), ("2p40", 1 << 40), ("2p62", 1 << 62)]:
            add(f"pax-header-claims-{label}", FORMAT, f"{RE_TRUNC}|[Dd]amaged|pax|ostick",
                f"a pax header member that claims {claimed} bytes (then the manifest)",
                pax_entry([("path", "ostick.manifest")], claimed_size=claimed), *ents)
            add(f"gnu-longname-claims-{label}", FORMAT, f"{RE_TRUNC}|[Dd]amaged|ostick|too",
                f"a GNU longname member that claims {claimed} bytes",
                gnu_long(b"L", b"ostick.manifest", claimed_size=claimed), *ents)

        # ustar size fields near 2^32 and 2^64 (octal and base-256)
        for i in (0, 1, 2, 3):
            mname, data = m[i]
            short = mname.replace("/", "-").replace("ostick.", "")
            for label, field in [("octal-2p32", octal(2 ** 32, 12)),
                                 ("octal-max", b"77777777777\0"),
                                 ("b256-2p32-plus-real", base256(2 ** 32 + len(data))),
                                 ("b256-2p63-1", base256(2 ** 63 - 1)),
                                 ("b256-2p64-1", base256(2 ** 64 - 1)),
                                 ("b256-2p64-plus-real", base256(2 ** 64 + len(data))),
                                 ("garbage", b"zzzzzzzzzzz\0")]:
                hdr = ustar_header(mname, 0, size_field=field)
                if i == 0:
                    exp, verify = FORMAT, FORMAT
                elif i == 1:
                    exp, verify = FORMAT, FORMAT
                else:
                    exp, verify = 4, 4
                add(f"size-{label}-{short}", exp,
                    f"{member_re(mname)}|size|[Tt]runcated|[Dd]amaged|overflow|bytes|not a bundle",
                    f"{mname} with a tar size field {field!r}", *ents[:i], hdr + pad(data),
                    *ents[i + 1:])

        # sparse members: GNU 'S' (old GNU header) and pax GNU.sparse 0.0, 0.1, 1.0
        data = part[1]
        n = len(data)
        gnu = bytearray(ustar_header("delta/0", n, typeflag=b"S", gnu=True))
        gnu[386:398] = octal(0, 12)
        gnu[398:410] = octal(n, 12)
        gnu[483:495] = octal(n, 12)
        add("sparse-gnu-S-trivial-map", FORMAT, "sparse",
            "delta/0 as an old-GNU sparse member whose map covers the whole file", *ents[:3],
            fix_checksum(gnu) + pad(data))
        gnu = bytearray(ustar_header("delta/0", n - 512, typeflag=b"S", gnu=True))
        gnu[386:398], gnu[398:410] = octal(0, 12), octal(512, 12)
        gnu[410:422], gnu[422:434] = octal(1024, 12), octal(n - 1024, 12)
        gnu[483:495] = octal(n, 12)
        add("sparse-gnu-S-hole", FORMAT, "sparse",
            "delta/0 as an old-GNU sparse member with a 512-byte hole", *ents[:3],
            fix_checksum(gnu) + pad(data[:512] + data[1024:]))
        add("sparse-pax-0.0", FORMAT, "sparse", "delta/0 with pax GNU.sparse.offset/numbytes",
            *ents[:3], pax_entry([("GNU.sparse.size", str(n)), ("GNU.sparse.numblocks", "1"),
                                  ("GNU.sparse.offset", "0"), ("GNU.sparse.numbytes", str(n))]),
            entry("delta/0", data))
        add("sparse-pax-0.1", FORMAT, "sparse", "delta/0 with pax GNU.sparse.map",
            *ents[:3], pax_entry([("GNU.sparse.size", str(n)), ("GNU.sparse.numblocks", "1"),
                                  ("GNU.sparse.map", f"0,{n}")]), entry("delta/0", data))
        sparse_map = pad(b"1\n0\n%d\n" % n)
        add("sparse-pax-1.0", FORMAT, "sparse", "delta/0 as a pax GNU.sparse 1.0 member",
            *ents[:3], pax_entry([("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"),
                                  ("GNU.sparse.name", "delta/0"),
                                  ("GNU.sparse.realsize", str(n))]),
            entry("GNUSparseFile.0/0", sparse_map + data))
        sparse_map = pad(b"2\n0\n512\n1024\n%d\n" % (n - 1024))
        add("sparse-pax-1.0-hole", FORMAT, "sparse",
            "delta/0 as a pax GNU.sparse 1.0 member with a hole", *ents[:3],
            pax_entry([("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"),
                       ("GNU.sparse.name", "delta/0"), ("GNU.sparse.realsize", str(n))]),
            entry("GNUSparseFile.0/0", sparse_map + data[:512] + data[1024:]))
        # the manifest as a sparse member (before the signature is checked)
        mdata = man[1]
        gnu = bytearray(ustar_header("ostick.manifest", len(mdata), typeflag=b"S", gnu=True))
        gnu[386:398], gnu[398:410] = octal(0, 12), octal(len(mdata), 12)
        gnu[483:495] = octal(len(mdata), 12)
        add("sparse-gnu-S-manifest", FORMAT, "sparse", "the manifest as a GNU sparse member",
            fix_checksum(gnu) + pad(mdata), *ents[1:])

        # long-name bombs and names that attack the log line
        add("longname-pax-1mb", FORMAT, "ostick\\.manifest: Special header too large",
            "a pax path of 1 MiB on the first member", pax_entry([("path", "a" * (1 << 20))]),
            entry("ostick.manifest", man[1]), *ents[1:])
        add("longname-gnu-1mb", FORMAT, "ostick\\.manifest: Special header too large",
            "a GNU longname of 1 MiB on the first member", gnu_long(b"L", b"b" * (1 << 20)),
            entry("ostick.manifest", man[1]), *ents[1:])
        add("longname-gnu-right-name", VALID, RE_WOULD,
            "a GNU longname record that names the manifest correctly",
            gnu_long(b"L", b"ostick.manifest"), entry("whatever", man[1]), *ents[1:], verify=0)
        add("longlink-gnu-1mb-part", FORMAT, f"{RE_NOT_REGULAR}|delta/0",
            "a GNU long link name of 1 MiB on a symlink delta/0", *ents[:3],
            gnu_long(b"K", b"c" * (1 << 20)), ustar_header("delta/0", 0, typeflag=b"2"))
        add("longname-pax-16mb", FORMAT, "ostick\\.manifest: Special header too large",
            "a pax path of 16 MiB on the first member", pax_entry([("path", "d" * (16 << 20))]),
            entry("ostick.manifest", man[1]), *ents[1:])
        add("pax-many-records", VALID, RE_WOULD, "20000 ignored pax records on the manifest",
            pax_entry([("comment", "x")] * 20000), *ents, verify=0)
        # a hard link with an empty link name that carries data (pax keeps a link's size)
        add("type-hardlink-empty-link-pax-part", FORMAT, RE_NOT_REGULAR,
            "delta/0 as a hard link with an empty link name and the part's bytes, under a pax "
            "header", *ents[:3], pax_entry([("comment", "link")]),
            ustar_header("delta/0", len(part[1]), typeflag=b"1") + pad(part[1]))
        add("type-hardlink-empty-link-part", FORMAT, RE_NOT_REGULAR,
            "delta/0 as a hard link with an empty link name", *ents[:3],
            ustar_header("delta/0", len(part[1]), typeflag=b"1") + pad(part[1]))

    # ---------------------------------------------------------------------------------------
    # Names and text that reach the log: no control characters, bounded length.

    def log_injection(self):
        m = self.v2.members
        ents = plain(m)
        for label, name in [("ansi-escape", b"\x1b]0;pwned\x07\x1b[2J\x1b[31mostick.manifest"),
                            ("newline", b"ostick.manifest\nostick-apply: install: installed 9.9"),
                            ("carriage-return", b"evil\rostick-apply: install: installed 9.9"),
                            ("c1-csi", "evil\u009b2Jx".encode()),
                            ("64k-name", b"e" * 65536)]:
            self.add(f"log-{label}-member-name", "log-injection", "v1", FORMAT, FORMAT,
                     "expected member 'ostick\\.manifest'",
                     f"a pax member name: {label} (must not reach the log raw)",
                     tar_bytes(pax_entry([("path", name)]), entry("x", m[0][1]), *ents[1:]))

    # ---------------------------------------------------------------------------------------
    # Size fields near 2^32 and 2^64 in the signed manifest.

    def manifest_sizes(self):
        b = self.v2
        pay = self.payload(b)
        psize = len(b.by_name["delta/0"])
        sbsize = len(b.by_name["delta/superblock"])
        cases = [
            # a part that large cannot be staged here: the space check refuses it up front
            ("part-size-2p32-plus-real", "part.0", "size", 2 ** 32 + psize, NO_SPACE,
             RE_NO_SPACE),
            ("part-size-2p32-1", "part.0", "size", 2 ** 32 - 1, NO_SPACE, RE_NO_SPACE),
            ("part-size-plus-4096", "part.0", "size", psize + 4096, CORRUPT,
             f"'delta/0' is {psize} bytes, {RE_SIZE_DIFFERS} {psize + 4096}"),
            ("part-size-16g-plus-1", "part.0", "size", 16 * 2 ** 30 + 1, FORMAT, "size"),
            ("part-size-2p64", "part.0", "size", 2 ** 64, FORMAT, "not a number"),
            ("part-size-2p64-plus-real", "part.0", "size", 2 ** 64 + psize, FORMAT,
             "not a number"),
            ("part-size-zero", "part.0", "size", 0, FORMAT, "size 0 outside"),
            ("part-decoded-2p32", "part.0", "decoded-size", 2 ** 32, NO_SPACE, RE_NO_SPACE),
            ("part-decoded-2p64-1", "part.0", "decoded-size", 2 ** 64 - 1, FORMAT,
             "decoded-size too large"),
            ("part-decoded-2p64", "part.0", "decoded-size", 2 ** 64, FORMAT, "not a number"),
            ("superblock-size-2p32-plus-real", "superblock", "size", 2 ** 32 + sbsize, FORMAT,
             "superblock: size"),
            ("superblock-size-32m", "superblock", "size", 32 << 20, CORRUPT, RE_SIZE_DIFFERS),
            ("install-size-2p32", "payload", "install-size", 2 ** 32, NO_SPACE, RE_NO_SPACE),
            ("install-size-2p50", "payload", "install-size", 2 ** 50, NO_SPACE, RE_NO_SPACE),
            ("install-size-2p50-plus-1", "payload", "install-size", 2 ** 50 + 1, FORMAT,
             "install-size too large"),
            ("install-size-2p64-1", "payload", "install-size", 2 ** 64 - 1, FORMAT,
             "install-size too large"),
            ("parts-2p32", "payload", "parts", 2 ** 32, FORMAT, "parts"),
            ("parts-2p32-plus-1", "payload", "parts", 2 ** 32 + 1, FORMAT, "parts"),
            ("parts-2p64-1", "payload", "parts", 2 ** 64 - 1, FORMAT, "parts"),
            ("parts-4097", "payload", "parts", 4097, FORMAT, "parts"),
            ("parts-zero", "payload", "parts", 0, FORMAT, "parts"),
            ("target-timestamp-2p64-1", "bundle", "target-timestamp", 2 ** 64 - 1, FORMAT,
             "commit timestamp"),
            ("target-timestamp-2p32", "bundle", "target-timestamp", 2 ** 32, FORMAT,
             "commit timestamp"),
            ("target-timestamp-2p64", "bundle", "target-timestamp", 2 ** 64, FORMAT,
             "not a number"),
            ("format-2p32-plus-1", "bundle", "format", 2 ** 32 + 1, VERSION, "format"),
            ("format-2p64-1", "bundle", "format", 2 ** 64 - 1, VERSION, "format"),
        ]
        if b.encoding(0) == "zstd":
            cases += [
                ("payload-size-zero", "part.0", "payload-size", 0, FORMAT, "payload-size"),
                ("payload-size-16g-plus-1", "part.0", "payload-size", 16 * 2 ** 30 + 1, FORMAT,
                 "payload-size"),
                ("payload-size-2p32", "part.0", "payload-size", 2 ** 32, NO_SPACE, RE_NO_SPACE),
                ("payload-size-2p64", "part.0", "payload-size", 2 ** 64, FORMAT, "not a number"),
                ("payload-size-plus-1", "part.0", "payload-size",
                 int(b.part_value(0, "payload-size")) + 1, CORRUPT, "zstd"),
                ("payload-size-minus-1", "part.0", "payload-size",
                 int(b.part_value(0, "payload-size")) - 1, CORRUPT, "zstd"),
                ("encoding-xz-over-zstd-part", "part.0", "encoding", "ostree-xz", FORMAT,
                 "payload-size"),
            ]
        for name, group, key, value, install, regex in cases:
            text = vectors.manifest_set(b.text, group, key, str(value))
            self.add(f"manifest-{name}", "sizes", "v1", install, install, regex,
                     f"signed manifest: [{group}] {key}={value}", self.signed_bundle(text, pay))

    # ---------------------------------------------------------------------------------------
    # Signed manifests that are not for this device, or not what the payload is.

    def policy(self):
        b = self.v2
        v1_target = self.v1.value("target")
        rnd = hashlib.sha256(b"no such commit").hexdigest()

        def add(name, edit, install, regex, what, phase="v1", bundle=b):
            self.add(name, "policy", phase, install, install, regex, what,
                     self.signed_bundle(edit(bundle.text), self.payload(bundle)))

        ms = vectors.manifest_set
        for label, value in [("other-board", "other-board"),
                             ("prefix", "ostick-demo"), ("suffix", "ostick-demo-board-2"),
                             ("trailing-space", "ostick-demo-board\\s"),
                             ("uppercase", "OSTICK-DEMO-BOARD"),
                             ("homoglyph", "ostick-dem\u043e-board")]:
            add(f"compatible-{label}", lambda x, v=value: ms(x, "bundle", "compatible", v),
                NOT_FOR_DEVICE, "bundle is for '.*', this device is 'ostick-demo-board'",
                f"signed manifest, compatible={value!r}")
        add("compatible-empty", lambda x: ms(x, "bundle", "compatible", ""), FORMAT,
            "compatible: missing or empty", "signed manifest, compatible empty")
        add("compatible-escape", lambda x: ms(x, "bundle", "compatible", "ostick\x1b[2J"),
            FORMAT, "control character", "signed manifest, compatible with an ESC")
        add("os-other", lambda x: ms(x, "bundle", "os", "other"), NOT_FOR_DEVICE,
            "bundle is for OS 'other'", "signed manifest, os=other")
        add("os-dotdot", lambda x: ms(x, "bundle", "os", "../../etc"), FORMAT, "os:",
            "signed manifest, os=../../etc")
        add("base-missing-random", lambda x: ms(x, "bundle", "base", rnd), NOT_FOR_DEVICE,
            "which is not on this device", "signed manifest, base = a commit nobody has")
        add("base-equals-target", lambda x: ms(x, "bundle", "base", b.value("target")), FORMAT,
            "same commit", "signed manifest, base = target")
        add("downgrade-forged-timestamp", lambda x: ms(x, "bundle", "target-timestamp", "1"),
            NOT_FOR_DEVICE, "older than the installed", "signed manifest, target-timestamp=1")
        add("downgrade-forged-version", lambda x: ms(x, "bundle", "version", "0.9"),
            NOT_FOR_DEVICE, "version 0\\.9 is older than the installed 1\\.0",
            "signed manifest, version=0.9")
        add("target-is-installed", lambda x: ms(ms(x, "bundle", "target", v1_target), "bundle",
                                                "base", ""), 0, RE_INSTALLED,
            "signed manifest naming the installed 1.0 over the 2.0 payload")
        add("required-feature", lambda x: ms(x, "bundle", "required-features", "x-evil;"),
            VERSION, "required feature 'x-evil'", "signed manifest with a required feature")
        add("format-2", lambda x: ms(x, "bundle", "format", "2"), VERSION, "format 2",
            "signed manifest, format=2")
        add("ref-dotdot", lambda x: ms(x, "bundle", "ref", "../../heads/x"), FORMAT, "ref",
            "signed manifest, ref=../../heads/x")
        add("target-timestamp-newer", lambda x: ms(x, "bundle", "target-timestamp",
                                                   str(int(b.value("target-timestamp")) + 1000)),
            FORMAT, "commit timestamp", "signed manifest, target-timestamp 1000 s later than "
            "the commit's")
        add("target-other-commit", lambda x: ms(x, "bundle", "target", rnd), FORMAT,
            "superblock target", "signed manifest naming a commit the payload does not carry")
        add("full-as-delta", lambda x: ms(x, "bundle", "base", v1_target), FORMAT,
            "superblock base", "full 2.0 bundle whose signed manifest says delta from 1.0",
            bundle=self.v2f)
        add("delta-as-full", lambda x: ms(x, "bundle", "base", ""), FORMAT, "superblock base",
            "2.0 delta whose signed manifest says from scratch")
        # the real ones
        for name, bundle, phase, install, regex, what in [
                ("replay-v1", self.v1, "v1", 0, RE_INSTALLED, "1.0 again on the 1.0 device"),
                ("replay-v2", self.v2, "v2", 0, RE_INSTALLED, "the 2.0 delta on the 2.0 device"),
                ("replay-v2-full", self.v2f, "v2", 0, RE_INSTALLED,
                 "the full 2.0 on the 2.0 device"),
                ("downgrade-v1", self.v1, "v2", NOT_FOR_DEVICE, "older than the installed",
                 "1.0 on the 2.0 device")]:
            self.add(name, "policy", phase, install, install, regex, what, bundle.data)
        name, h, d, size, e = self.v1.layout[3]
        self.add("replay-v1-tampered-part", "policy", "v1", 0, 0, RE_INSTALLED,
                 "1.0 again, one part byte flipped: already installed, payload never read",
                 Recipe(self.v1).flip(d + size // 2, 0x01))
        name, h, d, size, e = self.v2.layout[3]
        self.add("replay-v2-tampered-part", "policy", "v2", 0, 0, RE_INSTALLED,
                 "the 2.0 delta again on 2.0, one part byte flipped",
                 Recipe(self.v2).flip(d + 10, 0x01))

    # ---------------------------------------------------------------------------------------
    # Superblocks that do not say what the manifest says (signed, hashes matching).

    def superblocks(self):
        for b in [self.v2, self.v2xz] if self.v2xz else [self.v2]:
            self.superblocks_of(b)
        b, f = self.v2, self.v2f
        sb, part = b.by_name["delta/superblock"], b.by_name["delta/0"]
        v2_raw = bytes.fromhex(b.value("target"))

        def add(name, install, regex, what, **kw):
            self.add(name, "superblock", "v1", install, install, regex, what, self.forge(**kw))

        add("sb-scratch-in-delta", FORMAT, "superblock base \\(scratch\\) differs",
            "the full 2.0 superblock and part under the delta's manifest", bundle=b,
            superblock=f.by_name["delta/superblock"], parts=[f.by_name["delta/0"]])
        add("sb-delta-in-full", FORMAT,
            "superblock base [0-9a-f]+ differs from the manifest's \\(scratch\\)",
            "the delta superblock and part under the full 2.0 manifest", bundle=f,
            superblock=sb, parts=[part])
        v1sb, v1part = self.v1.by_name["delta/superblock"], self.v1.by_name["delta/0"]
        add("sb-v1-in-v2-full", FORMAT, "superblock target [0-9a-f]+ differs",
            "1.0's superblock and part under the full 2.0 manifest", bundle=f,
            superblock=v1sb, parts=[v1part])
        add("sb-to-patched-commit-other", FORMAT, "commit object hashes to",
            "1.0's superblock with its to patched to 2.0: the commit object is 1.0's",
            bundle=f, superblock=replace_range(v1sb, SuperblockLayout(v1sb).to, v2_raw),
            parts=[v1part], edit=lambda t: vectors.manifest_set(
                t, "part.0", "decoded-size", str(header_values(v1sb)[1])))

    def superblocks_of(self, b):
        """Superblocks of bundle @b that lie, signed, the manifest's hashes matching them."""
        sb, part, tag = b.by_name["delta/superblock"], b.by_name["delta/0"], b.tag
        xz = b.encoding(0) == "ostree-xz"
        lay = SuperblockLayout(sb)
        v1_raw = bytes.fromhex(self.v1.value("target"))
        v2_raw = bytes.fromhex(b.value("target"))
        assert sb[lay.from_[0]:lay.from_[1]] == v1_raw and sb[lay.to[0]:lay.to[1]] == v2_raw
        rnd = hashlib.sha256(b"another commit").digest()

        def add(name, install, regex, what, verify=None, **kw):
            self.add(f"{name}-{tag}", "superblock", "v1", install,
                     install if verify is None else verify, regex, f"{tag}: {what}",
                     self.forge(bundle=b, **kw))

        add("sb-from-random", FORMAT, "superblock base [0-9a-f]+ differs",
            "delta superblock whose from is another commit",
            superblock=replace_range(sb, lay.from_, rnd))
        add("sb-to-random", FORMAT, "superblock target [0-9a-f]+ differs",
            "delta superblock whose to is another commit",
            superblock=replace_range(sb, lay.to, rnd))
        add("sb-from-equals-to", FORMAT, "superblock base [0-9a-f]+ differs",
            "delta superblock whose from is the target",
            superblock=replace_range(sb, lay.from_, v2_raw))
        add("sb-to-equals-from", FORMAT, "superblock target [0-9a-f]+ differs",
            "delta superblock whose to is its base, 1.0",
            superblock=replace_range(sb, lay.to, v1_raw))
        size, usize = header_values(sb)
        # an ostree-xz part is named by its header's size and SHA-256; a zstd part is not
        # (FORMAT.md §5.3): for it, those are not checked, and the bundle stays valid
        for label, patched, regex in [
                ("size-plus-1", patch_part_header(sb, size=size + 1),
                 f"superblock size {size + 1} disagrees"),
                ("size-2p32-plus-real", patch_part_header(sb, size=2 ** 32 + size),
                 f"superblock size {2 ** 32 + size} disagrees"),
                ("checksum-differs", patch_part_header(sb, csum=rnd),
                 "superblock SHA-256 [0-9a-f]+… disagrees")]:
            add(f"sb-part-{label}", FORMAT if xz else VALID, regex if xz else RE_WOULD,
                f"superblock part header {label}" + ("" if xz else " (not checked for zstd)"),
                verify=None if xz else 0, superblock=patched)
        add("sb-part-usize-differs", FORMAT,
            f"superblock uncompressed size {usize + 1} disagrees with the manifest's "
            f"decoded-size {usize}",
            "superblock part header uncompressed size differs from decoded-size",
            superblock=patch_part_header(sb, usize=usize + 1))
        add("sb-part-usize-2p64-1", FORMAT, "uncompressed size [0-9]+ disagrees",
            "superblock part header uncompressed size 2^64-1",
            superblock=patch_part_header(sb, usize=2 ** 64 - 1))
        add("sb-part-version-1", FORMAT, "part version 1", "superblock part header version 1",
            superblock=patch_part_header(sb, version=1))
        endian = sb.find(b"l\0y")
        assert 0 < endian < lay.timestamp
        add("sb-endianness-big", FORMAT, "disagrees with the manifest",
            "superblock says big-endian: its part header sizes are then wrong",
            superblock=sb[:endian] + b"B" + sb[endian + 1:])
        add("sb-endianness-bad", FORMAT, "ostree\\.endianness",
            "superblock with ostree.endianness 'x'",
            superblock=sb[:endian] + b"x" + sb[endian + 1:])
        add("sb-not-normal-form", FORMAT, "not a valid GVariant",
            "superblock whose first member's end offset points past its end",
            superblock=sb[:-1] + bytes([0xFF]))
        add("sb-one-byte", FORMAT, "not a valid GVariant", "a 1-byte superblock",
            superblock=b"\0")
        add("sb-commit-bit-flipped", FORMAT, "commit object",
            "one bit of the commit object in the superblock flipped",
            superblock=sb[:lay.commit[0] + 40] + bytes([sb[lay.commit[0] + 40] ^ 1]) +
            sb[lay.commit[0] + 41:])
        # member 1, the generation time, is not checked by anyone: still a valid bundle
        add("sb-generation-time-changed", VALID, RE_WOULD,
            "superblock generation time changed (not checked; the bundle stays valid)",
            verify=0, superblock=replace_range(sb, (lay.timestamp, lay.timestamp + 8),
                                               struct.pack(">Q", 12345)))
        # The part header lists only objects the device already has: libostree skips the part,
        # the target stays incomplete.
        start, end = lay.objects(0)
        v1sb = self.v1.by_name["delta/superblock"]
        s1, e1 = SuperblockLayout(v1sb).objects(0)
        have = v1sb[s1:e1]
        assert (end - start) % 33 == 0 and len(have) % 33 == 0 and have[0] in (1, 2, 3, 4)
        repl = (have * ((end - start) // len(have) + 1))[:end - start]
        add("sb-objects-already-present", CORRUPT, "target commit incomplete",
            "superblock part header listing only objects 1.0 has: libostree skips the part",
            verify=0, superblock=replace_range(sb, (start, end), repl))

    # ---------------------------------------------------------------------------------------
    # Decompression bombs: validly signed, the manifest's hashes matching, the superblock
    # claiming the genuine (small) sizes.

    def bombs(self):
        if self.v2xz:
            self.xz_bombs(self.v2xz)
        self.zstd_parts(self.v2)

    def xz_bombs(self, b):
        """ostree-xz parts that libostree decodes, the superblock's part header and the manifest
        naming the new member (they must, for an xz part) and claiming the genuine small
        decoded size."""
        sb, part = b.by_name["delta/superblock"], b.by_name["delta/0"]
        size, usize = header_values(sb)

        def add(name, new_part, what):
            forged_sb = patch_part_header(sb, new_part=new_part)
            self.add(name, "bomb", "v1", CORRUPT, CORRUPT,
                     "decodes to more than [0-9]+ bytes, larger than its decoded size allows",
                     what + f" ({len(new_part)} bytes; superblock and manifest say {usize} "
                     "decoded)", self.forge(b, superblock=forged_sb, parts=[new_part]))

        add("bomb-xz-4g-zeros", b"x" + xz_repeat(bytes(8 << 20), 512),
            "an xz part that decodes to 4 GiB of zeros")
        decoded = lzma.decompress(part[1:])
        assert len(decoded) < 64 << 20
        add("bomb-xz-genuine-then-64m", b"x" + xz_concat_blocks(decoded, bytes(8 << 20), 8),
            "the genuine part's data, then 64 MiB of zeros, in one xz stream")

    def zstd_parts(self, b):
        """zstd members (FORMAT.md §5.5) made by hand: raw and RLE blocks. The genuine payload
        comes from the ostree-xz twin of the same delta, when there is one."""
        assert b.encoding(0) == "zstd"
        payload_size = int(b.part_value(0, "payload-size"))

        def add(name, install, verify, regex, what, member, edit=None):
            self.add(name, "bomb", "v1", install, verify, regex,
                     f"{what} ({len(member)} bytes; payload-size {payload_size})",
                     self.forge(b, parts=[member], edit=edit))

        add("bomb-zstd-4g-zeros", CORRUPT, CORRUPT, "zstd", "a zstd frame of 4 GiB of zeros",
            zstd_frame(zstd_rle_blocks(0, 4 << 30)))
        add("bomb-zstd-no-end", CORRUPT, CORRUPT, "zstd",
            "a zstd frame whose blocks never say last (payload-size reached, frame not ended)",
            zstd_frame(zstd_rle_blocks(0, payload_size, last=False)))
        add("bomb-zstd-window-2g", CORRUPT, CORRUPT, "zstd",
            "a zstd frame that asks for a 2 GiB window", zstd_frame(
                zstd_rle_blocks(0, payload_size, block=1 << 17), window_log=31))
        add("bomb-zstd-zeros-exact", 4, 0, "zstd|part|opcode|corrupt|malformed|would install",
            "a zstd frame of exactly payload-size zeros (not a delta part)",
            zstd_frame(zstd_rle_blocks(0, payload_size)))
        add("bomb-zstd-skippable-first", CORRUPT, CORRUPT, "zstd",
            "a skippable frame, then a frame of zeros", zstd_skippable(b"x" * 16) +
            zstd_frame(zstd_rle_blocks(0, payload_size)))
        if not self.v2xz:
            return
        genuine = lzma.decompress(self.v2xz.by_name["delta/0"][1:])
        assert len(genuine) == payload_size, (len(genuine), payload_size)
        add("zstd-raw-blocks-valid", VALID, 0, RE_WOULD,
            "the genuine payload as stored (raw) zstd blocks: a valid frame",
            zstd_frame(zstd_raw_blocks(genuine)))
        add("bomb-zstd-genuine-then-zeros", CORRUPT, CORRUPT, "zstd",
            "the genuine payload, then 1 GiB of zeros, in one frame",
            zstd_frame(zstd_raw_blocks(genuine, last=False) + zstd_rle_blocks(0, 1 << 30)))
        add("bomb-zstd-two-frames", CORRUPT, CORRUPT, "zstd",
            "the genuine payload's frame, then a second frame",
            zstd_frame(zstd_raw_blocks(genuine)) + zstd_frame(zstd_rle_blocks(0, 1000)))
        add("bomb-zstd-short", CORRUPT, CORRUPT, "zstd",
            "a frame of the genuine payload less its last byte",
            zstd_frame(zstd_raw_blocks(genuine[:-1])))
        add("bomb-zstd-truncated-frame", CORRUPT, CORRUPT, "zstd",
            "the genuine payload's frame cut 10 bytes short", zstd_frame(
                zstd_raw_blocks(genuine))[:-10])

    def run(self):
        for step in (self.truncations, self.bit_flips, self.signatures, self.members,
                     self.tar_tricks, self.log_injection, self.manifest_sizes, self.policy,
                     self.superblocks, self.bombs):
            step()
        self.write_manifest()


def xz_concat_blocks(first, block_data, copies):
    """An xz stream: one block holding @first, then @copies blocks each holding @block_data."""
    a = lzma.compress(first, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=0)
    rep = xz_repeat(block_data, copies)

    def split(one):
        footer = one[-12:]
        backward = (struct.unpack("<I", footer[4:8])[0] + 1) * 4
        index = one[-12 - backward:-12]
        n, i = read_varint(index, 1)
        recs = []
        for _ in range(n):
            u, i = read_varint(index, i)
            c, i = read_varint(index, i)
            recs.append((u, c))
        return one[:12], one[12:-12 - backward], recs

    header, blocks_a, recs_a = split(a)
    header_b, blocks_b, recs_b = split(rep)
    assert header[6:8] == header_b[6:8]
    recs = recs_a + recs_b
    body = b"\0" + varint(len(recs)) + b"".join(varint(u) + varint(c) for u, c in recs)
    body += b"\0" * (-len(body) % 4)
    index = body + struct.pack("<I", zlib.crc32(body))
    tail = struct.pack("<I", len(index) // 4 - 1) + header[6:8]
    return header + blocks_a + blocks_b + index + struct.pack("<I", zlib.crc32(tail)) + tail + \
        b"YZ"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("samples")
    parser.add_argument("keydir")
    parser.add_argument("outdir")
    args = parser.parse_args(argv[1:])
    os.makedirs(args.outdir, exist_ok=True)
    gen = Generator(args.samples, args.keydir, args.outdir, args.seed)
    gen.run()
    total = sum(gen.counts.values())
    print(f"gen-hostile: {total} bundles in {args.outdir}: " +
          ", ".join(f"{k} {v}" for k, v in sorted(gen.counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
