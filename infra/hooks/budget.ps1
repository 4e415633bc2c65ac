# Create or update the resource group's monthly budget (infra/modules/budget.bicep); run by the postprovision hook.
# budget.sh is the POSIX twin and says why this is a hook rather than part of main.bicep: a budget's start date cannot
# be updated (Azure/bicep#7149) and redeploying it in a later month is reported to fail whatever the start date
# (Azure/azure-quickstart-templates#7095). Idempotent by construction:
#   - no budget named budget-<env> in the resource group: create it, starting on the first day of the current month;
#   - one with the same amount and recipients: leave it alone (no request that could be refused);
#   - one with another amount or recipients: redeploy it with the start date it already has.
# A failure here is a warning, never a failed `azd provision`; the smoke test reports a missing budget.
$ErrorActionPreference = 'Stop'

. "$PSScriptRoot/require.ps1"
Assert-AzdEnv 'AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP', 'AZURE_ENV_NAME'
Assert-AzCli postprovision

$BudgetApi = '2023-11-01'
$name = "budget-$($env:AZURE_ENV_NAME)"
$amount = if ($env:TRIAGE_BUDGET_AMOUNT) { $env:TRIAGE_BUDGET_AMOUNT } else { '30' }
$emails = "$($env:TRIAGE_BUDGET_EMAILS)" -replace ' ', ''
$template = Join-Path $PSScriptRoot '../modules/budget.bicep'

function Write-BudgetWarning([string]$Message) {
    Write-Warning "$Message Fix it, then run 'azd hooks run postprovision' again."
    exit 0
}

if (-not $emails) {
    Write-BudgetWarning "no budget: TRIAGE_BUDGET_EMAILS is not set ('azd env set TRIAGE_BUDGET_EMAILS you@example.com')."
}
if ($amount -notmatch '^[0-9]+$' -or [int]$amount -eq 0) {
    Write-BudgetWarning "no budget: TRIAGE_BUDGET_AMOUNT=$amount is not a whole number above 0."
}

# The budget as it is: "startDate<TAB>amount<TAB>recipients" or nothing. A failed listing is retried and never taken
# for "absent" (creating over an existing budget with another start date is exactly what the API refuses).
$url = "/subscriptions/$($env:AZURE_SUBSCRIPTION_ID)/resourceGroups/$($env:AZURE_RESOURCE_GROUP)/providers/Microsoft.Consumption/budgets?api-version=$BudgetApi"
$query = "value[?name=='$name'] | [0].[properties.timePeriod.startDate, to_string(properties.amount), to_string(properties.notifications.actual80.contactEmails)]"
for ($attempt = 1; ; $attempt++) {
    $listing = Invoke-Tool $Az @('rest', '--method', 'get', '--url', $url, '--query', $query, '-o', 'tsv')
    if ($listing.Code -eq 0) { break }
    if ($attempt -ge 3) {
        Write-BudgetWarning "budget $name not checked: the budgets of $($env:AZURE_RESOURCE_GROUP) could not be listed."
    }
    Start-Sleep -Seconds (Get-Backoff $attempt)
}

$current = $listing.Out | Where-Object { $_ } | Select-Object -First 1
if (-not $current) {
    $start = (Get-Date).ToUniversalTime().ToString('yyyy-MM-01')
    $action = "created (monthly, from $start)"
}
else {
    $field = $current -split "`t"
    $start = $field[0].Substring(0, 10)
    $haveAmount = [string][int][double]$field[1]
    $haveEmails = $field[2] -replace '[\[\]" ]', ''
    if ($haveAmount -eq $amount -and $haveEmails -eq $emails) {
        Write-Host "Budget $name kept: $amount a month from $start, alerts to $emails."
        exit 0
    }
    $action = "updated (its start date $start kept)"
}

$deploy = Invoke-Tool $Az @('deployment', 'group', 'create', '--subscription', $env:AZURE_SUBSCRIPTION_ID,
    '-g', $env:AZURE_RESOURCE_GROUP, '--name', 'budget', '--template-file', $template,
    '--parameters', "budgetName=$name", "amount=$amount", "contactEmails=$emails", "startDate=$start", '--output', 'none')
if ($deploy.Code -ne 0) {
    [Console]::Error.WriteLine($deploy.Err)
    Write-BudgetWarning ("budget $name was not $action (see the error above). If the API refuses its start date, delete " +
                         'the budget (portal > Cost Management > Budgets) so that it is created afresh.')
}
Write-Host "Budget $name ${action}: $amount a month, alerts to $emails at 80 % of actual and 100 % of forecast spend."
