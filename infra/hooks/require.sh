# Checks and helpers shared by the azd hooks and the smoke test (sourced, not run).
#
# Seams: every Azure CLI call goes through "$AZ" and every azd call through "$AZD" (default `az` and `azd`), so that
# the tests in tests/infra stand in for them with scripts that answer canned JSON. Nothing else reaches Azure.
AZ="${AZ:-az}"
AZD="${AZD:-azd}"

# require_env NAME...: stop unless every named variable is set and non-empty.
require_env() {
  for name in "$@"; do
    eval "value=\${$name:-}"
    if [ -z "$value" ]; then
      echo "error: $name is not set; run 'azd provision' first." >&2
      exit 1
    fi
  done
}

# require_az HOOK: stop unless the Azure CLI is on the PATH, saying how to rerun HOOK.
require_az() {
  if ! command -v "$AZ" >/dev/null 2>&1; then
    echo "error: the Azure CLI (az) is needed for this step; install it, run 'az login', then 'azd hooks run $1'." >&2
    exit 1
  fi
}

# backoff ATTEMPT: seconds to wait after failed attempt ATTEMPT (1, 2, ...): 15, 30, 60, 120, then 240 at most.
backoff() {
  delay=15
  n=1
  while [ "$n" -lt "$1" ] && [ "$delay" -lt 240 ]; do
    delay=$((delay * 2))
    n=$((n + 1))
  done
  [ "$delay" -gt 240 ] && delay=240
  echo "$delay"
}

# mask_keys: copy stdin to stdout with the value of every `code=` query parameter (a Functions key) replaced.
mask_keys() {
  sed 's/code=[^&"'"'"' ]*/code=***/g'
}
