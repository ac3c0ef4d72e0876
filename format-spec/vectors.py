#!/usr/bin/env python3
"""Derives the invalid (and some valid) test vectors of FORMAT.md from valid bundles.

Called by gen-vectors.sh; stdlib only. Signatures are made with the `openssl` command line tool,
not with ostick's code, so that the vectors also check ostick against an independent signer.

  vectors.py derive KEYDIR OUTDIR     derive every vector from OUTDIR/valid/00{1,2,6}-*.ostick

Tar members are rewritten with Python's tarfile in ustar form (mtime, owner and mode fixed), so
the output depends only on the input bundles and the keys.
"""
import configparser
import hashlib
import io
import os
import struct
import subprocess
import sys
import tarfile
import tempfile

MTIME = int(os.environ.get("SOURCE_DATE_EPOCH", "1767225600"))
SIG_MAGIC = b"OSTICKSG"
ALG_ED25519 = 1


# ---- reading bundles ----------------------------------------------------------------------

def members(path):
    """The bundle's members as a list of (name, bytes), in order."""
    with tarfile.open(path, "r:") as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]


def member_offsets(path):
    """{name: offset of its data in the file}, for in-place edits that keep the tar valid."""
    with tarfile.open(path, "r:") as tar:
        return {m.name: m.offset_data for m in tar.getmembers()}


# ---- writing bundles ----------------------------------------------------------------------

