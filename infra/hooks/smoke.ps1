# Smoke test of a deployed issue-triage, end to end, without writing anything to GitHub or to the app's data: one line
# per check, PASS, FAIL or SKIP (with the reason and what to do), then a summary; exit status 1 if anything failed.
# smoke.sh is the POSIX twin (same checks, same messages); the postdeploy hook runs this one on Windows.
#
# Run it again at any time with the azd environment loaded: azd hooks run postdeploy (also re-creates the Event Grid
# subscription; idempotent), or load `azd env get-values` into the environment and run: pwsh infra/hooks/smoke.ps1
# TRIAGE_SMOKE_JOB=true also submits a one-minute GPU job (nvidia-smi) to the cluster when the quota allows one node;
# it costs a few cents of GPU time. Nothing else creates anything.
#
# The webhook's HMAC is computed in process (HMACSHA256), so the secret read from Key Vault is never on a command line.
$ErrorActionPreference = 'Stop'

. "$PSScriptRoot/require.ps1"
Assert-AzdEnv 'AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP', 'AZURE_ENV_NAME', 'AZURE_FUNCTION_APP_NAME',
              'AZURE_FUNCTION_APP_URL', 'AZURE_KEY_VAULT_NAME', 'AZURE_KEY_VAULT_WEBHOOK_SECRET',
              'AZURE_EVENTGRID_SYSTEM_TOPIC_NAME', 'AZURE_ML_WORKSPACE_NAME', 'AZURE_ML_COMPUTE_NAME'
Assert-AzCli postdeploy

$Url = $env:AZURE_FUNCTION_APP_URL.TrimEnd('/')
$Sub = $env:AZURE_SUBSCRIPTION_ID
$Rg = $env:AZURE_RESOURCE_GROUP
$App = $env:AZURE_FUNCTION_APP_NAME
# The training job's base image: keep in step with DEFAULT_IMAGE of the app's Azure ML adapter (a test checks).
$Image = if ($env:TRIAGE_AML_IMAGE) { $env:TRIAGE_AML_IMAGE } else { 'mcr.microsoft.com/azureml/openmpi5.0-cuda12.4-ubuntu22.04:latest' }
$BudgetApi = '2023-11-01'

$script:passed = 0
$script:failed = 0
$script:skipped = 0
function Pass([string]$Check, [string]$Message) { Write-Host "PASS  ${Check}: $Message"; $script:passed++ }
function Fail([string]$Check, [string]$Message) { Write-Host "FAIL  ${Check}: $Message"; $script:failed++ }
function Skip([string]$Check, [string]$Message) { Write-Host "SKIP  ${Check}: $Message"; $script:skipped++ }

# Invoke-Http METHOD PATH [HEADERS] [BODY]: Code (0 when nothing answered), Body, Location. Never follows redirects.
function Invoke-Http([string]$Method, [string]$Uri, [hashtable]$Headers = @{}, [byte[]]$Body = $null) {
    $request = @{ Uri = $Uri; Method = $Method; Headers = $Headers; MaximumRedirection = 0; SkipHttpErrorCheck = $true
                  TimeoutSec = 60; UseBasicParsing = $true }
    if ($null -ne $Body) { $request.Body = $Body; $request.ContentType = 'application/json' }
    try {
        $response = Invoke-WebRequest @request
        return [pscustomobject]@{ Code = [int]$response.StatusCode; Body = "$($response.Content)"; Location = "$($response.Headers['Location'])" }
    }
    catch {
        $response = $_.Exception.Response
        if ($response) {
            return [pscustomobject]@{ Code = [int]$response.StatusCode; Body = ''; Location = "$($response.Headers.Location)" }
        }
        return [pscustomobject]@{ Code = 0; Body = $_.Exception.Message; Location = '' }
    }
}
function Get-Excerpt([string]$Text) { $t = ($Text -replace "[`r`n]", ''); if ($t.Length -gt 120) { $t.Substring(0, 120) } else { $t } }

# 1. Health: anonymous; Flex Consumption may be starting an instance, so it is retried with backoff.
for ($attempt = 1; ; $attempt++) {
    $r = Invoke-Http GET "$Url/api/health"
    if ($r.Code -eq 200 -or $attempt -ge 5) { break }
    Start-Sleep -Seconds (Get-Backoff $attempt)
}
if ($r.Code -eq 200 -and $r.Body -match '"status"') {
    Pass 'health' "GET /api/health answered 200 $(Get-Excerpt $r.Body)"
}
else {
    Fail 'health' "GET /api/health answered $($r.Code) after $attempt tries $(Get-Excerpt $r.Body); see the app's logs in Application Insights."
}

