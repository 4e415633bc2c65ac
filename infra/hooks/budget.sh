#!/bin/sh
# Create or update the resource group's monthly budget (infra/modules/budget.bicep); run by the postprovision hook, and
# on its own with: sh infra/hooks/budget.sh (with the azd environment loaded, e.g. through `azd hooks run postprovision`).
#
# Why a hook and not main.bicep: the Consumption API refuses to change a budget's start date (Azure/bicep#7149), and
# redeploying a budget in a later month is reported to fail whatever start date the template passes
# (Azure/azure-quickstart-templates#7095). Here it is idempotent by construction:
#   - no budget named budget-<env> in the resource group: create it, starting on the first day of the current month;
#   - one with the same amount and recipients: leave it alone (no request that could be refused);
#   - one with another amount or recipients: redeploy it with the start date it already has.
# A budget only sends e-mails, so a failure here is a warning, never a failed `azd provision`: the smoke test
# (smoke.sh) reports a missing budget, and this script can be run again at any time.
set -eu

. "$(dirname "$0")/require.sh"
require_env AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_GROUP AZURE_ENV_NAME
require_az postprovision

BUDGET_API=2023-11-01
name="budget-$AZURE_ENV_NAME"
amount="${TRIAGE_BUDGET_AMOUNT:-30}"
emails="$(printf '%s' "${TRIAGE_BUDGET_EMAILS:-}" | tr -d ' ')"
template="$(dirname "$0")/../modules/budget.bicep"

warn() {
  echo "warning: $* Fix it, then run 'azd hooks run postprovision' again." >&2
  exit 0
}

[ -n "$emails" ] || warn "no budget: TRIAGE_BUDGET_EMAILS is not set ('azd env set TRIAGE_BUDGET_EMAILS you@example.com')."
case "$amount" in
  '' | *[!0-9]* | 0) warn "no budget: TRIAGE_BUDGET_AMOUNT=$amount is not a whole number above 0." ;;
esac

# The budget as it is: "startDate<TAB>amount<TAB>recipients" or nothing. A failed listing is retried and never taken
# for "absent" (creating over an existing budget with another start date is exactly what the API refuses).
url="/subscriptions/$AZURE_SUBSCRIPTION_ID/resourceGroups/$AZURE_RESOURCE_GROUP/providers/Microsoft.Consumption/budgets?api-version=$BUDGET_API"
query="value[?name=='$name'] | [0].[properties.timePeriod.startDate, to_string(properties.amount), to_string(properties.notifications.actual80.contactEmails)]"
attempt=1
while ! current="$("$AZ" rest --method get --url "$url" --query "$query" -o tsv 2>/dev/null)"; do
  [ "$attempt" -ge 3 ] && warn "budget $name not checked: the budgets of $AZURE_RESOURCE_GROUP could not be listed."
  sleep "$(backoff "$attempt")"
  attempt=$((attempt + 1))
done

if [ -z "$current" ]; then
  start="$(date -u +%Y-%m-01)"
  action="created (monthly, from $start)"
else
  start="$(printf '%s\n' "$current" | awk -F '\t' '{ print substr($1, 1, 10); exit }')"
  have_amount="$(printf '%s\n' "$current" | awk -F '\t' '{ print $2 + 0; exit }')"
  have_emails="$(printf '%s\n' "$current" | awk -F '\t' '{ print $3; exit }' | tr -d '[]" ')"
  if [ "$have_amount" = "$amount" ] && [ "$have_emails" = "$emails" ]; then
    echo "Budget $name kept: $amount a month from $start, alerts to $emails."
    exit 0
  fi
  action="updated (its start date $start kept)"
fi

if ! "$AZ" deployment group create --subscription "$AZURE_SUBSCRIPTION_ID" -g "$AZURE_RESOURCE_GROUP" --name budget \
     --template-file "$template" \
     --parameters budgetName="$name" amount="$amount" contactEmails="$emails" startDate="$start" --output none; then
  warn "budget $name was not $action (see the error above). If the API refuses its start date, delete the budget" \
       "(portal > Cost Management > Budgets) so that it is created afresh."
fi
echo "Budget $name $action: $amount a month, alerts to $emails at 80 % of actual and 100 % of forecast spend."