def tarinfo(name, size, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.linkname = link
    info.mtime = MTIME
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write_tar(path, entries, fmt=tarfile.USTAR_FORMAT):
    """entries: (name, data) for regular files, a TarInfo without data, or (TarInfo, data)."""
    with open(path, "wb") as f, tarfile.open(fileobj=f, mode="w:", format=fmt) as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            elif isinstance(entry[0], tarfile.TarInfo):
                tar.addfile(entry[0], io.BytesIO(entry[1]))
            else:
                name, data = entry
                tar.addfile(tarinfo(name, len(data)), io.BytesIO(data))


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


# ---- signing with stock openssl -----------------------------------------------------------

def key_id(keyfile):
    der = subprocess.run(["openssl", "pkey", "-in", keyfile, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return hashlib.sha256(der).digest()


def ed25519_sign(keyfile, message):
    with tempfile.NamedTemporaryFile() as msg:
        msg.write(message)
        msg.flush()
        return subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", keyfile, "-rawin",
                               "-in", msg.name], check=True, capture_output=True).stdout


def zstd(args, data):
    return subprocess.run(["zstd", "-q"] + args, input=data, check=True,
                          capture_output=True).stdout


def x86_branches(data, encode):
    """FORMAT.md §5.8, written from the text alone: the reference for ostick's C code."""
    buf = bytearray(data)
    i, last = 0, None
    while i + 5 <= len(buf):
        if buf[i] not in (0xE8, 0xE9):
            i += 1
        elif (last is None or i - last > 3) and buf[i + 4] in (0x00, 0xFF):
            value = struct.unpack_from("<I", buf, i + 1)[0]
            value = (value + (i + 5) if encode else value - (i + 5)) & 0x01FFFFFF
            if value & 0x01000000:
                value |= 0xFF000000
            struct.pack_into("<I", buf, i + 1, value)
            i += 5
        else:
            last = i
            i += 1
    return bytes(buf)


def sigblock(records, version=1):
    """records: (algorithm, key_id, value[, reserved])."""
    out = SIG_MAGIC + struct.pack("<II", version, len(records))
    for rec in records:
        algorithm, kid, value = rec[:3]
        reserved = rec[3] if len(rec) > 3 else 0
        assert len(kid) == 32 and len(value) == 64
        out += struct.pack("<HH", algorithm, reserved) + kid + value
    return out


def signed(keyfile, manifest):
    return sigblock([(ALG_ED25519, key_id(keyfile), ed25519_sign(keyfile, manifest))])


# ---- manifest edits -----------------------------------------------------------------------

def manifest_set(text, group, key, value):
    """Replaces (or appends to the group) `key=value`, keeping every other byte."""
    lines, current, done = text.split("\n"), None, False
    for i, line in enumerate(lines):
        if line.startswith("["):
            if current == group and not done:
                lines.insert(i - 1 if lines[i - 1] == "" else i, f"{key}={value}")
                done = True
                break
            current = line[1:-1]
        elif current == group and line.split("=", 1)[0] == key:
            lines[i] = f"{key}={value}"
            done = True
            break
    if not done:
        if current != group:
            lines += ["", f"[{group}]"]
        lines.insert(len(lines) - 1 if lines[-1] == "" else len(lines), f"{key}={value}")
    return "\n".join(lines)


def resign(entries, keyfile, edit):
    """A bundle whose manifest went through edit(text) and was signed again by keyfile."""
    entries = dict(entries)
    # surrogateescape: an edit may put bytes that are not UTF-8 into the text.
    text = entries["ostick.manifest"].decode("utf-8", "surrogateescape")
    manifest = edit(text).encode("utf-8", "surrogateescape")
    out = [("ostick.manifest", manifest), ("ostick.sig", signed(keyfile, manifest))]
    return out + [(n, d) for n, d in entries.items() if n.startswith("delta/")]


def expect(path, **fields):
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.optionxform = str
    cfg["expect"] = {k.replace("_", "-"): str(v) for k, v in fields.items()}
    with open(path, "w") as f:
        cfg.write(f)


# ---- the vectors --------------------------------------------------------------------------

ED = "test-ed25519.pub.pem"
ED2 = "test-ed25519-2.pub.pem"


class Deriver:
    def __init__(self, keydir, outdir):
        self.keydir, self.outdir = keydir, outdir
        self.key = os.path.join(keydir, "test-ed25519.key.pem")
        self.key2 = os.path.join(keydir, "test-ed25519-2.key.pem")
        valid = os.path.join(outdir, "valid")
        self.scratch = os.path.join(valid, "001-scratch.ostick")
        self.multi = os.path.join(valid, "006-two-parts.ostick")
        self.base = members(self.scratch)
        self.zstd = members(os.path.join(valid, "007-zstd-scratch.ostick"))

    def invalid(self, name, error, exit_code, message, keyring=ED):
        path = os.path.join(self.outdir, "invalid", name)
        expect(path[:-len(".ostick")] + ".expect", keyring=keyring, error=error,
               exit=exit_code, message=message)
        return path

    def valid_resigned(self, name, description, edit):
        path = os.path.join(self.outdir, "valid", name)
        write_tar(path, resign(self.base, self.key, edit))
        fields = configparser.ConfigParser(interpolation=None)
        fields.optionxform = str
        fields.read(self.scratch[:-len(".ostick")] + ".expect")
        fields["expect"]["description"] = description
        with open(path[:-len(".ostick")] + ".expect", "w") as f:
            fields.write(f)

    @staticmethod
    def edited_copy(src, member, offset, bit=0x01):
        """src with one bit flipped at @offset of @member's data; the tar stays valid."""
        data = bytearray(open(src, "rb").read())
        data[member_offsets(src)[member] + offset] ^= bit
        return bytes(data)

    def run(self):
        self.derive_valid()
        self.derive_signature()
        self.derive_payload()
        self.derive_container()
        self.derive_manifest()
        self.derive_zstd()
        self.derive_zstd_x86()


    def derive_valid(self):
        self.valid_resigned(
            "005-unknown-optional.ostick", "unknown optional keys and groups are ignored",
            lambda t: manifest_set(manifest_set(t, "bundle", "x-vendor-note", "ignored"),
                                   "x-vendor", "anything", "goes"))

    def derive_signature(self):
        man, sig = self.base[0][1], self.base[1][1]
        rest = self.base[2:]
        write_tar(self.invalid("101-no-signature-member.ostick", "FORMAT", 4, "ostick.sig"),
                  [self.base[0]] + rest)
        write_tar(self.invalid("102-untrusted-key.ostick", "SIGNATURE", 4, "does not trust"),
                  [self.base[0], ("ostick.sig", signed(self.key2, man))] + rest)
        write_bytes(self.invalid("103-signature-bit-flipped.ostick", "SIGNATURE", 4,
                                 "does not verify"),
                    self.edited_copy(self.scratch, "ostick.sig", 16 + 36 + 10))
        write_bytes(self.invalid("104-manifest-bit-flipped.ostick", "SIGNATURE", 4,
                                 "does not verify"),
                    self.edited_copy(self.scratch, "ostick.manifest", len(man) - 2))
        write_tar(self.invalid("105-sigblock-bad-magic.ostick", "FORMAT", 4, "bad magic"),
                  [self.base[0], ("ostick.sig", b"X" + sig[1:])] + rest)
        write_tar(self.invalid("106-sigblock-version-2.ostick", "VERSION", 3, "version 2"),
                  [self.base[0], ("ostick.sig", sig[:8] + struct.pack("<I", 2) + sig[12:])]
                  + rest)
        kid, value = sig[20:52], sig[52:116]
        write_tar(self.invalid("107-sigblock-reserved-not-zero.ostick", "FORMAT", 4,
                               "reserved"),
                  [self.base[0], ("ostick.sig", sigblock([(1, kid, value, 1)]))] + rest)
        write_tar(self.invalid("108-sigblock-same-key-twice.ostick", "FORMAT", 4,
                               "same key"),
                  [self.base[0], ("ostick.sig", sigblock([(1, kid, value), (1, kid, value)]))]
                  + rest)
        write_tar(self.invalid("109-sigblock-zero-signatures.ostick", "FORMAT", 4,
                               "0 signatures"),
                  [self.base[0], ("ostick.sig", sigblock([]))] + rest)
        write_tar(self.invalid("110-sigblock-trailing-byte.ostick", "FORMAT", 4,
                               "signatures need"),
                  [self.base[0], ("ostick.sig", sig + b"\0")] + rest)
        write_tar(self.invalid("111-signature-unknown-algorithm-only.ostick", "SIGNATURE", 4,
                               "does not trust"),
                  [self.base[0], ("ostick.sig", sigblock([(99, kid, value)]))] + rest)

    def derive_payload(self):
        sb = dict(self.base)["delta/superblock"]
        write_bytes(self.invalid("120-superblock-bit-flipped.ostick", "CORRUPT", 4,
                                 "does not match the signed manifest"),
                    self.edited_copy(self.scratch, "delta/superblock", len(sb) // 2))
        write_bytes(self.invalid("121-part-bit-flipped.ostick", "CORRUPT", 4,
                                 "does not match the signed manifest"),
                    self.edited_copy(self.scratch, "delta/0", 40))
        entries = dict(self.base)
        write_tar(self.invalid("122-part-shorter-than-manifest.ostick", "CORRUPT", 4,
                               "the signed manifest says"),
                  self.base[:3] + [("delta/0", entries["delta/0"][:-1])])
        data = open(self.scratch, "rb").read()
        end_of_part = member_offsets(self.scratch)["delta/0"] + len(entries["delta/0"])
        write_bytes(self.invalid("123-truncated-in-part.ostick", "FORMAT", 4, "Truncated tar archive"),
                    data[:end_of_part - 100])
        write_bytes(self.invalid("124-truncated-after-signature.ostick", "FORMAT", 4,
                                 "delta/superblock"),
                    data[:member_offsets(self.scratch)["delta/superblock"] - 512])
        target = bytes.fromhex(self.manifest_value("target"))
        other = hashlib.sha256(b"another commit").digest()
        assert sb.count(target) >= 1
        # The superblock's `to` field comes first: after the metadata dict and timestamp.
        forged = sb.replace(target, other, 1)
        write_tar(self.invalid("125-superblock-target-differs.ostick", "FORMAT", 4,
                               "superblock target"),
                  resign([(n, forged if n == "delta/superblock" else d) for n, d in self.base],
                         self.key,
                         lambda t: manifest_set(manifest_set(
                             t, "superblock", "sha256", hashlib.sha256(forged).hexdigest()),
                             "superblock", "size", str(len(forged)))))

    def derive_container(self):
        man = self.base[0]
        rest = self.base[2:]
        write_tar(self.invalid("130-signature-before-manifest.ostick", "FORMAT", 4,
                               "expected member 'ostick.manifest'"),
                  [self.base[1], man] + rest)
        write_tar(self.invalid("131-extra-member.ostick", "FORMAT", 4, "unexpected member"),
                  self.base + [("delta/1", b"extra")])
        write_tar(self.invalid("132-superblock-missing.ostick", "FORMAT", 4,
                               "expected member 'delta/superblock'"),
                  self.base[:2] + self.base[3:])
        multi = members(self.multi)
        assert [n for n, _ in multi][2:] == ["delta/superblock", "delta/0", "delta/1"]
        write_tar(self.invalid("133-parts-swapped.ostick", "FORMAT", 4,
                               "expected member 'delta/0'"),
                  multi[:3] + [multi[4], multi[3]])
        write_tar(self.invalid("134-absolute-member-name.ostick", "FORMAT", 4,
                               "expected member 'ostick.manifest'"),
                  [("/ostick.manifest", man[1])] + self.base[1:])
        write_tar(self.invalid("135-dotdot-member-name.ostick", "FORMAT", 4,
                               "expected member 'ostick.manifest'"),
                  [("../ostick.manifest", man[1])] + self.base[1:])
        write_tar(self.invalid("136-manifest-is-symlink.ostick", "FORMAT", 4,
                               "not a regular file"),
                  [tarinfo("ostick.manifest", 0, tarfile.SYMTYPE, "/etc/passwd")]
                  + self.base[1:])
        write_tar(self.invalid("137-manifest-is-hardlink.ostick", "FORMAT", 4,
                               "not a regular file"),
                  [tarinfo("ostick.manifest", 0, tarfile.LNKTYPE, "delta/0")] + self.base[1:])
        write_tar(self.invalid("138-manifest-is-fifo.ostick", "FORMAT", 4,
                               "not a regular file"),
                  [tarinfo("ostick.manifest", 0, tarfile.FIFOTYPE)] + self.base[1:])
        part = dict(self.base)["delta/0"]
        huge = tarinfo("delta/0", len(part))
        huge.pax_headers = {"size": str(2**64 - 2)}
        write_tar(self.invalid("139-pax-size-near-2-pow-64.ostick", "FORMAT", 4, "overflow"),
                  self.base[:3] + [(huge, part)], fmt=tarfile.PAX_FORMAT)
        write_bytes(self.invalid("140-not-a-tar.ostick", "FORMAT", 4, "not a bundle"),
                    hashlib.sha256(b"noise").digest() * 64)
        write_bytes(self.invalid("141-empty-file.ostick", "FORMAT", 4, "not a bundle"), b"")
        write_bytes(self.invalid("142-gzip-compressed.ostick", "FORMAT", 4, "not a bundle"),
                    self.gzip(open(self.scratch, "rb").read()))

    def derive_manifest(self):
        def bad(name, error, exit_code, message, edit):
            write_tar(self.invalid(name, error, exit_code, message),
                      resign(self.base, self.key, edit))

        bad("150-format-2.ostick", "VERSION", 3, "format 2",
            lambda t: manifest_set(t, "bundle", "format", "2"))
        bad("151-required-feature-unknown.ostick", "VERSION", 3, "x-future",
            lambda t: manifest_set(t, "bundle", "required-features", "x-future;"))
        bad("152-part-encoding-unknown.ostick", "VERSION", 3, "encoding",
            lambda t: manifest_set(t, "part.0", "encoding", "x-zstd-99"))
        bad("153-repeated-key.ostick", "FORMAT", 4, "repeats",
            lambda t: t.replace("[payload]\n", "[payload]\nparts=1\n", 1))
        bad("154-parts-count-too-large.ostick", "FORMAT", 4, "parts",
            lambda t: manifest_set(t, "payload", "parts", str(2**32 + 1)))
        bad("155-part-size-near-2-pow-64.ostick", "FORMAT", 4, "size",
            lambda t: manifest_set(t, "part.0", "size", str(2**64 - 1)))
        bad("156-compatible-control-character.ostick", "FORMAT", 4, "control character",
            lambda t: manifest_set(t, "bundle", "compatible", "vec\\tboard"))
        bad("157-part-group-extra.ostick", "FORMAT", 4, "no such part",
            lambda t: t + "\n[part.1]\nsize=1\nsha256=" + "0" * 64 +
            "\nencoding=ostree-xz\ndecoded-size=1\n")
        bad("158-target-not-a-checksum.ostick", "FORMAT", 4, "target",
            lambda t: manifest_set(t, "bundle", "target", "master"))
        bad("159-manifest-not-utf8.ostick", "FORMAT", 4, "UTF-8",
            lambda t: manifest_set(t, "bundle", "description", "\udcff"))

    def derive_zstd(self):
        """zstd parts: the frame is decoded, bounded by the signed payload-size (§5.5)."""
        part = dict(self.zstd)["delta/0"]
        payload = zstd(["-dc"], part)
        size = len(payload)

        def bad(name, error, exit_code, message, entries, edit):
            write_tar(self.invalid(name, error, exit_code, message),
                      resign(entries, self.key, edit))

        def with_part(data):
            return [(n, data if n == "delta/0" else d) for n, d in self.zstd]

        def part_hash(data):
            return lambda t: manifest_set(manifest_set(
                t, "part.0", "sha256", hashlib.sha256(data).hexdigest()),
                "part.0", "size", str(len(data)))

        bad("160-zstd-payload-size-short.ostick", "CORRUPT", 4, "more than its payload-size",
            self.zstd, lambda t: manifest_set(t, "part.0", "payload-size", str(size - 1)))
        bad("161-zstd-payload-size-long.ostick", "CORRUPT", 4, "decodes to",
            self.zstd, lambda t: manifest_set(t, "part.0", "payload-size", str(size + 1)))
        bomb = zstd(["-19", "-c"], bytes(64 * 1024 * 1024))
        bad("162-zstd-bomb.ostick", "CORRUPT", 4, "more than its payload-size",
            with_part(bomb), part_hash(bomb))
        trailing = part + b"\0"
        bad("163-zstd-trailing-byte.ostick", "CORRUPT", 4, "after the end of the frame",
            with_part(trailing), part_hash(trailing))
        bad("164-zstd-not-a-frame.ostick", "CORRUPT", 4, "zstd part",
            with_part(payload), lambda t: manifest_set(part_hash(payload)(t),
                                                        "part.0", "payload-size", str(size)))
        bad("165-zstd-no-payload-size.ostick", "FORMAT", 4, "payload-size",
            self.zstd, lambda t: "\n".join(l for l in t.split("\n")
                                            if not l.startswith("payload-size=")))

    def derive_zstd_x86(self):
        """zstd-x86 (§5.8): check ostick's conversion against x86_branches(), both ways, on the
        x86 tree's vectors 009 (converted) and 010 (not), and derive the invalid ones."""
        valid = os.path.join(self.outdir, "valid")
        x86 = members(os.path.join(valid, "009-zstd-x86.ostick"))
        plain = dict(members(os.path.join(valid, "010-zstd-x86-tree-unconverted.ostick")))
        manifest = dict(x86)["ostick.manifest"].decode()
        assert "encoding=zstd-x86" in manifest, manifest
        for name, data in x86:
            if not name.startswith("delta/") or name == "delta/superblock":
                continue
            converted = zstd(["-dc"], data)
            payload = zstd(["-dc"], plain[name])
            assert converted != payload, name + ": the conversion changed nothing"
            assert x86_branches(converted, encode=False) == payload, name
            assert x86_branches(payload, encode=True) == converted, name

        def bad(name, error, exit_code, message, edit):
            write_tar(self.invalid(name, error, exit_code, message),
                      resign(x86, self.key, edit))

        bad("166-zstd-x86-no-payload-size.ostick", "FORMAT", 4, "payload-size",
            lambda t: "\n".join(l for l in t.split("\n") if not l.startswith("payload-size=")))
        size = len(zstd(["-dc"], dict(x86)["delta/0"]))
        bad("167-zstd-x86-payload-size-short.ostick", "CORRUPT", 4, "more than its payload-size",
            lambda t: manifest_set(t, "part.0", "payload-size", str(size - 1)))

    def manifest_value(self, key):
        for line in dict(self.base)["ostick.manifest"].decode().split("\n"):
            if line.startswith(key + "="):
                return line.split("=", 1)[1]
        raise KeyError(key)

    @staticmethod
    def gzip(data):
        import gzip
        return gzip.compress(data, mtime=MTIME)


def main(argv):
    if len(argv) != 4 or argv[1] != "derive":
        print(__doc__, file=sys.stderr)
        return 2
    Deriver(argv[2], argv[3]).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
