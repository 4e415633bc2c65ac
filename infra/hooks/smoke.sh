#!/bin/sh
# Smoke test of a deployed issue-triage, end to end, without writing anything to GitHub or to the app's data: one line
# per check, PASS, FAIL or SKIP (with the reason and what to do), then a summary; exit status 1 if anything failed.
#
# The postdeploy hook runs it after every deployment. Run it again at any time with the azd environment loaded:
#   azd hooks run postdeploy            (also re-creates the Event Grid subscription; idempotent)
#   azd env get-values > /tmp/triage.env && set -a && . /tmp/triage.env && set +a && sh infra/hooks/smoke.sh
# TRIAGE_SMOKE_JOB=true also submits a one-minute GPU job (nvidia-smi) to the cluster when the quota allows one node;
# it costs a few cents of GPU time. Nothing else creates anything.
#
# Needs curl, openssl (HMAC of the signed webhook delivery) and the Azure CLI ("$AZ", a seam for the tests). The
# webhook secret is read from Key Vault into a variable and given to openssl, so it is briefly visible in this machine's
# process list; it is never printed. The function key travels in a header file, not on a command line.
set -u

. "$(dirname "$0")/require.sh"
require_env AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_GROUP AZURE_ENV_NAME AZURE_FUNCTION_APP_NAME AZURE_FUNCTION_APP_URL \
  AZURE_KEY_VAULT_NAME AZURE_KEY_VAULT_WEBHOOK_SECRET AZURE_EVENTGRID_SYSTEM_TOPIC_NAME AZURE_ML_WORKSPACE_NAME \
  AZURE_ML_COMPUTE_NAME
require_az postdeploy
for tool in curl openssl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: the smoke test needs $tool on the PATH." >&2
    exit 1
  fi
done

URL="${AZURE_FUNCTION_APP_URL%/}"
SUB="$AZURE_SUBSCRIPTION_ID"
RG="$AZURE_RESOURCE_GROUP"
# The training job's base image: keep in step with DEFAULT_IMAGE of the app's Azure ML adapter (a test checks).
IMAGE="${TRIAGE_AML_IMAGE:-mcr.microsoft.com/azureml/openmpi5.0-cuda12.4-ubuntu22.04:latest}"
BUDGET_API=2023-11-01

passed=0
failed=0
skipped=0
# pass|fail|skip CHECK MESSAGE...: one result line.
pass() { _check="$1"; shift; echo "PASS  $_check: $*"; passed=$((passed + 1)); }
fail() { _check="$1"; shift; echo "FAIL  $_check: $*"; failed=$((failed + 1)); }
skip() { _check="$1"; shift; echo "SKIP  $_check: $*"; skipped=$((skipped + 1)); }

umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# http METHOD PATH [curl options...]: the status code (000 when nothing answered); body in $work/body, headers in
# $work/headers. Never follows redirects.
http() {
  _method="$1"
  _path="$2"
  shift 2
  _code="$(curl -sS -X "$_method" -o "$work/body" -D "$work/headers" -w '%{http_code}' --max-time 60 "$@" \
           "$URL$_path" 2>"$work/curl.err")"
  [ -n "$_code" ] || _code=000
  echo "$_code"
}
# excerpt: the first 120 characters of the last body, on one line.
excerpt() { tr -d '\r\n' <"$work/body" | cut -c1-120; }
# header NAME: the value of a response header of the last request (NAME in lower case).
header() { tr -d '\r' <"$work/headers" | awk -v name="$1" 'tolower($0) ~ "^" name ":" { sub(/^[^:]*: */, ""); print; exit }'; }

# 1. Health: anonymous; Flex Consumption may be starting an instance, so it is retried with backoff.
attempt=1
while :; do
  code="$(http GET /api/health)"
  [ "$code" = "200" ] && break
  [ "$attempt" -ge 5 ] && break
  sleep "$(backoff "$attempt")"
  attempt=$((attempt + 1))
done
if [ "$code" = "200" ] && grep -q '"status"' "$work/body"; then
  pass "health" "GET /api/health answered 200 $(excerpt)"
else
  fail "health" "GET /api/health answered $code after $attempt tries $(excerpt); see the app's logs in Application Insights."
