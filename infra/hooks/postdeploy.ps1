# azd postdeploy hook, after every `azd deploy` (and `azd up`); postdeploy.sh is the POSIX twin and says more:
#  1. subscribe model_created to BlobCreated events of models/**/manifest.json (infra/modules/model-events.bicep);
#  2. run the smoke test (smoke.ps1) against the deployed app.
#
# 1. The Event Grid webhook URL needs the host's blobs_extension system key, which exists only once the code runs, so the
# subscription is created here and never by `azd provision`. Deploying it is idempotent; it is retried with backoff,
# because listKeys on a restarting host answers ServiceUnavailable (Azure/azure-functions-host#5722) and Event Grid's
# validation handshake can reach a cold instance. The key is never printed. Rerun it alone with: azd hooks run postdeploy
$ErrorActionPreference = 'Stop'

. "$PSScriptRoot/require.ps1"
Assert-AzdEnv 'AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'AZURE_FUNCTION_APP_URL',
              'AZURE_EVENTGRID_SYSTEM_TOPIC_NAME'
Assert-AzCli postdeploy

$Attempts = if ($env:TRIAGE_EVENTGRID_ATTEMPTS) { [int]$env:TRIAGE_EVENTGRID_ATTEMPTS } else { 6 }
$template = Join-Path $PSScriptRoot '../modules/model-events.bicep'

# Send-WakeRequest: an anonymous request that makes Flex Consumption start an instance (the answer does not matter).
function Send-WakeRequest {
    try { Invoke-WebRequest -Uri "$($env:AZURE_FUNCTION_APP_URL)/api/health" -TimeoutSec 60 -UseBasicParsing | Out-Null } catch { }
}

Write-Host 'Waiting for the Functions host to create its blobs_extension system key...'
for ($try = 1; ; $try++) {
    Send-WakeRequest
    $keys = Invoke-Tool $Az @('functionapp', 'keys', 'list', '--subscription', $env:AZURE_SUBSCRIPTION_ID,
        '-g', $env:AZURE_RESOURCE_GROUP, '-n', $env:AZURE_FUNCTION_APP_NAME,
        '--query', 'systemKeys.blobs_extension != null', '-o', 'tsv')
    if ($keys.Out -contains 'true') { break }
    if ($try -ge 30) {
        [Console]::Error.WriteLine("error: no blobs_extension key after 5 minutes; check the app's logs, then 'azd hooks run postdeploy'.")
        exit 1
    }
    Start-Sleep -Seconds 10
}

Write-Host 'Creating or updating the Event Grid subscription model-created...'
for ($attempt = 1; ; $attempt++) {
    Send-WakeRequest
    $deploy = Invoke-Tool $Az @('deployment', 'group', 'create', '--subscription', $env:AZURE_SUBSCRIPTION_ID,
        '-g', $env:AZURE_RESOURCE_GROUP, '--name', 'model-events', '--template-file', $template,
        '--parameters', "systemTopicName=$($env:AZURE_EVENTGRID_SYSTEM_TOPIC_NAME)", "functionAppName=$($env:AZURE_FUNCTION_APP_NAME)",
        '--output', 'none')
    if ($deploy.Code -eq 0) {
        $state = (Invoke-Tool $Az @('eventgrid', 'system-topic', 'event-subscription', 'show',
            '--subscription', $env:AZURE_SUBSCRIPTION_ID, '-g', $env:AZURE_RESOURCE_GROUP,
            '--system-topic-name', $env:AZURE_EVENTGRID_SYSTEM_TOPIC_NAME, '-n', 'model-created',
            '--query', 'provisioningState', '-o', 'tsv')).Out | Select-Object -First 1
        if ($state -eq 'Succeeded') { break }
        $shown = if ($state) { $state } else { 'not readable' }
        [Console]::Error.WriteLine("Attempt ${attempt}: the subscription is $shown, not Succeeded.")
    }
    else {
        # The deployment's error can quote the webhook URL; its key is masked before anything is shown.
        [Console]::Error.WriteLine("Attempt $attempt failed:")
        [Console]::Error.WriteLine((Hide-Keys (($deploy.Err -split "`n" | Select-Object -Last 5) -join "`n")))
    }
    if ($attempt -ge $Attempts) {
        [Console]::Error.WriteLine(("error: the Event Grid subscription model-created failed $attempt times; check the app's logs " +
            "(the host must answer Event Grid's validation handshake on /runtime/webhooks/blobs), then 'azd hooks run postdeploy'."))
        exit 1
    }
    $delay = Get-Backoff $attempt
    Write-Host "Retrying in ${delay}s (a restarting or cold host answers listKeys and the validation handshake late)..."
    Start-Sleep -Seconds $delay
}
Write-Host 'Done: new models/**/manifest.json blobs now reach model_created.'

if ($env:TRIAGE_SKIP_SMOKE -eq 'true') {
    Write-Host 'Smoke test skipped (TRIAGE_SKIP_SMOKE=true); run it with: pwsh infra/hooks/smoke.ps1'
    exit 0
}
$smoke = if ($env:SMOKE) { $env:SMOKE } else { Join-Path $PSScriptRoot 'smoke.ps1' }
& $smoke
exit $LASTEXITCODE
