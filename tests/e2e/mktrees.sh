#!/bin/bash
# mktrees.sh BASE_REPO OUT: this run's trees and bundles, from the cached base.
#   OUT/repo       archive repo: e2e/base, and $E2E_REF at v2
#   OUT/v1.commit  base + ostick (make install DESTDIR=... PREFIX=/usr) + its e2e config and
#                  keyring + the guest's test units + /usr/lib/ostick-e2e/version "1"
#   OUT/v2.commit  v1 with version "2"
#   OUT/ostick.conf                     the guest's /etc/ostick/ostick.conf (also in v1)
#   OUT/bundles/full-v1.ostick          v1, the whole tree (for `ostick-apply provision`)
#   OUT/bundles/delta.ostick            v1 -> v2, signed with the test key, for this device
#   OUT/bundles/tampered.ostick         the same with one payload byte flipped
#   OUT/bundles/forged.ostick           the same with version=3 in its signed manifest
#   OUT/bundles/wrong-compatible.ostick v1 -> v2 for another board
# Needs OSTICK_BUILDDIR (built by `make e2e`).
source "$(dirname "$0")/lib.sh"

base=$(realpath "${1:?usage: mktrees.sh BASE_REPO OUT}")
out=$(realpath -m "${2:?usage: mktrees.sh BASE_REPO OUT}")
: "${OSTICK_BUILDDIR:?run through make e2e}"
BUNDLE=$OSTICK_BUILDDIR/ostick-bundle
repo=$out/repo
safe_rm "$out/layer" "$out/v2-layer" "$repo" "$out/bundles"
mkdir -p "$out/bundles"

log "the base into this run's repo"
ostree --repo="$repo" init --mode=archive
ostree --repo="$repo" pull-local "$base" e2e/base

# ---- v1: ostick as `make install` puts it, in the layout libostree deploys
layer=$out/layer
log "v1: make install DESTDIR=$layer PREFIX=/usr"
make -C "$SRCDIR" --no-print-directory -o all BUILDDIR="$OSTICK_BUILDDIR" install \
	DESTDIR="$layer" PREFIX=/usr >"$out/make-install.log"
# The guest is merged-/usr and an OSTree tree: what went to /lib or /etc belongs to /usr/lib
# (udev rules and units, when the host's pkg-config says /lib) and /usr/etc.
if [ -d "$layer/lib" ]; then
	cp -a "$layer/lib/." "$layer/usr/lib/"
	rm -rf "${layer:?}/lib"
fi
mkdir -p "$layer/usr/etc"
cp -a "$layer/etc/." "$layer/usr/etc/"
rm -rf "${layer:?}/etc"
for f in usr/bin/ostick-apply usr/bin/ostick-bundle usr/lib/udev/rules.d/90-ostick-usb.rules \
	usr/lib/systemd/system/ostick-usb@.service usr/etc/ostick/ostick.conf; do
	[ -e "$layer/$f" ] || die "make install put no /$f"
done
cat >"$out/ostick.conf" <<EOF
# ostick e2e guest (tests/e2e/mktrees.sh)
[device]
compatible=$E2E_COMPATIBLE
keyring=/etc/ostick/keyring.d
[policy]
reboot=after-install
reboot-delay=2
[usb]
result-file=true
EOF
cp "$out/ostick.conf" "$layer/usr/etc/ostick/ostick.conf"
cp "$KEYS/test-ed25519.pub.pem" "$layer/usr/etc/ostick/keyring.d/"
# The harness's side of the guest (guest/): an autologin root shell on ttyS0, the journal on
# ttyS1, the /var directories the tree's symlinks point to.
guest() { install -D -m 0644 "$E2E_DIR/guest/$1" "$layer/$2"; }
guest serial-getty-autologin.conf usr/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf
guest ostick-e2e-journal.service usr/lib/systemd/system/ostick-e2e-journal.service
guest ostick-e2e.tmpfiles usr/lib/tmpfiles.d/ostick-e2e.conf
mkdir -p "$layer/usr/etc/systemd/system/sysinit.target.wants" "$layer/usr/lib/ostick-e2e"
ln -sf /usr/lib/systemd/system/ostick-e2e-journal.service \
	"$layer/usr/etc/systemd/system/sysinit.target.wants/"
