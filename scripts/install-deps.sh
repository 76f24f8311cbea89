#!/usr/bin/env bash
# Installs the Debian 12 packages Rivulet builds and tests with, if any is
# missing. Idempotent and quiet when everything is present. Arguments name
# more packages to check the same way (make fuzz: clang, libclang-rt-14-dev).
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libcaf-dev librdkafka-dev libmsgpack-cxx-dev libboost-dev catch2 kcat
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev libsimdjson-dev
  libyaml-cpp-dev libcpp-httplib-dev libbenchmark-dev libreadline-dev
  libxxhash-dev libssl-dev openssl libjemalloc-dev libavro-dev python3-avro
  libprotobuf-dev libprotoc-dev protobuf-compiler
  python3-jsonschema
  "$@"
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing missing packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
