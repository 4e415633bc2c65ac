# azd preprovision hook: pre-flight checks before anything is created, each stopping with a message that says what to
# change: the azd version, the values azd does not ask for, the Azure CLI's sign-in, the region's Flex Consumption
# support, and the Azure ML quota for one node of the GPU size. It only reads (no `azd env set`, no change in Azure), so
# it can run any number of times; rerun it alone with: azd hooks run preprovision. preprovision.sh is the POSIX twin.
$ErrorActionPreference = 'Stop'

. "$PSScriptRoot/require.ps1"

# Keep in step with requiredVersions in azure.yaml: 1.21.0 reloads the environment before it reads the parameters
# (Azure/azure-dev#6063), 1.23.5 knows `remoteBuild` for Flex Consumption apps (Azure/azure-dev#6748).
$MinAzdVersion = '1.23.5'
$GpuVmSize = if ($env:TRIAGE_GPU_VM_SIZE) { $env:TRIAGE_GPU_VM_SIZE } else { 'Standard_NC4as_T4_v3' }
$GpuVmPriority = if ($env:TRIAGE_GPU_VM_PRIORITY) { $env:TRIAGE_GPU_VM_PRIORITY } else { 'LowPriority' }

function Stop-Preflight([string]$Message) {
    [Console]::Error.WriteLine("error: $Message")
    exit 1
}

# 1. azd itself (azd also enforces azure.yaml's requiredVersions; this says what to do about it).
if (-not (Get-Command $Azd -ErrorAction SilentlyContinue)) {
    Stop-Preflight "azd is not on the PATH; install the Azure Developer CLI $MinAzdVersion or later (https://aka.ms/azd-install)."
}
$azdVersion = ''
if (((Invoke-Tool $Azd @('version')).Out -join "`n") -match 'azd version (\d+(\.\d+){1,3})') { $azdVersion = $Matches[1] }
if (-not $azdVersion -or ([version]$azdVersion -lt [version]$MinAzdVersion)) {
    $shown = if ($azdVersion) { $azdVersion } else { '(unknown version)' }
    Stop-Preflight ("azd $shown is too old: this project needs azd $MinAzdVersion or later (https://aka.ms/azd-install); " +
                    "older versions do not reload values set by hooks before provisioning.")
}
Write-Host "ok: azd $azdVersion"

# 2. Values azd cannot ask for (they are not parameters of main.bicep) and the ones the checks below need.
if (-not $env:TRIAGE_BUDGET_EMAILS) {
    Stop-Preflight ("TRIAGE_BUDGET_EMAILS is not set: it receives the budget's alerts. Run " +
                    "'azd env set TRIAGE_BUDGET_EMAILS you@example.com' (comma-separated for several).")
}
foreach ($name in 'AZURE_SUBSCRIPTION_ID', 'AZURE_LOCATION') {
    if (-not [Environment]::GetEnvironmentVariable($name)) {
        Stop-Preflight ("$name is not set yet: run 'azd env set $name <value>' (or 'azd up', which asks for the " +
                        "subscription and the region before this check).")
    }
}
$location = ($env:AZURE_LOCATION.ToLower() -replace ' ', '')

# 3. The Azure CLI (the hooks use it) is installed and signed in to this subscription.
Assert-AzCli preprovision
if ((Invoke-Tool $Az @('account', 'show', '--subscription', $env:AZURE_SUBSCRIPTION_ID, '--query', 'id', '-o', 'tsv')).Code -ne 0) {
    Stop-Preflight ("the Azure CLI is not signed in to subscription $($env:AZURE_SUBSCRIPTION_ID): run 'az login' " +
                    "(and 'az account set --subscription $($env:AZURE_SUBSCRIPTION_ID)'), then 'azd hooks run preprovision'.")
}
Write-Host "ok: az signed in to $($env:AZURE_SUBSCRIPTION_ID)"

# 4. The region offers Flex Consumption.
$flex = Invoke-Tool $Az @('functionapp', 'list-flexconsumption-locations', '--query', '[].name', '-o', 'tsv')
if ($flex.Code -ne 0) {
    Stop-Preflight ("could not list the Flex Consumption regions ('az functionapp list-flexconsumption-locations'); " +
                    "update the Azure CLI ('az upgrade') and retry.")
}
$flexLocations = @($flex.Out | ForEach-Object { $_.Trim().ToLower() } | Where-Object { $_ })
if ($flexLocations -notcontains $location) {
    Stop-Preflight ("region $location does not offer Flex Consumption. Choose one that does, for example: " +
                    "$(($flexLocations | Select-Object -First 12) -join ' ') - then 'azd env set AZURE_LOCATION <region>' " +
                    "(a region that also has Azure ML quota for $GpuVmSize).")
}
Write-Host "ok: Flex Consumption is offered in $location"

# 5. Azure ML offers the GPU size there, with quota for one node of it (aml_quota.sh says where that is read).
if ($env:TRIAGE_SKIP_QUOTA_CHECK -eq 'true') {
    Write-Host 'warning: Azure ML quota not checked (TRIAGE_SKIP_QUOTA_CHECK=true); training jobs wait until quota is granted.'
    exit 0
}
if ($GpuVmPriority -notin 'LowPriority', 'Dedicated') {
    Stop-Preflight "TRIAGE_GPU_VM_PRIORITY=$GpuVmPriority is neither LowPriority nor Dedicated ('azd env set TRIAGE_GPU_VM_PRIORITY LowPriority')."
}
. "$PSScriptRoot/aml_quota.ps1"
$quota = Get-AmlQuota $env:AZURE_SUBSCRIPTION_ID $location $GpuVmSize $GpuVmPriority
switch ($quota.State) {
    'ok' { Write-Host "ok: $($quota.Detail)" }
    'unknown' { Write-Host "warning: $($quota.Detail) Check it in Azure ML studio > Quota." }
    'error' { Stop-Preflight $quota.Detail }
    default {
        Stop-Preflight ("$($quota.Detail) The cluster would be created but its training jobs would never start. " +
                        "Request quota (Azure ML studio > Quota, or 'az quota'), or change what you ask for: " +
                        "'azd env set TRIAGE_GPU_VM_PRIORITY Dedicated' (or LowPriority), 'azd env set TRIAGE_GPU_VM_SIZE <size>' " +
                        "or 'azd env set AZURE_LOCATION <region>'. To provision anyway while a request is pending: " +
                        "'azd env set TRIAGE_SKIP_QUOTA_CHECK true'.")
    }
}
