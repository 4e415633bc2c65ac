# Checks shared by the azd hooks (dot-sourced, not run): the azd environment values a hook needs, and the Azure CLI.
# They stop the hook through the caller's $ErrorActionPreference = 'Stop'.

# Assert-AzdEnv NAME, ...: stop unless every named variable is set and non-empty.
function Assert-AzdEnv([string[]]$Names) {
    foreach ($name in $Names) {
        if (-not [Environment]::GetEnvironmentVariable($name)) {
            Write-Error "$name is not set; run 'azd provision' first."
        }
    }
}

# Assert-AzCli HOOK: stop unless az is on the PATH, saying how to rerun HOOK.
function Assert-AzCli([string]$Hook) {
    if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
        Write-Error "The Azure CLI (az) is needed for this step; install it, run 'az login', then 'azd hooks run $Hook'."
    }
}
