# Azure ML quota for one node of the GPU cluster (sourced, not run; needs require.sh first). Used by the preprovision
# hook, which stops when there is none, and by the smoke test, which then skips its optional training job.
#
# Azure ML compute has its own quota, separate from the virtual machines' (learn.microsoft.com/azure/machine-learning/
# how-to-manage-quotas): dedicated vCPUs per VM family and in total per region, low-priority vCPUs in one regional pool
# for every family. This reads the location-level Azure ML REST operations "Virtual Machine Sizes - List" and
# "Usages - List" (what `az ml compute list-usage` shows for a workspace), so it works before the workspace exists.
# Without quota the cluster is still created, with 0 nodes, and its jobs wait for ever.

AML_API_VERSION=2024-04-01

# aml_quota SUBSCRIPTION LOCATION SIZE PRIORITY: sets QUOTA (ok: one node fits; none: it does not; unknown: a quota line
# is missing; error: Azure could not be asked) and QUOTA_DETAIL (a sentence saying so).
aml_quota() {
  _sub="$1"
  _loc="$2"
  _size="$3"
  _priority="$4"
  _base="/subscriptions/$_sub/providers/Microsoft.MachineLearningServices/locations/$_loc"
  if ! _info="$("$AZ" rest --method get --url "$_base/vmSizes?api-version=$AML_API_VERSION" \
                --query "value[?name=='$_size'] | [0].[family, vCPUs, lowPriorityCapable]" -o tsv 2>/dev/null)"; then
    QUOTA=error
    QUOTA_DETAIL="could not read the Azure ML VM sizes of $_loc; is the Microsoft.MachineLearningServices resource provider registered ('az provider register -n Microsoft.MachineLearningServices')?"
    return 0
  fi
  _family="$(printf '%s\n' "$_info" | awk -F '\t' 'NF >= 3 { print $1; exit }')"
  _vcpus="$(printf '%s\n' "$_info" | awk -F '\t' 'NF >= 3 { print $2; exit }')"
  _lowpri="$(printf '%s\n' "$_info" | awk -F '\t' 'NF >= 3 { print tolower($3); exit }')"
  if [ -z "$_family" ] || [ -z "$_vcpus" ]; then
    QUOTA=none
    QUOTA_DETAIL="Azure ML does not offer $_size in $_loc."
    return 0
  fi
  if [ "$_priority" = "LowPriority" ] && [ "$_lowpri" != "true" ]; then
    QUOTA=none
    QUOTA_DETAIL="$_size cannot run as a low-priority node in $_loc."
    return 0
  fi
  if ! _usages="$("$AZ" rest --method get --url "$_base/usages?api-version=$AML_API_VERSION" \
                  --query "value[].[type, name.value, currentValue, limit]" -o tsv 2>/dev/null)"; then
    QUOTA=error
    QUOTA_DETAIL="could not read the Azure ML quota of $_loc (az rest .../usages)."
    return 0
  fi
  if [ "$_priority" = "LowPriority" ]; then
    _kinds="lowpriority"
  else
    _kinds="family dedicated"
  fi
  QUOTA=ok
  QUOTA_DETAIL="Azure ML $_priority quota for $_size ($_family, $_vcpus vCPUs per node) in $_loc:"
  for _kind in $_kinds; do
    # Free vCPUs (limit - current) of the subscription-level line of that kind; workspace-level lines have other types.
    _free="$(printf '%s\n' "$_usages" | awk -F '\t' -v kind="$_kind" -v family="$_family" '
      function squeeze(s) { s = tolower(s); gsub(/[^a-z0-9]/, "", s); return s }
      {
        type = tolower($1); name = squeeze($2)
        if (kind == "lowpriority" && type ~ /\/lowprioritycores\/usages$/) { print $4 - $3; exit }
        if (kind == "dedicated" && type ~ /\/dedicatedcores\/usages$/) { print $4 - $3; exit }
        if (kind == "family" && type ~ /\/vmfamily\/usages$/ && index(name, squeeze(family)) == 1 && name ~ /dedicated/) {
          print $4 - $3; exit
        }
      }')"
    if [ -z "$_free" ]; then
      [ "$QUOTA" = "ok" ] && QUOTA=unknown
      QUOTA_DETAIL="$QUOTA_DETAIL no $_kind line in the usage list;"
    elif [ "$_free" -lt "$_vcpus" ]; then
      QUOTA=none
      QUOTA_DETAIL="$QUOTA_DETAIL $_free $_kind vCPUs free;"
    else
      QUOTA_DETAIL="$QUOTA_DETAIL $_free $_kind vCPUs free;"
    fi
  done
  QUOTA_DETAIL="${QUOTA_DETAIL%;}."
  [ "$QUOTA" = "none" ] && QUOTA_DETAIL="Not enough $QUOTA_DETAIL"
  return 0
}