# 2. The GitHub webhook: a signed `ping` is accepted, an unsigned one refused. A ping touches no repository.
$secret = Invoke-Tool $Az @('keyvault', 'secret', 'show', '--subscription', $Sub, '--vault-name', $env:AZURE_KEY_VAULT_NAME,
    '--name', $env:AZURE_KEY_VAULT_WEBHOOK_SECRET, '--query', 'value', '-o', 'tsv')
if ($secret.Code -ne 0) {
    $reason = if ($secret.Err -match 'notfound') {
        "no $($env:AZURE_KEY_VAULT_WEBHOOK_SECRET) in $($env:AZURE_KEY_VAULT_NAME) yet (docs/deploy.md step 3)"
    }
    else {
        "cannot read $($env:AZURE_KEY_VAULT_WEBHOOK_SECRET) from $($env:AZURE_KEY_VAULT_NAME) (Key Vault Secrets Officer needed)"
    }
    Skip 'webhook signed ping' $reason
    Skip 'webhook unsigned ping' $reason
}
else {
    $ping = [Text.Encoding]::UTF8.GetBytes('{"zen":"Smoke test from infra/hooks/smoke.sh.","hook_id":0}')
    $hmac = [System.Security.Cryptography.HMACSHA256]::new([Text.Encoding]::UTF8.GetBytes(($secret.Out | Select-Object -First 1)))
    $signature = -join ($hmac.ComputeHash($ping) | ForEach-Object { $_.ToString('x2') })
    $hmac.Dispose()
    $delivery = "smoke-$((Get-Date).ToUniversalTime().ToString('yyyyMMddTHHmmssZ'))-$PID"
    $r = Invoke-Http POST "$Url/api/github/webhook" @{ 'X-GitHub-Event' = 'ping'; 'X-GitHub-Delivery' = $delivery
                                                       'X-Hub-Signature-256' = "sha256=$signature" } $ping
    if ($r.Code -eq 200) {
        Pass 'webhook signed ping' "POST /api/github/webhook with a valid signature answered 200 $(Get-Excerpt $r.Body)"
    }
    else {
        Fail 'webhook signed ping' ("answered $($r.Code) $(Get-Excerpt $r.Body), not 200: the app does not have the secret of Key Vault yet; " +
                                    "restart it ('az functionapp restart -g $Rg -n $App') so that it resolves the reference.")
    }
    $r = Invoke-Http POST "$Url/api/github/webhook" @{ 'X-GitHub-Event' = 'ping'; 'X-GitHub-Delivery' = "$delivery-unsigned" } $ping
    if ($r.Code -eq 401) {
        Pass 'webhook unsigned ping' 'POST /api/github/webhook without a signature answered 401'
    }
    else {
        Fail 'webhook unsigned ping' "answered $($r.Code) $(Get-Excerpt $r.Body), not 401: unsigned deliveries must be refused."
    }
}

# 3. /api/status needs a function key: 200 with the default key, 401 without. It reads Cosmos DB and storage, whose
# role assignments can take minutes to apply after a first provision, so a 5xx is retried with backoff.
$keys = Invoke-Tool $Az @('functionapp', 'keys', 'list', '--subscription', $Sub, '-g', $Rg, '-n', $App,
    '--query', 'functionKeys.default', '-o', 'tsv')
$key = $keys.Out | Select-Object -First 1
if ($keys.Code -ne 0 -or -not $key) {
    Fail 'status' 'cannot read the app''s function keys (az functionapp keys list); is the host running?'
}
else {
    for ($attempt = 1; ; $attempt++) {
        $r = Invoke-Http GET "$Url/api/status" @{ 'x-functions-key' = $key }
        if ($r.Code -lt 500 -or $attempt -ge 4) { break }
        Start-Sleep -Seconds (Get-Backoff $attempt)
    }
    if ($r.Code -eq 200 -and $r.Body.TrimStart().StartsWith('{')) {
        Pass 'status' "GET /api/status with the function key answered 200 ($($r.Body.Length) bytes of JSON)"
    }
    else {
        Fail 'status' "GET /api/status with the function key answered $($r.Code) $(Get-Excerpt $r.Body), not 200 with JSON."
    }
    $r = Invoke-Http GET "$Url/api/status"
    if ($r.Code -eq 401) {
        Pass 'status without key' 'GET /api/status without a key answered 401'
    }
    else {
        Fail 'status without key' "GET /api/status without a key answered $($r.Code), not 401."
    }
}

