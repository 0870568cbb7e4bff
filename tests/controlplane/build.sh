#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kube-scheduler from the versions pinned in
# go.mod/go.sum into $TAILOR_CONTROLPLANE_BIN (default: <workspace>/.build/controlplane/bin).
#
# The build is skipped when a stamp file records the same hash of go.mod, go.sum and this script, and
# all four binaries are present, so `make test` pays for the (long) cold build only once per pin change.
# GOCACHE and GOMODCACHE keep Go's defaults so repeated clones on one machine share compiled packages.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
bin="${TAILOR_CONTROLPLANE_BIN:-${root}/.build/controlplane/bin}"
case "${bin}" in /*) ;; *) bin="${root}/${bin}" ;; esac
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler)
min_go_minor=26

die() {
	echo "controlplane/build.sh: $*" >&2
	exit 1
}

if ! command -v go >/dev/null 2>&1; then
	die "Go is not installed, but the end-to-end tests need it to build the Kubernetes control plane.
Install Go 1.${min_go_minor} or newer (https://go.dev/doc/install: download go1.${min_go_minor}.x.linux-amd64.tar.gz,
extract it to /usr/local and add /usr/local/go/bin to PATH), then run \`make controlplane\` again."
fi

# The pinned Kubernetes release declares `go 1.26.0`; refuse older toolchains instead of letting
# `go` try to download a newer one (only the module proxy may be reachable).
export GOTOOLCHAIN=local
go_version="$(go env GOVERSION)"
go_minor="$(sed -E 's/^go1\.([0-9]+).*/\1/' <<<"${go_version}")"
if ! [[ "${go_minor}" =~ ^[0-9]+$ ]] || ((go_minor < min_go_minor)); then
	die "found ${go_version}, but Go 1.${min_go_minor} or newer is required (https://go.dev/doc/install)."
fi

# Several `make test` runs may share one checkout: build one at a time, and let the others find the
# finished stamp instead of compiling again. (flock is in util-linux; without it, build unlocked.)
mkdir -p "$(dirname "${bin}")"
if command -v flock >/dev/null 2>&1; then
	exec 9>"${bin}.lock"
	flock 9
fi

stamp_file="${bin}/.stamp"
stamp="$(cat "${here}/go.mod" "${here}/go.sum" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1) ${go_version}"

up_to_date() {
	[[ -f "${stamp_file}" && "$(cat "${stamp_file}")" == "${stamp}" ]] || return 1
	local b
	for b in "${binaries[@]}"; do [[ -x "${bin}/${b}" ]] || return 1; done
}

if up_to_date; then
	echo "controlplane: binaries in ${bin} are up to date"
	exit 0
fi

cd "${here}"
k8s_version="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"
[[ "${k8s_version}" =~ ^v([0-9]+)\.([0-9]+)\. ]] || die "cannot parse k8s.io/kubernetes version '${k8s_version}'"
major="${BASH_REMATCH[1]}"
minor="${BASH_REMATCH[2]}"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# Upstream sets these version variables in both packages; without them /version reports v0.0.0-master.
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X ${pkg}.gitVersion=${k8s_version} -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}"
	ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${build_date}"
done

out="${bin}.partial"
rm -rf "${out}"
mkdir -p "${out}"
echo "controlplane: building Kubernetes ${k8s_version} and etcd into ${bin} (the first build takes a long time)"
start=$(date +%s)
# One invocation for all four mains so packages they share (client-go, grpc, etcd client…) compile once.
# The etcd main is the module root go.etcd.io/etcd/server/v3, which `go build` names "server".
CGO_ENABLED=0 go build -trimpath -buildvcs=false -tags selinux,notest -ldflags "${ldflags}" -o "${out}/" \
	k8s.io/kubernetes/cmd/kube-apiserver \
	k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler \
	go.etcd.io/etcd/server/v3
mv "${out}/server" "${out}/etcd"
for b in "${binaries[@]}"; do [[ -x "${out}/${b}" ]] || die "go build did not produce ${b}"; done

rm -rf "${bin}"
mv "${out}" "${bin}"
echo "${stamp}" >"${stamp_file}"
echo "controlplane: built in $(($(date +%s) - start)) s"
