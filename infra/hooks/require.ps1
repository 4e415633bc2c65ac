# Checks and helpers shared by the PowerShell azd hooks and the smoke test (dot-sourced, not run); require.sh is the
# POSIX twin. They stop the hook through the caller's $ErrorActionPreference = 'Stop'.
#
# Seams: every Azure CLI call goes through $Az and every azd call through $Azd (default az and azd; the environment
# variables AZ and AZD override them), as in require.sh.
$Az = if ($env:AZ) { $env:AZ } else { 'az' }
$Azd = if ($env:AZD) { $env:AZD } else { 'azd' }

# Assert-AzdEnv NAME, ...: stop unless every named variable is set and non-empty.
function Assert-AzdEnv([string[]]$Names) {
    foreach ($name in $Names) {
        if (-not [Environment]::GetEnvironmentVariable($name)) {
            Write-Error "$name is not set; run 'azd provision' first."
        }
    }
}

# Assert-AzCli HOOK: stop unless the Azure CLI is on the PATH, saying how to rerun HOOK.
function Assert-AzCli([string]$Hook) {
    if (-not (Get-Command $Az -ErrorAction SilentlyContinue)) {
        Write-Error "The Azure CLI (az) is needed for this step; install it, run 'az login', then 'azd hooks run $Hook'."
    }
}

# Invoke-Tool COMMAND ARGUMENTS: run a native command; returns Code (exit status), Out (stdout lines) and Err (stderr
# text) without letting its stderr stop the hook.
function Invoke-Tool([string]$Command, [string[]]$Arguments) {
    $previous = $ErrorActionPreference
    $ErrorActionPreference = 'Continue'
    $errPath = (New-TemporaryFile).FullName
    try {
        $out = & $Command @Arguments 2> $errPath
        $code = $LASTEXITCODE
        $err = Get-Content -Raw -Path $errPath
    }
    finally {
        $ErrorActionPreference = $previous
        Remove-Item -Force $errPath -ErrorAction SilentlyContinue
    }
    [pscustomobject]@{ Code = $code; Out = @($out | Where-Object { $null -ne $_ } | ForEach-Object { "$_" }); Err = "$err" }
}

# Get-Backoff ATTEMPT: seconds to wait after failed attempt ATTEMPT (1, 2, ...): 15, 30, 60, 120, then 240 at most.
function Get-Backoff([int]$Attempt) {
    [int]$delay = 15
    for ($n = 1; $n -lt $Attempt -and $delay -lt 240; $n++) { $delay *= 2 }
    return [Math]::Min($delay, 240)
}

# Hide-Keys TEXT: TEXT with the value of every `code=` query parameter (a Functions key) replaced.
function Hide-Keys([string]$Text) {
    return ($Text -replace 'code=[^&"'' ]*', 'code=***')
}