# 4. The dashboard: with App Service Authentication on, an anonymous browser is redirected to the Entra sign-in (302);
# 503 means the platform did not turn it on for the app (WEBSITE_AUTH_ENABLED), 200 would mean no sign-in at all.
$r = Invoke-Http GET "$Url/api/dashboard" @{ 'Accept' = 'text/html' }
$target = ($r.Location -split '\?')[0]
if ($env:DASHBOARD_CLIENT_ID) {
    switch ($r.Code) {
        302 {
            if ($r.Location -like '*/.auth/login/*') { Pass 'dashboard' "GET /api/dashboard redirects to the sign-in (302 to $target)" }
            else { Fail 'dashboard' "302 to '$($r.Location)', not to the sign-in (/.auth/login/aad)." }
        }
        503 {
            Fail 'dashboard' ("503: App Service Authentication is not active for the app although DASHBOARD_CLIENT_ID is set; " +
                              "run 'azd provision', then check 'az webapp auth show -g $Rg -n $App'.")
        }
        200 { Fail 'dashboard' '200 without a sign-in: the dashboard must never be served anonymously.' }
        default { Fail 'dashboard' "GET /api/dashboard answered $($r.Code) $(Get-Excerpt $r.Body), not a 302 to the sign-in." }
    }
}
else {
    switch ($r.Code) {
        503 { Pass 'dashboard' '503 until App Service Authentication is set up (DASHBOARD_CLIENT_ID, docs/deploy.md step 7)' }
        302 { Pass 'dashboard' "GET /api/dashboard redirects to the sign-in (302 to $target)" }
        default { Fail 'dashboard' "GET /api/dashboard answered $($r.Code) $(Get-Excerpt $r.Body); expected 503 before the sign-in is set up." }
    }
}

# 5. The Event Grid subscription that sends new models to model_created.
$state = (Invoke-Tool $Az @('eventgrid', 'system-topic', 'event-subscription', 'show', '--subscription', $Sub, '-g', $Rg,
    '--system-topic-name', $env:AZURE_EVENTGRID_SYSTEM_TOPIC_NAME, '-n', 'model-created', '--query', 'provisioningState',
    '-o', 'tsv')).Out | Select-Object -First 1
if ($state -eq 'Succeeded') {
    Pass 'event grid' 'subscription model-created is Succeeded'
}
else {
    Fail 'event grid' "subscription model-created is $(if ($state) { $state } else { 'missing' }); run 'azd hooks run postdeploy'."
}

# 6. Azure ML: the GPU cluster exists (0 nodes at rest) and the training image resolves.
$compute = (Invoke-Tool $Az @('resource', 'show', '--subscription', $Sub, '-g', $Rg, '--namespace', 'Microsoft.MachineLearningServices',
    '--parent', "workspaces/$($env:AZURE_ML_WORKSPACE_NAME)", '--resource-type', 'computes', '-n', $env:AZURE_ML_COMPUTE_NAME,
    '--query', '[properties.provisioningState, properties.properties.vmSize, properties.properties.vmPriority, to_string(properties.properties.scaleSettings.minNodeCount)]',
    '-o', 'tsv')).Out | Select-Object -First 1
$field = "$compute" -split "`t"
if ($field[0] -eq 'Succeeded') {
    Pass 'ml compute' "$($env:AZURE_ML_COMPUTE_NAME) is Succeeded ($($field[1]) $($field[2]), minimum $($field[3]) nodes)"
}
else {
    Fail 'ml compute' "$($env:AZURE_ML_COMPUTE_NAME) in $($env:AZURE_ML_WORKSPACE_NAME) is $(if ($field[0]) { $field[0] } else { 'missing' }); run 'azd provision'."
}
# The image is pulled as it is (no registry of ours, no build): its manifest must exist in its public registry.
$imageHost, $imagePath = $Image -split '/', 2
if ($imagePath -match '^(.+):([^:/]+)$') { $imageRepo = $Matches[1]; $imageTag = $Matches[2] } else { $imageRepo = $imagePath; $imageTag = 'latest' }
$scheme = if ($env:SMOKE_REGISTRY_SCHEME) { $env:SMOKE_REGISTRY_SCHEME } else { 'https' }
$accept = 'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json'
$r = Invoke-Http HEAD "${scheme}://$imageHost/v2/$imageRepo/manifests/$imageTag" @{ 'Accept' = $accept }
if ($r.Code -eq 200) {
    Pass 'ml environment' "the training image $Image resolves"
}
else {
    Fail 'ml environment' ("the training image $Image does not resolve (registry answered $($r.Code)); set " +
                           'TRIAGE_AML_IMAGE to an existing tag (github.com/Azure/AzureML-Containers lists them).')
}
if ($env:AZURE_CONTAINER_REGISTRY_NAME) {
    $state = (Invoke-Tool $Az @('acr', 'show', '--subscription', $Sub, '-g', $Rg, '-n', $env:AZURE_CONTAINER_REGISTRY_NAME,
        '--query', 'provisioningState', '-o', 'tsv')).Out | Select-Object -First 1
    if ($state -eq 'Succeeded') {
        Pass 'ml registry' "$($env:AZURE_CONTAINER_REGISTRY_NAME) is Succeeded (images are built from conda.yml)"
    }
    else {
        Fail 'ml registry' "$($env:AZURE_CONTAINER_REGISTRY_NAME) is $(if ($state) { $state } else { 'missing' }); run 'azd provision'."
    }
}

