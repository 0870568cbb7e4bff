#!/usr/bin/env bash
# Builds the upstream-VPA replay driver (main.go, against the vertical-pod-autoscaler release pinned in go.mod)
# into $TAILOR_VPA_DRIVER (default: <workspace>/.build/vpa-driver). Skipped when a stamp of go.mod, go.sum,
# main.go, this script and the Go version matches and the binary exists. The first build takes a few minutes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
out="${TAILOR_VPA_DRIVER:-${root}/.build/vpa-driver}"
case "${out}" in /*) ;; *) out="${root}/${out}" ;; esac
min_go_minor=26

die() {
	echo "eval/vpa-driver/build.sh: $*" >&2
	exit 1
}

command -v go >/dev/null 2>&1 || die "Go is not installed, but the evaluation needs it to build the upstream VPA
recommender driver. Install Go 1.${min_go_minor} or newer (https://go.dev/doc/install) and add it to PATH."

# Only the module proxy may be reachable: never let go download a toolchain.
export GOTOOLCHAIN=local
go_version="$(go env GOVERSION)"
go_minor="$(sed -E 's/^go1\.([0-9]+).*/\1/' <<<"${go_version}")"
if ! [[ "${go_minor}" =~ ^[0-9]+$ ]] || ((go_minor < min_go_minor)); then
	die "found ${go_version}, but Go 1.${min_go_minor} or newer is required (https://go.dev/doc/install)."
fi

stamp="$(cat "${here}/go.mod" "${here}/go.sum" "${here}/main.go" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1) ${go_version}"
if [[ -x "${out}" && -f "${out}.stamp" && "$(cat "${out}.stamp")" == "${stamp}" ]]; then
	echo "vpa-driver: ${out} is up to date"
	exit 0
fi

mkdir -p "$(dirname "${out}")"
echo "vpa-driver: building ${out} (first build downloads and compiles the VPA module: a few minutes)"
(cd "${here}" && go build -mod=readonly -trimpath -o "${out}.tmp" .) || die "go build failed"
mv "${out}.tmp" "${out}"
echo "${stamp}" >"${out}.stamp"