echo 1 >"$layer/usr/lib/ostick-e2e/version"

# (No --owner-uid: a commit modifier makes ostree re-read the whole base tree; the layer is
# root's already.)
commit() { # commit VERSION PARENT_TREE LAYER
	ostree --repo="$repo" commit --branch="$E2E_REF" --tree=ref="$2" --tree=dir="$3" \
		--add-metadata-string=version="$1" --subject="ostick e2e $1" --bootable
}
log "commit v1 and v2"
v1=$(commit 1 e2e/base "$layer")
# v2 = v1 + a changed version file. A second later, so that its commit time is later too.
sleep 1
mkdir -p "$out/v2-layer/usr/lib/ostick-e2e"
echo 2 >"$out/v2-layer/usr/lib/ostick-e2e/version"
v2=$(commit 2 "$v1" "$out/v2-layer")
echo "$v1" >"$out/v1.commit"
echo "$v2" >"$out/v2.commit"

# ---- bundles
log "bundles"
bundle() { # bundle COMPATIBLE OUT
	"$BUNDLE" create --repo "$repo" --ref "$E2E_REF" --from "$v1" --to "$v2" --version 2 \
		--compatible "$1" --key "$KEYS/test-ed25519.key.pem" -o "$2"
}
bundle "$E2E_COMPATIBLE" "$out/bundles/delta.ostick"
# The factory's: v1 as a whole tree (no --from), signed the same way. It takes 3-4 minutes
# here; at the default zstd level (19) minutes more. E2E_FULL_BUNDLE=0 (run.sh, when s5 does not
# run) skips it.
if [ "${E2E_FULL_BUNDLE:-1}" != 0 ]; then
	"$BUNDLE" create --repo "$repo" --ref "$E2E_REF" --to "$v1" --version 1 \
		--compatible "$E2E_COMPATIBLE" --key "$KEYS/test-ed25519.key.pem" --zstd-level 3 \
		-o "$out/bundles/full-v1.ostick"
fi
bundle "$E2E_OTHER_COMPATIBLE" "$out/bundles/wrong-compatible.ostick"
# Tampered: one byte flipped in the middle of the largest member after the manifest and the
# signature (the payload): authentic on its face, caught by the payload hash while installing.
# Forged: the signed manifest's version=2 made version=3: caught by the signature.
cp "$out/bundles/delta.ostick" "$out/bundles/tampered.ostick"
cp "$out/bundles/delta.ostick" "$out/bundles/forged.ostick"
python3 - "$out/bundles/tampered.ostick" "$out/bundles/forged.ostick" <<'EOF'
import sys, tarfile


def poke(path, offset, new):
	with open(path, "r+b") as f:
		f.seek(offset)
		old = f.read(1)[0]
		f.seek(offset)
		f.write(bytes([new(old)]))
	return old


def members(path):
	with tarfile.open(path) as t:
		return [m for m in t.getmembers() if m.isfile()]


tampered, forged = sys.argv[1:]
victim = max(members(tampered)[2:], key=lambda m: m.size)
offset = victim.offset_data + victim.size // 2
poke(tampered, offset, lambda b: b ^ 0x5A)
print(f"tampered: flipped the byte at {offset} ({victim.name}, {victim.size} bytes)")
manifest = members(forged)[0]
with open(forged, "rb") as f:
	f.seek(manifest.offset_data)
	text = f.read(manifest.size)
offset = manifest.offset_data + text.index(b"\nversion=2\n") + len(b"\nversion=")
poke(forged, offset, lambda b: ord("3"))
print(f"forged: {manifest.name} says version=3 (byte {offset})")
EOF
"$BUNDLE" inspect "$out/bundles/delta.ostick"
[ ! -f "$out/bundles/full-v1.ostick" ] || "$BUNDLE" inspect "$out/bundles/full-v1.ostick"
ls -l "$out/bundles"