# 7. The budget, which the postprovision hook creates (and never lets fail a deployment).
$count = (Invoke-Tool $Az @('rest', '--method', 'get',
    '--url', "/subscriptions/$Sub/resourceGroups/$Rg/providers/Microsoft.Consumption/budgets?api-version=$BudgetApi",
    '--query', "length(value[?name=='budget-$($env:AZURE_ENV_NAME)'])", '-o', 'tsv')).Out | Select-Object -First 1
if ($count -eq '1') {
    Pass 'budget' "budget-$($env:AZURE_ENV_NAME) exists"
}
else {
    Fail 'budget' "no budget-$($env:AZURE_ENV_NAME) in $Rg; set TRIAGE_BUDGET_EMAILS, then 'azd hooks run postprovision'."
}

# 8. Optional: a minimal GPU job, when asked for and when the quota allows one node.
if ($env:TRIAGE_SMOKE_JOB -eq 'true') {
    . "$PSScriptRoot/aml_quota.ps1"
    $location = ("$($env:AZURE_LOCATION)".ToLower() -replace ' ', '')
    $size = if ($env:TRIAGE_GPU_VM_SIZE) { $env:TRIAGE_GPU_VM_SIZE } else { 'Standard_NC4as_T4_v3' }
    $priority = if ($env:TRIAGE_GPU_VM_PRIORITY) { $env:TRIAGE_GPU_VM_PRIORITY } else { 'LowPriority' }
    $quota = Get-AmlQuota $Sub $location $size $priority
    if ($quota.State -ne 'ok') {
        Skip 'ml job' $quota.Detail
    }
    elseif ((Invoke-Tool $Az @('ml', 'job', '--help')).Code -ne 0) {
        Fail 'ml job' "the Azure CLI's ml extension is missing: 'az extension add -n ml', then run the smoke test again."
    }
    else {
        $jobFile = (New-TemporaryFile).FullName + '.yml'
        @(
            '$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json'
            'type: command'
            'command: nvidia-smi && python --version'
            'environment:'
            "  image: $Image"
            "compute: azureml:$($env:AZURE_ML_COMPUTE_NAME)"
            'experiment_name: issue-triage-smoke'
            'display_name: smoke test (infra/hooks/smoke.ps1)'
        ) | Set-Content -Path $jobFile -Encoding utf8
        $created = Invoke-Tool $Az @('ml', 'job', 'create', '--subscription', $Sub, '-g', $Rg, '-w', $env:AZURE_ML_WORKSPACE_NAME,
            '--file', $jobFile, '--query', 'name', '-o', 'tsv')
        Remove-Item -Force $jobFile -ErrorAction SilentlyContinue
        $job = $created.Out | Select-Object -First 1
        if ($created.Code -ne 0 -or -not $job) {
            Fail 'ml job' "could not submit: $(($created.Err -split "`n" | Where-Object { $_ } | Select-Object -Last 1))"
        }
        else {
            $limit = if ($env:TRIAGE_SMOKE_JOB_MINUTES) { [int]$env:TRIAGE_SMOKE_JOB_MINUTES } else { 30 }
            $waited = 0
            $status = ''
            while ($waited -lt $limit * 60) {
                $status = (Invoke-Tool $Az @('ml', 'job', 'show', '--subscription', $Sub, '-g', $Rg, '-w', $env:AZURE_ML_WORKSPACE_NAME,
                    '-n', $job, '--query', 'status', '-o', 'tsv')).Out | Select-Object -First 1
                if ($status -in 'Completed', 'Failed', 'Canceled') { break }
                Start-Sleep -Seconds 30
                $waited += 30
            }
            if ($status -eq 'Completed') {
                Pass 'ml job' "$job completed on $($env:AZURE_ML_COMPUTE_NAME) (about $([int]($waited / 60)) minutes)"
            }
            elseif ($status -in 'Failed', 'Canceled') {
                Fail 'ml job' "$job is $status; see its logs in Azure ML studio (experiment issue-triage-smoke)."
            }
            else {
                Invoke-Tool $Az @('ml', 'job', 'cancel', '--subscription', $Sub, '-g', $Rg, '-w', $env:AZURE_ML_WORKSPACE_NAME, '-n', $job) | Out-Null
                Fail 'ml job' ("$job still $(if ($status) { $status } else { 'unknown' }) after $limit minutes, cancelled: no node could start " +
                               '(quota, or low-priority capacity); see Azure ML studio.')
            }
        }
    }
}

Write-Host "smoke: $($script:passed) passed, $($script:failed) failed, $($script:skipped) skipped ($Url)"
if ($script:failed -gt 0) { exit 1 }
exit 0
