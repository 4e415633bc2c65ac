#!/bin/sh
# azd postdeploy hook: subscribe the model_created function to BlobCreated events of models/**/manifest.json.
#
# The Event Grid webhook URL needs the host's blobs_extension system key, which exists only after the code with
# the Event Grid blob trigger is deployed and the host has started; hence this step runs after `azd deploy`, not
# in the first `azd provision`. It wakes the host, waits for the key (never printing it), deploys
# infra/modules/model-events.bicep (which reads the key itself with listKeys), and sets ENABLE_MODEL_EVENTS=true so
# that later `azd provision` runs keep the subscription. Rerun it alone with: azd hooks run postdeploy
set -eu

if [ "${ENABLE_MODEL_EVENTS:-false}" = "true" ]; then
  echo "Event Grid subscription model-created is managed by azd provision (ENABLE_MODEL_EVENTS=true)."
  exit 0
fi
. "$(dirname "$0")/require.sh"
require_env AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME AZURE_FUNCTION_APP_URL \
  AZURE_EVENTGRID_SYSTEM_TOPIC_NAME
require_az postdeploy

echo "Waiting for the Functions host to create its blobs_extension system key..."
tries=0
while :; do
  curl -fsS -o /dev/null --max-time 60 "$AZURE_FUNCTION_APP_URL/api/health" 2>/dev/null || true
  present="$(az functionapp keys list --subscription "$AZURE_SUBSCRIPTION_ID" -g "$AZURE_RESOURCE_GROUP" \
             -n "$AZURE_FUNCTION_APP_NAME" --query "systemKeys.blobs_extension != null" -o tsv 2>/dev/null || true)"
  [ "$present" = "true" ] && break
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then
    echo "error: no blobs_extension key after 5 minutes; check the app's logs, then 'azd hooks run postdeploy'." >&2
    exit 1
  fi
  sleep 10
done

echo "Creating the Event Grid subscription model-created..."
az deployment group create --subscription "$AZURE_SUBSCRIPTION_ID" -g "$AZURE_RESOURCE_GROUP" --name model-events \
  --template-file infra/modules/model-events.bicep \
  --parameters systemTopicName="$AZURE_EVENTGRID_SYSTEM_TOPIC_NAME" functionAppName="$AZURE_FUNCTION_APP_NAME" \
  --output none
azd env set ENABLE_MODEL_EVENTS true
echo "Done: new models/**/manifest.json blobs now reach model_created."
