#!/usr/bin/env bash
# Re-pins the control plane to another Kubernetes release: `tests/controlplane/bump.sh v1.37.2`.
#
# k8s.io/kubernetes requires its ~33 staging modules (k8s.io/api, k8s.io/apiserver…) at v0.0.0 and
# replaces them with paths inside its own repository, which only works there. This script reads that
# replace block from the release's go.mod and maps every staging module to its published tag
# (Kubernetes v1.X.Y = staging v0.X.Y), pins etcd's server module to the etcd version the release
# itself uses, and lets `go mod tidy` fill in go.sum. List releases with
# `go list -m -versions k8s.io/kubernetes`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="${1:?usage: bump.sh vMAJOR.MINOR.PATCH (a k8s.io/kubernetes release)}"
[[ "${version}" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || {
	echo "bump.sh: expected a stable release like v1.37.2, got ${version}" >&2
	exit 1
}
staging="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
export GOTOOLCHAIN=local

upstream_mod="$(go mod download -json "k8s.io/kubernetes@${version}" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')"
[[ -f "${upstream_mod}" ]] || {
	echo "bump.sh: could not download k8s.io/kubernetes@${version}" >&2
	exit 1
}
modules="$(sed -n '/^replace (/,/^)/p' "${upstream_mod}" | awk '$2 == "=>" { print $1 }')"
etcd="$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2 }' "${upstream_mod}")"
[[ -n "${modules}" && -n "${etcd}" ]] || {
	echo "bump.sh: unexpected go.mod layout in ${upstream_mod}" >&2
	exit 1
}

cd "${here}"
go mod edit -require="k8s.io/kubernetes@${version}" -require="go.etcd.io/etcd/server/v3@${etcd}"
for module in ${modules}; do
	go mod edit -replace="${module}=${module}@${staging}"
done
go mod tidy
echo "bump.sh: pinned Kubernetes ${version} (staging ${staging}) and etcd ${etcd}; run \`make controlplane\`"
