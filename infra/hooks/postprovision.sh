#!/bin/sh
# azd postprovision hook, two idempotent steps that need the provisioned resources:
#  1. create the dashboard's signing secret (TRIAGE_DASHBOARD_SECRET) once per environment;
#  2. create or update the monthly budget (budget.sh, which says why it is not in main.bicep).
#
# 1. The Function App reads the secret through a Key Vault reference; nobody needs to know its value, so it is generated
# here (32 random bytes, hex) and stored in the app's vault only if the vault does not hold it yet: later `azd provision`
# runs keep it. It runs as the signed-in maintainer, who has Key Vault Secrets Officer on the vault (principalId),
# and never prints the value nor passes it on a command line. Rerun it alone with: azd hooks run postprovision
set -eu

. "$(dirname "$0")/require.sh"
require_env AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME AZURE_KEY_VAULT_NAME \
  AZURE_KEY_VAULT_DASHBOARD_SECRET
require_az postprovision

# Whether the secret exists. A role assignment made by this provision can take a few minutes to reach Key Vault, so a
# refused listing is retried; it is never taken for "absent" (that would replace a secret in use).
tries=0
while :; do
  if count="$("$AZ" keyvault secret list --subscription "$AZURE_SUBSCRIPTION_ID" --vault-name "$AZURE_KEY_VAULT_NAME" \
              --query "length([?name=='$AZURE_KEY_VAULT_DASHBOARD_SECRET'])" -o tsv 2>/dev/null)"; then
    break
  fi
  tries=$((tries + 1))
  if [ "$tries" -ge 20 ]; then
    echo "error: cannot list the secrets of $AZURE_KEY_VAULT_NAME; you need Key Vault Secrets Officer on it" \
         "(azd sets AZURE_PRINCIPAL_ID to the signed-in user), then 'azd hooks run postprovision'." >&2
    exit 1
  fi
  sleep 15
done
if [ "$count" != "0" ]; then
  echo "Dashboard secret $AZURE_KEY_VAULT_DASHBOARD_SECRET already in $AZURE_KEY_VAULT_NAME; kept."
else
  umask 077
  file="$(mktemp)"
  trap 'rm -f "$file"' EXIT
  od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$file"
  "$AZ" keyvault secret set --subscription "$AZURE_SUBSCRIPTION_ID" --vault-name "$AZURE_KEY_VAULT_NAME" \
    --name "$AZURE_KEY_VAULT_DASHBOARD_SECRET" --file "$file" --encoding utf-8 --output none
  rm -f "$file"
  # The app may have started with the reference unresolved; a restart makes it read the new secret now.
  "$AZ" functionapp restart --subscription "$AZURE_SUBSCRIPTION_ID" -g "$AZURE_RESOURCE_GROUP" \
    -n "$AZURE_FUNCTION_APP_NAME" --output none
  echo "Dashboard secret $AZURE_KEY_VAULT_DASHBOARD_SECRET created in $AZURE_KEY_VAULT_NAME (value not shown)."
fi

# 2. The budget (never fails the hook: a budget alerts, it runs nothing; the smoke test reports a missing one).
if ! sh "$(dirname "$0")/budget.sh"; then
  echo "warning: the budget step failed (see above); run 'azd hooks run postprovision' again." >&2
fi
