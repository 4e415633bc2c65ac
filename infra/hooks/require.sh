# Checks shared by the azd hooks (sourced, not run): the azd environment values a hook needs, and the Azure CLI.

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

# require_az HOOK: stop unless `az` is on the PATH, saying how to rerun HOOK.
require_az() {
  if ! command -v az >/dev/null 2>&1; then
    echo "error: the Azure CLI (az) is needed for this step; install it, run 'az login', then 'azd hooks run $1'." >&2
    exit 1
  fi
}
