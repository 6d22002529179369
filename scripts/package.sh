#!/usr/bin/env bash
# Builds the Debian package: target/debian/anycast6_<version>_<arch>.deb
# with anycast6d, anycast6ctl, anycast6-stream, the preload library, the
# default config (a conffile), the systemd unit, man pages, bash/zsh/fish
# completions and the Wireshark dissectors (docs/operations.md).
#
#   scripts/package.sh            # release build (what to install)
#   scripts/package.sh --debug    # the debug build already in target/debug
#                                 # (the package test: same files, no rebuild)
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
compress=-Zxz
[[ ${1:-} == --debug ]] && { profile=debug; compress="-Zgzip -z1"; }
for t in dpkg-deb objdump; do
  command -v "$t" >/dev/null || { echo "package.sh: $t is missing (apt-get install dpkg binutils)" >&2; exit 1; }
done

if [[ $profile == release ]]; then
  cargo build --release -p anycast6-control -p anycast6-stream -p anycast6-preload
else
  [[ ${A6T_NO_BUILD:-} == 1 ]] || cargo build -p anycast6-control -p anycast6-stream -p anycast6-preload
fi
cargo build -q -p anycast6-package
bin=target/$profile

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
case $arch in
  amd64) multiarch=x86_64-linux-gnu ;;
  arm64) multiarch=aarch64-linux-gnu ;;
  *) multiarch=$(gcc -print-multiarch) ;;
esac

root=target/debian/root
rm -rf "$root"
install -d "$root/DEBIAN" "$root/usr/sbin" "$root/usr/bin" "$root/usr/lib/anycast6" \
  "$root/etc/anycast6" "$root/lib/systemd/system" \
  "$root/usr/share/man/man1" "$root/usr/share/man/man8" \
  "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d" \
  "$root/usr/lib/$multiarch/wireshark/plugins/anycast6" "$root/usr/share/doc/anycast6"

install -m 0755 "$bin/anycast6d" "$root/usr/sbin/"
install -m 0755 "$bin/anycast6ctl" "$bin/anycast6-stream" "$root/usr/bin/"
install -m 0644 "$bin/libanycast6_aarp.so" "$root/usr/lib/anycast6/"
install -m 0755 package/debian/prepare-bpffs "$root/usr/lib/anycast6/"
install -m 0644 contrib/anycast6.toml "$root/etc/anycast6/anycast6.toml"
install -m 0644 contrib/systemd/anycast6d.service "$root/lib/systemd/system/"
install -m 0644 contrib/wireshark/*.lua "$root/usr/lib/$multiarch/wireshark/plugins/anycast6/"
install -m 0644 README.md docs/operations.md "$root/usr/share/doc/anycast6/"

gen=target/debian/generated
rm -rf "$gen"
target/debug/a6-docgen "$gen" >/dev/null
for f in "$gen"/man/*.1; do gzip -9n -c "$f" > "$root/usr/share/man/man1/$(basename "$f").gz"; done
for f in "$gen"/man/*.8; do gzip -9n -c "$f" > "$root/usr/share/man/man8/$(basename "$f").gz"; done
install -m 0644 "$gen"/completions/bash/* "$root/usr/share/bash-completion/completions/"
install -m 0644 "$gen"/completions/zsh/* "$root/usr/share/zsh/vendor-completions/"
install -m 0644 "$gen"/completions/fish/* "$root/usr/share/fish/vendor_completions.d/"

for s in postinst prerm postrm; do install -m 0755 "package/debian/$s" "$root/DEBIAN/"; done
echo /etc/anycast6/anycast6.toml > "$root/DEBIAN/conffiles"

# Depends: the package of every shared library the binaries link.
deps=$(for f in "$root/usr/sbin/anycast6d" "$root/usr/bin/"* "$root/usr/lib/anycast6/"*.so; do
         objdump -p "$f" | awk '/NEEDED/ {print $2}'
       done | sort -u | while read -r lib; do
         path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
         [[ -n $path ]] || continue
         # dpkg knows a file by the path its package ships (/lib or
         # /usr/lib on a merged /usr), and the link's target, not the link.
         real="$(dirname "$path")/$(basename "$(readlink -f "$path")")"
         for p in "$path" "$real" "/usr$path" "/usr$real"; do
           pkg=$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1) || true
           [[ -n $pkg ]] && { echo "$pkg"; break; }
         done
       done | sort -u | paste -sd, | sed 's/,/, /g')
glibc=$(dpkg-query -W -f='${Version}' libc6 | cut -d- -f1)
deps=$(echo "$deps" | sed "s/\blibc6\b/libc6 (>= $glibc)/")
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)

cat > "$root/DEBIAN/control" <<CONTROL
Package: anycast6
Version: $version
Architecture: $arch
Maintainer: anycast6 developers <anycast6@localhost>
Section: net
Priority: optional
Installed-Size: $size
Depends: $deps, passwd, util-linux, iproute2
Recommends: bpftool
Suggests: tshark
Description: IPv6 anycast for Linux software routers
 anycast6 matches IPv6 anycast destinations in an XDP fast path (with an
 AF_XDP userspace path) and steers each flow to a chosen member.
 anycast6d runs the anycast protocols (ARD, ARIP, AOSPF, PIA-SM, MGA) and
 the AARP resolver and keeps the fast path's FIB; anycast6ctl shows and
 changes its state; anycast6-stream streams reliably from an anycast
 address; libanycast6_aarp.so gives unmodified programs AARP resolution.
CONTROL

out=target/debian/anycast6_${version}_${arch}.deb
dpkg-deb --root-owner-group $compress --build "$root" "$out" >/dev/null
echo "package.sh: $out ($(du -h "$out" | cut -f1), $profile build; Depends: $deps)"
