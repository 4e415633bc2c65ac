# Azure ML quota for one node of the GPU cluster (dot-sourced, not run; needs require.ps1 first); aml_quota.sh is the
# POSIX twin, which says where the numbers come from. Used by the preprovision hook, which stops when there is none,
# and by the smoke test, which then skips its optional training job.

$AmlApiVersion = '2024-04-01'

# Get-AmlQuota SUBSCRIPTION LOCATION SIZE PRIORITY: State (ok: one node fits; none: it does not; unknown: a quota line is
# missing; error: Azure could not be asked) and Detail (a sentence saying so).
function Get-AmlQuota([string]$Subscription, [string]$Location, [string]$Size, [string]$Priority) {
    $base = "/subscriptions/$Subscription/providers/Microsoft.MachineLearningServices/locations/$Location"
    $info = Invoke-Tool $Az @('rest', '--method', 'get', '--url', "$base/vmSizes?api-version=$AmlApiVersion",
        '--query', "value[?name=='$Size'] | [0].[family, vCPUs, lowPriorityCapable]", '-o', 'tsv')
    if ($info.Code -ne 0) {
        return [pscustomobject]@{ State = 'error'; Detail = "could not read the Azure ML VM sizes of $Location; is the Microsoft.MachineLearningServices resource provider registered ('az provider register -n Microsoft.MachineLearningServices')?" }
    }
    $fields = @(($info.Out | Where-Object { $_ } | Select-Object -First 1) -split "`t")
    if ($fields.Count -lt 3 -or -not $fields[0]) {
        return [pscustomobject]@{ State = 'none'; Detail = "Azure ML does not offer $Size in $Location." }
    }
    $family = $fields[0]
    [int]$vcpus = $fields[1]
    if ($Priority -eq 'LowPriority' -and $fields[2].Trim().ToLower() -ne 'true') {
        return [pscustomobject]@{ State = 'none'; Detail = "$Size cannot run as a low-priority node in $Location." }
    }
    $usages = Invoke-Tool $Az @('rest', '--method', 'get', '--url', "$base/usages?api-version=$AmlApiVersion",
        '--query', 'value[].[type, name.value, currentValue, limit]', '-o', 'tsv')
    if ($usages.Code -ne 0) {
        return [pscustomobject]@{ State = 'error'; Detail = "could not read the Azure ML quota of $Location (az rest .../usages)." }
    }
    $kinds = if ($Priority -eq 'LowPriority') { @('lowpriority') } else { @('family', 'dedicated') }
    $squeezedFamily = ($family.ToLower() -replace '[^a-z0-9]', '')
    $state = 'ok'
    $detail = "Azure ML $Priority quota for $Size ($family, $vcpus vCPUs per node) in ${Location}:"
    foreach ($kind in $kinds) {
        # Free vCPUs (limit - current) of the subscription-level line of that kind; workspace-level lines have other types.
        $free = $null
        foreach ($line in $usages.Out) {
            $column = $line -split "`t"
            if ($column.Count -lt 4) { continue }
            $type = $column[0].ToLower()
            $name = ($column[1].ToLower() -replace '[^a-z0-9]', '')
            $match = ($kind -eq 'lowpriority' -and $type -match '/lowprioritycores/usages$') -or
                     ($kind -eq 'dedicated' -and $type -match '/dedicatedcores/usages$') -or
                     ($kind -eq 'family' -and $type -match '/vmfamily/usages$' -and $name.StartsWith($squeezedFamily) -and $name -match 'dedicated')
            if ($match) { $free = [int]$column[3] - [int]$column[2]; break }
        }
        if ($null -eq $free) {
            if ($state -eq 'ok') { $state = 'unknown' }
            $detail += " no $kind line in the usage list;"
        }
        elseif ($free -lt $vcpus) {
            $state = 'none'
            $detail += " $free $kind vCPUs free;"
        }
        else {
            $detail += " $free $kind vCPUs free;"
        }
    }
    $detail = $detail.TrimEnd(';') + '.'
    if ($state -eq 'none') { $detail = "Not enough $detail" }
    return [pscustomobject]@{ State = $state; Detail = $detail }
}
