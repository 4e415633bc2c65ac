#!/bin/sh
# azd preprovision hook: pre-flight checks before anything is created, each stopping with a message that says what to
# change: the azd version, the values azd does not ask for, the Azure CLI's sign-in, the region's Flex Consumption
# support, and the Azure ML quota for one node of the GPU size. It only reads (no `azd env set`, no change in Azure), so
# it can run any number of times; rerun it alone with: azd hooks run preprovision
set -eu

. "$(dirname "$0")/require.sh"

# Keep in step with requiredVersions in azure.yaml: 1.21.0 reloads the environment before it reads the parameters
# (Azure/azure-dev#6063), 1.23.5 knows `remoteBuild` for Flex Consumption apps (Azure/azure-dev#6748).
MIN_AZD_VERSION=1.23.5
GPU_VM_SIZE="${TRIAGE_GPU_VM_SIZE:-Standard_NC4as_T4_v3}"
GPU_VM_PRIORITY="${TRIAGE_GPU_VM_PRIORITY:-LowPriority}"

fail() {
  echo "error: $*" >&2
  exit 1
}

# version_at_least HAVE WANT: whether dotted version HAVE >= WANT (numeric fields; a suffix like -beta.1 is ignored).
version_at_least() {
  awk -v have="$1" -v want="$2" 'BEGIN {
    split(have, h, "."); split(want, w, ".")
    for (i = 1; i <= 3; i++) { if (h[i] + 0 > w[i] + 0) exit 0; if (h[i] + 0 < w[i] + 0) exit 1 }
    exit 0 }'
}

# 1. azd itself (azd also enforces azure.yaml's requiredVersions; this says what to do about it).
if ! command -v "$AZD" >/dev/null 2>&1; then
  fail "azd is not on the PATH; install the Azure Developer CLI $MIN_AZD_VERSION or later (https://aka.ms/azd-install)."
fi
azd_version="$("$AZD" version 2>/dev/null | sed -n 's/^azd version \([0-9][0-9.]*\).*/\1/p')"
if [ -z "$azd_version" ] || ! version_at_least "$azd_version" "$MIN_AZD_VERSION"; then
  fail "azd ${azd_version:-(unknown version)} is too old: this project needs azd $MIN_AZD_VERSION or later" \
       "(https://aka.ms/azd-install); older versions do not reload values set by hooks before provisioning."
fi
echo "ok: azd $azd_version"

# 2. Values azd cannot ask for (they are not parameters of main.bicep) and the ones the checks below need.
if [ -z "${TRIAGE_BUDGET_EMAILS:-}" ]; then
  fail "TRIAGE_BUDGET_EMAILS is not set: it receives the budget's alerts. Run" \
       "'azd env set TRIAGE_BUDGET_EMAILS you@example.com' (comma-separated for several)."
fi
for name in AZURE_SUBSCRIPTION_ID AZURE_LOCATION; do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    fail "$name is not set yet: run 'azd env set $name <value>' (or 'azd up', which asks for the subscription and the" \
         "region before this check)."
  fi
done
location="$(printf '%s' "$AZURE_LOCATION" | tr '[:upper:]' '[:lower:]' | tr -d ' ')"

# 3. The Azure CLI (the hooks use it) is installed and signed in to this subscription.
require_az preprovision
if ! "$AZ" account show --subscription "$AZURE_SUBSCRIPTION_ID" --query id -o tsv >/dev/null 2>&1; then
  fail "the Azure CLI is not signed in to subscription $AZURE_SUBSCRIPTION_ID: run 'az login'" \
       "(and 'az account set --subscription $AZURE_SUBSCRIPTION_ID'), then 'azd hooks run preprovision'."
fi
echo "ok: az signed in to $AZURE_SUBSCRIPTION_ID"

# 4. The region offers Flex Consumption.
if ! flex_locations="$("$AZ" functionapp list-flexconsumption-locations --query "[].name" -o tsv 2>/dev/null)"; then
  fail "could not list the Flex Consumption regions ('az functionapp list-flexconsumption-locations'); update the" \
       "Azure CLI ('az upgrade') and retry."
fi
if ! printf '%s\n' "$flex_locations" | tr '[:upper:]' '[:lower:]' | grep -qx "$location"; then
  fail "region $location does not offer Flex Consumption. Choose one that does, for example:" \
       "$(printf '%s\n' "$flex_locations" | head -n 12 | tr '\n' ' ')- then 'azd env set AZURE_LOCATION <region>'" \
       "(a region that also has Azure ML quota for $GPU_VM_SIZE)."
fi
echo "ok: Flex Consumption is offered in $location"

# 5. Azure ML offers the GPU size there, with quota for one node of it (aml_quota.sh says where that is read).
if [ "${TRIAGE_SKIP_QUOTA_CHECK:-false}" = "true" ]; then
  echo "warning: Azure ML quota not checked (TRIAGE_SKIP_QUOTA_CHECK=true); training jobs wait until quota is granted."
  exit 0
fi
case "$GPU_VM_PRIORITY" in
  LowPriority | Dedicated) ;;
  *) fail "TRIAGE_GPU_VM_PRIORITY=$GPU_VM_PRIORITY is neither LowPriority nor Dedicated ('azd env set TRIAGE_GPU_VM_PRIORITY LowPriority')." ;;
esac
. "$(dirname "$0")/aml_quota.sh"
aml_quota "$AZURE_SUBSCRIPTION_ID" "$location" "$GPU_VM_SIZE" "$GPU_VM_PRIORITY"
case "$QUOTA" in
  ok) echo "ok: $QUOTA_DETAIL" ;;
  unknown) echo "warning: $QUOTA_DETAIL Check it in Azure ML studio > Quota." ;;
  error) fail "$QUOTA_DETAIL" ;;
  *)
    fail "$QUOTA_DETAIL The cluster would be created but its training jobs would never start." \
         "Request quota (Azure ML studio > Quota, or 'az quota'), or change what you ask for:" \
         "'azd env set TRIAGE_GPU_VM_PRIORITY Dedicated' (or LowPriority), 'azd env set TRIAGE_GPU_VM_SIZE <size>'" \
         "or 'azd env set AZURE_LOCATION <region>'. To provision anyway while a request is pending:" \
         "'azd env set TRIAGE_SKIP_QUOTA_CHECK true'."
    ;;
esac
