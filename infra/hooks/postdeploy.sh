#!/bin/sh
# azd postdeploy hook, after every `azd deploy` (and `azd up`):
#  1. subscribe model_created to BlobCreated events of models/**/manifest.json (infra/modules/model-events.bicep);
#  2. run the smoke test (smoke.sh) against the deployed app.
#
# 1. The Event Grid webhook URL needs the host's blobs_extension system key, which exists only after the code with the
# Event Grid blob trigger is deployed and the host has started, so the subscription is created here and never by
# `azd provision` (main.bicep says why). The hook wakes the host, waits for the key (never printing it), and deploys
# model-events.bicep, which reads the key itself with listKeys. Deploying it is idempotent, so it runs after every
# deployment; it is retried with backoff, because listKeys on a restarting host answers ServiceUnavailable
# (Azure/azure-functions-host#5722) and Event Grid's validation handshake can reach a cold instance of the blob group.
# Rerun it alone with: azd hooks run postdeploy
set -eu

. "$(dirname "$0")/require.sh"
require_env AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME AZURE_FUNCTION_APP_URL \
  AZURE_EVENTGRID_SYSTEM_TOPIC_NAME
require_az postdeploy

ATTEMPTS="${TRIAGE_EVENTGRID_ATTEMPTS:-6}"
template="$(dirname "$0")/../modules/model-events.bicep"

# wake: an anonymous request that makes Flex Consumption start an instance (the answer does not matter).
wake() {
  curl -fsS -o /dev/null --max-time 60 "$AZURE_FUNCTION_APP_URL/api/health" 2>/dev/null || true
}

echo "Waiting for the Functions host to create its blobs_extension system key..."
tries=0
while :; do
  wake
  present="$("$AZ" functionapp keys list --subscription "$AZURE_SUBSCRIPTION_ID" -g "$AZURE_RESOURCE_GROUP" \
             -n "$AZURE_FUNCTION_APP_NAME" --query "systemKeys.blobs_extension != null" -o tsv 2>/dev/null || true)"
  [ "$present" = "true" ] && break
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then
    echo "error: no blobs_extension key after 5 minutes; check the app's logs, then 'azd hooks run postdeploy'." >&2
    exit 1
  fi
  sleep 10
done

echo "Creating or updating the Event Grid subscription model-created..."
errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
attempt=1
while :; do
  wake
  if "$AZ" deployment group create --subscription "$AZURE_SUBSCRIPTION_ID" -g "$AZURE_RESOURCE_GROUP" \
       --name model-events --template-file "$template" \
       --parameters systemTopicName="$AZURE_EVENTGRID_SYSTEM_TOPIC_NAME" functionAppName="$AZURE_FUNCTION_APP_NAME" \
       --output none 2>"$errors"; then
    state="$("$AZ" eventgrid system-topic event-subscription show --subscription "$AZURE_SUBSCRIPTION_ID" \
             -g "$AZURE_RESOURCE_GROUP" --system-topic-name "$AZURE_EVENTGRID_SYSTEM_TOPIC_NAME" -n model-created \
             --query provisioningState -o tsv 2>/dev/null || true)"
    [ "$state" = "Succeeded" ] && break
    echo "Attempt $attempt: the subscription is ${state:-not readable}, not Succeeded." >&2
  else
    # The deployment's error can quote the webhook URL; its key is masked before anything is shown.
    echo "Attempt $attempt failed:" >&2
    mask_keys <"$errors" | tail -n 5 >&2
  fi
  if [ "$attempt" -ge "$ATTEMPTS" ]; then
    echo "error: the Event Grid subscription model-created failed $attempt times; check the app's logs (the host must" \
         "answer Event Grid's validation handshake on /runtime/webhooks/blobs), then 'azd hooks run postdeploy'." >&2
    exit 1
  fi
  delay="$(backoff "$attempt")"
  echo "Retrying in ${delay}s (a restarting or cold host answers listKeys and the validation handshake late)..."
  sleep "$delay"
  attempt=$((attempt + 1))
done
echo "Done: new models/**/manifest.json blobs now reach model_created."

if [ "${TRIAGE_SKIP_SMOKE:-false}" = "true" ]; then
  echo "Smoke test skipped (TRIAGE_SKIP_SMOKE=true); run it with: sh infra/hooks/smoke.sh"
  exit 0
fi
sh "${SMOKE:-$(dirname "$0")/smoke.sh}"