fi

# 2. The GitHub webhook: a signed `ping` is accepted, an unsigned one refused. A ping touches no repository.
if ! secret="$("$AZ" keyvault secret show --subscription "$SUB" --vault-name "$AZURE_KEY_VAULT_NAME" \
                --name "$AZURE_KEY_VAULT_WEBHOOK_SECRET" --query value -o tsv 2>"$work/kv.err")"; then
  if grep -qi "notfound" "$work/kv.err"; then
    reason="no $AZURE_KEY_VAULT_WEBHOOK_SECRET in $AZURE_KEY_VAULT_NAME yet (docs/deploy.md step 3)"
  else
    reason="cannot read $AZURE_KEY_VAULT_WEBHOOK_SECRET from $AZURE_KEY_VAULT_NAME (Key Vault Secrets Officer needed)"
  fi
  skip "webhook signed ping" "$reason"
  skip "webhook unsigned ping" "$reason"
else
  printf '%s' '{"zen":"Smoke test from infra/hooks/smoke.sh.","hook_id":0}' >"$work/ping.json"
  signature="$(openssl dgst -sha256 -hmac "$secret" <"$work/ping.json" | sed 's/^.*= *//')"
  unset secret
  delivery="smoke-$(date -u +%Y%m%dT%H%M%SZ)-$$"
  code="$(http POST /api/github/webhook -H "Content-Type: application/json" -H "X-GitHub-Event: ping" \
          -H "X-GitHub-Delivery: $delivery" -H "X-Hub-Signature-256: sha256=$signature" --data-binary "@$work/ping.json")"
  if [ "$code" = "200" ]; then
    pass "webhook signed ping" "POST /api/github/webhook with a valid signature answered 200 $(excerpt)"
  else
    fail "webhook signed ping" "answered $code $(excerpt), not 200: the app does not have the secret of Key Vault yet;" \
         "restart it ('az functionapp restart -g $RG -n $AZURE_FUNCTION_APP_NAME') so that it resolves the reference."
  fi
  code="$(http POST /api/github/webhook -H "Content-Type: application/json" -H "X-GitHub-Event: ping" \
          -H "X-GitHub-Delivery: $delivery-unsigned" --data-binary "@$work/ping.json")"
  if [ "$code" = "401" ]; then
    pass "webhook unsigned ping" "POST /api/github/webhook without a signature answered 401"
  else
    fail "webhook unsigned ping" "answered $code $(excerpt), not 401: unsigned deliveries must be refused."
  fi
fi

# 3. /api/status needs a function key: 200 with the default key, 401 without. It reads Cosmos DB and storage, whose
# role assignments can take minutes to apply after a first provision, so a 5xx is retried with backoff.
if ! key="$("$AZ" functionapp keys list --subscription "$SUB" -g "$RG" -n "$AZURE_FUNCTION_APP_NAME" \
             --query functionKeys.default -o tsv 2>/dev/null)" || [ -z "$key" ]; then
  fail "status" "cannot read the app's function keys (az functionapp keys list); is the host running?"
else
  printf 'x-functions-key: %s\n' "$key" >"$work/key.header"
  unset key
  attempt=1
  while :; do
    code="$(http GET /api/status -H "@$work/key.header")"
    case "$code" in 5??) ;; *) break ;; esac
    [ "$attempt" -ge 4 ] && break
    sleep "$(backoff "$attempt")"
    attempt=$((attempt + 1))
  done
  rm -f "$work/key.header"
  if [ "$code" = "200" ] && head -c 1 "$work/body" | grep -q '{'; then
    pass "status" "GET /api/status with the function key answered 200 ($(wc -c <"$work/body" | tr -d ' ') bytes of JSON)"
  else
    fail "status" "GET /api/status with the function key answered $code $(excerpt), not 200 with JSON."
  fi
  code="$(http GET /api/status)"
  if [ "$code" = "401" ]; then
    pass "status without key" "GET /api/status without a key answered 401"
  else
    fail "status without key" "GET /api/status without a key answered $code, not 401."
  fi
fi

