# azd postdeploy hook: subscribe the model_created function to BlobCreated events of models/**/manifest.json.
#
# The Event Grid webhook URL needs the host's blobs_extension system key, which exists only after the code with
# the Event Grid blob trigger is deployed and the host has started; hence this step runs after `azd deploy`, not
# in the first `azd provision`. It wakes the host, waits for the key (never printing it), deploys
# infra/modules/model-events.bicep (which reads the key itself with listKeys), and sets ENABLE_MODEL_EVENTS=true so
# that later `azd provision` runs keep the subscription. Rerun it alone with: azd hooks run postdeploy
$ErrorActionPreference = 'Stop'

if ($env:ENABLE_MODEL_EVENTS -eq 'true') {
    Write-Host 'Event Grid subscription model-created is managed by azd provision (ENABLE_MODEL_EVENTS=true).'
    exit 0
}
. "$PSScriptRoot/require.ps1"
Assert-AzdEnv 'AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'AZURE_FUNCTION_APP_URL',
              'AZURE_EVENTGRID_SYSTEM_TOPIC_NAME'
Assert-AzCli postdeploy

Write-Host 'Waiting for the Functions host to create its blobs_extension system key...'
$present = 'false'
for ($try = 0; $try -lt 30; $try++) {
    try { Invoke-WebRequest -Uri "$($env:AZURE_FUNCTION_APP_URL)/api/health" -TimeoutSec 60 -UseBasicParsing | Out-Null } catch { }
    $present = az functionapp keys list --subscription $env:AZURE_SUBSCRIPTION_ID -g $env:AZURE_RESOURCE_GROUP `
        -n $env:AZURE_FUNCTION_APP_NAME --query 'systemKeys.blobs_extension != null' -o tsv 2>$null
    if ($present -eq 'true') { break }
    Start-Sleep -Seconds 10
}
if ($present -ne 'true') {
    Write-Error "No blobs_extension key after 5 minutes; check the app's logs, then 'azd hooks run postdeploy'."
}

Write-Host 'Creating the Event Grid subscription model-created...'
az deployment group create --subscription $env:AZURE_SUBSCRIPTION_ID -g $env:AZURE_RESOURCE_GROUP --name model-events `
    --template-file infra/modules/model-events.bicep `
    --parameters systemTopicName=$env:AZURE_EVENTGRID_SYSTEM_TOPIC_NAME functionAppName=$env:AZURE_FUNCTION_APP_NAME `
    --output none
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
azd env set ENABLE_MODEL_EVENTS true
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host 'Done: new models/**/manifest.json blobs now reach model_created.'
