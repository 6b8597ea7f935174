# Shared build environment for the project's scripts (sourced, not run).

# Link with mold when it is installed: linking dominates incremental builds of the many
# test and worker binaries.
if command -v mold >/dev/null 2>&1 && [[ "${RUSTFLAGS:-}" != *fuse-ld* ]]; then
    export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-fuse-ld=mold"
fi
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# Python tools live in virtualenvs under .venv/ (git-ignored), created on first use.
# Packages are names or pins (`name==version`); a pin is reinstalled when another version is there.
ensure_venv() {
    local venv="$1"; shift
    if [[ ! -x "$venv/bin/python" ]]; then
        python3 -m venv "$venv"
    fi
    local missing=() package installed
    for package in "$@"; do
        installed=$("$venv/bin/python" -m pip show "${package%%==*}" 2>/dev/null | sed -n 's/^Version: //p' || true)
        if [[ -z "$installed" || ( "$package" == *==* && "$installed" != "${package#*==}" ) ]]; then
            missing+=("$package")
        fi
    done
    if ((${#missing[@]})); then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${missing[@]}"
    fi
}