# 4. The dashboard: with App Service Authentication on, an anonymous browser is redirected to the Entra sign-in (302);
# 503 means the platform did not turn it on for the app (WEBSITE_AUTH_ENABLED), 200 would mean no sign-in at all.
code="$(http GET /api/dashboard -H "Accept: text/html")"
location="$(header location)"
if [ -n "${DASHBOARD_CLIENT_ID:-}" ]; then
  case "$code" in
    302)
      case "$location" in
        */.auth/login/*) pass "dashboard" "GET /api/dashboard redirects to the sign-in (302 to ${location%%\?*})" ;;
        *) fail "dashboard" "302 to '$location', not to the sign-in (/.auth/login/aad)." ;;
      esac
      ;;
    503) fail "dashboard" "503: App Service Authentication is not active for the app although DASHBOARD_CLIENT_ID is" \
              "set; run 'azd provision', then check 'az webapp auth show -g $RG -n $AZURE_FUNCTION_APP_NAME'." ;;
    200) fail "dashboard" "200 without a sign-in: the dashboard must never be served anonymously." ;;
    *) fail "dashboard" "GET /api/dashboard answered $code $(excerpt), not a 302 to the sign-in." ;;
  esac
else
  case "$code" in
    503) pass "dashboard" "503 until App Service Authentication is set up (DASHBOARD_CLIENT_ID, docs/deploy.md step 7)" ;;
    302) pass "dashboard" "GET /api/dashboard redirects to the sign-in (302 to ${location%%\?*})" ;;
    *) fail "dashboard" "GET /api/dashboard answered $code $(excerpt); expected 503 before the sign-in is set up." ;;
  esac
fi

# 5. The Event Grid subscription that sends new models to model_created.
state="$("$AZ" eventgrid system-topic event-subscription show --subscription "$SUB" -g "$RG" \
         --system-topic-name "$AZURE_EVENTGRID_SYSTEM_TOPIC_NAME" -n model-created --query provisioningState -o tsv \
         2>/dev/null)"
if [ "$state" = "Succeeded" ]; then
  pass "event grid" "subscription model-created is Succeeded"
else
  fail "event grid" "subscription model-created is ${state:-missing}; run 'azd hooks run postdeploy'."
fi

# 6. Azure ML: the GPU cluster exists (0 nodes at rest) and the training image resolves.
compute="$("$AZ" resource show --subscription "$SUB" -g "$RG" --namespace Microsoft.MachineLearningServices \
           --parent "workspaces/$AZURE_ML_WORKSPACE_NAME" --resource-type computes -n "$AZURE_ML_COMPUTE_NAME" \
           --query "[properties.provisioningState, properties.properties.vmSize, properties.properties.vmPriority, to_string(properties.properties.scaleSettings.minNodeCount)]" \
           -o tsv 2>/dev/null)"
state="$(printf '%s\n' "$compute" | awk -F '\t' '{ print $1; exit }')"
if [ "$state" = "Succeeded" ]; then
  pass "ml compute" "$AZURE_ML_COMPUTE_NAME is Succeeded ($(printf '%s\n' "$compute" |
    awk -F '\t' '{ printf "%s %s, minimum %s nodes", $2, $3, $4; exit }'))"
else
  fail "ml compute" "$AZURE_ML_COMPUTE_NAME in $AZURE_ML_WORKSPACE_NAME is ${state:-missing}; run 'azd provision'."
fi
# The image is pulled as it is (no registry of ours, no build): its manifest must exist in its public registry.
image_host="${IMAGE%%/*}"
image_path="${IMAGE#*/}"
case "$image_path" in
  *:*) image_repo="${image_path%:*}"; image_tag="${image_path##*:}" ;;
  *) image_repo="$image_path"; image_tag=latest ;;
esac
code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 60 -I \
        -H "Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json" \
        "${SMOKE_REGISTRY_SCHEME:-https}://$image_host/v2/$image_repo/manifests/$image_tag" 2>/dev/null)"
if [ "$code" = "200" ]; then
  pass "ml environment" "the training image $IMAGE resolves"
else
  fail "ml environment" "the training image $IMAGE does not resolve (registry answered ${code:-nothing}); set" \
       "TRIAGE_AML_IMAGE to an existing tag (github.com/Azure/AzureML-Containers lists them)."
