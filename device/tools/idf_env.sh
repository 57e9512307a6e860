#!/usr/bin/env bash
# Offline ESP-IDF environment for the `linux` target (no Xtensa toolchain needed).
#
#   source device/tools/idf_env.sh          # sets IDF_* vars, creates the venv once, PATH
#   device/tools/idf_env.sh idf.py ...      # same, then runs the command
#
# Follows ../shared/vendor/README.md: never source export.sh (it wants toolchains); the venv
# comes from ESP-IDF's tools/requirements/requirements.core.txt on PyPI (~30 s, once).
# IDF_VENV (default: build/idf-venv in the checkout) and IDF_PATH can be overridden.
_imuad_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export IDF_PATH="${IDF_PATH:-$(cd "$_imuad_root/../shared/vendor/esp-idf" 2>/dev/null && pwd)}"
if [ -z "$IDF_PATH" ] || [ ! -f "$IDF_PATH/tools/idf.py" ]; then
  echo "idf_env: ESP-IDF not found (expected ../shared/vendor/esp-idf or \$IDF_PATH)" >&2
  return 1 2>/dev/null || exit 1
fi
export IDF_PYTHON_ENV_PATH="${IDF_VENV:-$_imuad_root/build/idf-venv}"
export IDF_SKIP_CHECK_SUBMODULES=1
export IDF_PYTHON_CHECK_CONSTRAINTS=0
export ESP_IDF_VERSION=6.2
# Only local path:/override_path: dependencies, which resolve offline.
export IDF_COMPONENT_MANAGER="${IDF_COMPONENT_MANAGER:-1}"
export IDF_COMPONENT_OVERWRITE_MANAGED_COMPONENTS=1

if [ ! -x "$IDF_PYTHON_ENV_PATH/bin/python" ] || [ ! -f "$IDF_PYTHON_ENV_PATH/.imuad-ok" ]; then
  echo "idf_env: creating ESP-IDF venv in $IDF_PYTHON_ENV_PATH (PyPI, about 30 s)" >&2
  python3 -m venv "$IDF_PYTHON_ENV_PATH" &&
    "$IDF_PYTHON_ENV_PATH/bin/pip" install -q --disable-pip-version-check \
      -r "$IDF_PATH/tools/requirements/requirements.core.txt" &&
    touch "$IDF_PYTHON_ENV_PATH/.imuad-ok" || {
      echo "idf_env: venv creation failed" >&2
      return 1 2>/dev/null || exit 1
    }
fi
case ":$PATH:" in
  *":$IDF_PYTHON_ENV_PATH/bin:"*) ;;
  *) export PATH="$IDF_PYTHON_ENV_PATH/bin:$IDF_PATH/tools:$PATH" ;;
esac
# gnu++17: Debian g++ 12's -std=gnu++2b breaks nvs_flash (vendor README).
export IMUAD_IDF_STD_FLAGS="-Dver_gnu++26_supported=0 -Dver_gnu++2b_supported=0 -Dver_gnu++20_supported=0 -Dver_gnu++2a_supported=0"
unset _imuad_root

if [ "${BASH_SOURCE[0]}" = "$0" ] && [ "$#" -gt 0 ]; then
  exec "$@"
fi
