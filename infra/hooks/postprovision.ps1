# azd postprovision hook, two idempotent steps that need the provisioned resources (postprovision.sh is the POSIX twin):
#  1. create the dashboard's signing secret (TRIAGE_DASHBOARD_SECRET) once per environment;
#  2. create or update the monthly budget (budget.ps1, which says why it is not in main.bicep).
#
# 1. The Function App reads the secret through a Key Vault reference; nobody needs to know its value, so it is generated
# here (32 random bytes, hex) and stored in the app's vault only if the vault does not hold it yet: later `azd provision`
# runs keep it. It runs as the signed-in maintainer, who has Key Vault Secrets Officer on the vault (principalId),
# and never prints the value nor passes it on a command line. Rerun it alone with: azd hooks run postprovision
$ErrorActionPreference = 'Stop'

. "$PSScriptRoot/require.ps1"
Assert-AzdEnv 'AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'AZURE_KEY_VAULT_NAME',
              'AZURE_KEY_VAULT_DASHBOARD_SECRET'
Assert-AzCli postprovision

# Whether the secret exists. A role assignment made by this provision can take a few minutes to reach Key Vault, so a
# refused listing is retried; it is never taken for "absent" (that would replace a secret in use).
$count = $null
for ($try = 0; $try -lt 20; $try++) {
    $count = & $Az keyvault secret list --subscription $env:AZURE_SUBSCRIPTION_ID --vault-name $env:AZURE_KEY_VAULT_NAME `
        --query "length([?name=='$($env:AZURE_KEY_VAULT_DASHBOARD_SECRET)'])" -o tsv 2>$null
    if ($LASTEXITCODE -eq 0 -and $count) { break }
    $count = $null
    Start-Sleep -Seconds 15
}
if ($null -eq $count) {
    Write-Error ("Cannot list the secrets of $($env:AZURE_KEY_VAULT_NAME); you need Key Vault Secrets Officer on it " +
                 "(azd sets AZURE_PRINCIPAL_ID to the signed-in user), then 'azd hooks run postprovision'.")
}
if ($count -ne '0') {
    Write-Host "Dashboard secret $($env:AZURE_KEY_VAULT_DASHBOARD_SECRET) already in $($env:AZURE_KEY_VAULT_NAME); kept."
}
else {
    $file = New-TemporaryFile
    try {
        $bytes = [System.Security.Cryptography.RandomNumberGenerator]::GetBytes(32)
        [System.IO.File]::WriteAllText($file.FullName, [Convert]::ToHexString($bytes).ToLowerInvariant())
        & $Az keyvault secret set --subscription $env:AZURE_SUBSCRIPTION_ID --vault-name $env:AZURE_KEY_VAULT_NAME `
            --name $env:AZURE_KEY_VAULT_DASHBOARD_SECRET --file $file.FullName --encoding utf-8 --output none
        if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    }
    finally {
        Remove-Item -Force $file.FullName -ErrorAction SilentlyContinue
    }
    # The app may have started with the reference unresolved; a restart makes it read the new secret now.
    & $Az functionapp restart --subscription $env:AZURE_SUBSCRIPTION_ID -g $env:AZURE_RESOURCE_GROUP `
        -n $env:AZURE_FUNCTION_APP_NAME --output none
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    Write-Host "Dashboard secret $($env:AZURE_KEY_VAULT_DASHBOARD_SECRET) created in $($env:AZURE_KEY_VAULT_NAME) (value not shown)."
}

# 2. The budget (never fails the hook: a budget alerts, it runs nothing; the smoke test reports a missing one).
try {
    & "$PSScriptRoot/budget.ps1"
}
catch {
    Write-Warning "The budget step failed ($($_.Exception.Message)); run 'azd hooks run postprovision' again."
}