fi
if [ -n "${AZURE_CONTAINER_REGISTRY_NAME:-}" ]; then
  state="$("$AZ" acr show --subscription "$SUB" -g "$RG" -n "$AZURE_CONTAINER_REGISTRY_NAME" \
           --query provisioningState -o tsv 2>/dev/null)"
  if [ "$state" = "Succeeded" ]; then
    pass "ml registry" "$AZURE_CONTAINER_REGISTRY_NAME is Succeeded (images are built from conda.yml)"
  else
    fail "ml registry" "$AZURE_CONTAINER_REGISTRY_NAME is ${state:-missing}; run 'azd provision'."
  fi
fi

# 7. The budget, which the postprovision hook creates (and never lets fail a deployment).
count="$("$AZ" rest --method get \
         --url "/subscriptions/$SUB/resourceGroups/$RG/providers/Microsoft.Consumption/budgets?api-version=$BUDGET_API" \
         --query "length(value[?name=='budget-$AZURE_ENV_NAME'])" -o tsv 2>/dev/null)"
if [ "$count" = "1" ]; then
  pass "budget" "budget-$AZURE_ENV_NAME exists"
else
  fail "budget" "no budget-$AZURE_ENV_NAME in $RG; set TRIAGE_BUDGET_EMAILS, then 'azd hooks run postprovision'."
fi

# 8. Optional: a minimal GPU job, when asked for and when the quota allows one node.
if [ "${TRIAGE_SMOKE_JOB:-false}" = "true" ]; then
  . "$(dirname "$0")/aml_quota.sh"
  location="$(printf '%s' "${AZURE_LOCATION:-}" | tr '[:upper:]' '[:lower:]' | tr -d ' ')"
  aml_quota "$SUB" "$location" "${TRIAGE_GPU_VM_SIZE:-Standard_NC4as_T4_v3}" "${TRIAGE_GPU_VM_PRIORITY:-LowPriority}"
  if [ "$QUOTA" != "ok" ]; then
    skip "ml job" "$QUOTA_DETAIL"
  elif ! "$AZ" ml job --help >/dev/null 2>&1; then
    fail "ml job" "the Azure CLI's ml extension is missing: 'az extension add -n ml', then run the smoke test again."
  else
    cat >"$work/job.yml" <<EOF
\$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
command: nvidia-smi && python --version
environment:
  image: $IMAGE
compute: azureml:$AZURE_ML_COMPUTE_NAME
experiment_name: issue-triage-smoke
display_name: smoke test (infra/hooks/smoke.sh)
EOF
    if ! job="$("$AZ" ml job create --subscription "$SUB" -g "$RG" -w "$AZURE_ML_WORKSPACE_NAME" --file "$work/job.yml" \
                --query name -o tsv 2>"$work/job.err")" || [ -z "$job" ]; then
      fail "ml job" "could not submit: $(tail -n 1 "$work/job.err")"
    else
      limit="${TRIAGE_SMOKE_JOB_MINUTES:-30}"
      waited=0
      status=""
      while [ "$waited" -lt "$((limit * 60))" ]; do
        status="$("$AZ" ml job show --subscription "$SUB" -g "$RG" -w "$AZURE_ML_WORKSPACE_NAME" -n "$job" \
                  --query status -o tsv 2>/dev/null)"
        case "$status" in Completed | Failed | Canceled) break ;; esac
        sleep 30
        waited=$((waited + 30))
      done
      case "$status" in
        Completed) pass "ml job" "$job completed on $AZURE_ML_COMPUTE_NAME (about $((waited / 60)) minutes)" ;;
        Failed | Canceled) fail "ml job" "$job is $status; see its logs in Azure ML studio (experiment issue-triage-smoke)." ;;
        *)
          "$AZ" ml job cancel --subscription "$SUB" -g "$RG" -w "$AZURE_ML_WORKSPACE_NAME" -n "$job" >/dev/null 2>&1
          fail "ml job" "$job still ${status:-unknown} after $limit minutes, cancelled: no node could start" \
               "(quota, or low-priority capacity); see Azure ML studio."
          ;;
      esac
    fi
  fi
fi

echo "smoke: $passed passed, $failed failed, $skipped skipped ($URL)"
[ "$failed" -eq 0 ]
