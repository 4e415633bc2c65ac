# azd preprovision hook: pin the budget's start month once per environment.
# The Consumption API refuses to change a budget's start date, so it must not follow the calendar
# on later `azd provision` runs (main.bicep budgetStartDate <- TRIAGE_BUDGET_START_DATE).
$ErrorActionPreference = 'Stop'

if (-not $env:TRIAGE_BUDGET_START_DATE) {
    $start = (Get-Date).ToUniversalTime().ToString('yyyy-MM-01')
    azd env set TRIAGE_BUDGET_START_DATE $start
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    Write-Host "Budget start date pinned to $start (azd env TRIAGE_BUDGET_START_DATE)."
}
